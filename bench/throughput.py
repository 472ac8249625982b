"""Local-mode throughput and latency, against real `modalkit serve` processes on loopback.

Workloads (16 concurrent clients, the seed's pattern: submit, wait, fetch):
  W1 burst   2,000 no-op jobs submitted at once, then awaited (result long-poll) to completion
  W1 closed  16 jobs in flight: each client submits, awaits the result, and goes again
  W2         200 jobs on a pipeline that sleeps 50 ms per batch, max_batch_size 16
  floor      a bare FastAPI endpoint returning {} under the same client (requests/s)
Each runs three times; the table shows medians. Writes bench/results/throughput.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import yaml

HERE = Path(__file__).resolve().parent
CLIENTS = 16
REPS = int(os.environ.get("BENCH_REPS", "3"))
BURST_JOBS = int(os.environ.get("BENCH_BURST_JOBS", "2000"))
CLOSED_JOBS = int(os.environ.get("BENCH_CLOSED_JOBS", "800"))
W2_JOBS = 200
KEY = {"x-api-key": "bench-key"}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """A server process on a free port, up when /health (or /) answers."""

    def __init__(self, args: list[str], env: dict[str, str], health: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [*args, "--port", str(self.port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if (
                    httpx.request(health.split()[0], self.url + health.split()[1], timeout=1).status_code
                    < 500
                ):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"server on {self.url} did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def serve(service: str, batch: int, workers: int = 1) -> Served:
    work = Path(tempfile.mkdtemp(prefix="modalkit-throughput-"))
    config = work / "modalkit.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "app_settings": {
                    "deployment_config": {"local": {"data_dir": str(work / "data")}},
                    "batch_config": {"max_batch_size": batch, "wait_ms": 0},
                    "auth_config": {"api_keys": ["bench-key"]},
                }
            }
        )
    )
    env = {**os.environ, "MODALKIT_CONFIG": str(config)}
    args = [
        sys.executable,
        "-m",
        "modalkit",
        "serve",
        str(HERE / "services" / service),
        "--workers",
        str(workers),
    ]
    served = Served(args, env, "GET /health")
    # One job end to end first, so the worker's start-up and model load are not measured.
    job = httpx.post(f"{served.url}/async/predict", json={"data": {"n": 0}}, headers=KEY).json()["job_id"]
    warm = httpx.get(f"{served.url}/async/result/{job}", params={"wait": 25}, headers=KEY, timeout=30)
    warm.raise_for_status()
    return served


@dataclass
class Run:
    jobs: int = 0
    seconds: float = 0.0
    submit_seconds: float = 0.0
    requests: int = 0
    submit: list[float] = field(default_factory=list)
    completion: list[float] = field(default_factory=list)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def session(url: str, headers: dict[str, str] | None = None) -> aiohttp.ClientSession:
    # aiohttp: the lighter client leaves more of the two cores to the server under test.
    return aiohttp.ClientSession(
        base_url=url,
        headers=headers,
        connector=aiohttp.TCPConnector(limit=CLIENTS),
        timeout=aiohttp.ClientTimeout(60),
    )


async def post(client: aiohttp.ClientSession, path: str, body: Any) -> Any:
    async with client.post(path, json=body) as response:
        response.raise_for_status()
        return await response.json()


async def fetch(client: aiohttp.ClientSession, job_id: str, run: Run) -> None:
    while True:
        run.requests += 1
        async with client.get(f"/async/result/{job_id}", params={"wait": "10"}) as response:
            await response.read()
            if response.status == 200:
                return


async def burst(url: str, jobs: int) -> Run:
    run = Run(jobs=jobs)
    async with session(url, KEY) as client:
        ids: list[str] = []
        started = time.perf_counter()

        async def submitter(count: int) -> None:
            for n in range(count):
                t = time.perf_counter()
                body = await post(client, "/async/predict", {"data": {"n": n}})
                run.submit.append(time.perf_counter() - t)
                run.requests += 1
                ids.append(body["job_id"])

        await asyncio.gather(*(submitter(jobs // CLIENTS) for _ in range(CLIENTS)))
        run.submit_seconds = time.perf_counter() - started
        queue: asyncio.Queue[str] = asyncio.Queue()
        for job_id in ids:
            queue.put_nowait(job_id)

        async def poller() -> None:
            while not queue.empty():
                await fetch(client, queue.get_nowait(), run)

        await asyncio.gather(*(poller() for _ in range(CLIENTS)))
        run.seconds = time.perf_counter() - started
    return run


async def closed(url: str, jobs: int) -> Run:
    run = Run(jobs=jobs)
    async with session(url, KEY) as client:
        started = time.perf_counter()

        async def loop(count: int) -> None:
            for n in range(count):
                t = time.perf_counter()
                body = await post(client, "/async/predict", {"data": {"n": n}})
                run.submit.append(time.perf_counter() - t)
                run.requests += 1
                await fetch(client, body["job_id"], run)
                run.completion.append(time.perf_counter() - t)

        await asyncio.gather(*(loop(jobs // CLIENTS) for _ in range(CLIENTS)))
        run.seconds = time.perf_counter() - started
    return run


async def floor(url: str, requests: int) -> Run:
    run = Run(jobs=requests)
    async with session(url) as client:
        started = time.perf_counter()

        async def loop(count: int) -> None:
            for _ in range(count):
                t = time.perf_counter()
                await post(client, "/", {"data": {"n": 1}})
                run.submit.append(time.perf_counter() - t)
                run.requests += 1

        await asyncio.gather(*(loop(requests // CLIENTS) for _ in range(CLIENTS)))
        run.seconds = time.perf_counter() - started
    return run


def repeat(make: Callable[[], Awaitable[Run]]) -> list[Run]:
    return [asyncio.run(make()) for _ in range(REPS)]  # type: ignore[arg-type]


def summary(runs: list[Run]) -> dict[str, Any]:
    med = statistics.median
    return {
        "jobs_per_s": round(med(r.jobs / r.seconds for r in runs), 1),
        "submits_per_s": round(med(r.jobs / (r.submit_seconds or r.seconds) for r in runs), 1),
        "submit_p50_ms": round(med(pct(r.submit, 0.5) for r in runs), 2),
        "submit_p99_ms": round(med(pct(r.submit, 0.99) for r in runs), 2),
        "completion_p50_ms": round(med(pct(r.completion, 0.5) for r in runs), 2)
        if runs[0].completion
        else None,
        "completion_p99_ms": round(med(pct(r.completion, 0.99) for r in runs), 2)
        if runs[0].completion
        else None,
        "requests_per_job": round(med(r.requests / r.jobs for r in runs), 2),
    }


def main() -> None:
    results: dict[str, dict[str, Any]] = {}
    server = serve("noop.py", batch=32)
    try:
        results["W1 burst"] = summary(repeat(lambda: burst(server.url, BURST_JOBS)))
        results["W1 closed"] = summary(repeat(lambda: closed(server.url, CLOSED_JOBS)))
    finally:
        server.stop()
    server = serve("sleep50.py", batch=16)
    try:
        results["W2 50ms/batch"] = summary(repeat(lambda: burst(server.url, W2_JOBS)))
    finally:
        server.stop()
    floor_server = Served(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "floor_app:app",
            "--app-dir",
            str(HERE),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        dict(os.environ),
        "POST /",
    )
    try:
        results["floor {}"] = summary(repeat(lambda: floor(floor_server.url, BURST_JOBS)))
    finally:
        floor_server.stop()
    floor_rps = results["floor {}"]["jobs_per_s"]
    results["W1 burst"]["submits_per_s_vs_floor"] = round(results["W1 burst"]["submits_per_s"] / floor_rps, 2)
    targets = {
        "W1 burst": ">=600 jobs/s, submit p99 <=50 ms",
        "W1 closed": "completion p50 <=25 ms, p99 <=60 ms",
        "W2 50ms/batch": ">=150 jobs/s",
        "floor {}": "reference",
    }
    columns = ("jobs/s", "sub p50", "sub p99", "done p50", "done p99", "req/job")
    print(f"{'workload':<15}" + "".join(f"{c:>10}" for c in columns) + "  target")
    for name, row in results.items():
        cells = (
            row["jobs_per_s"],
            row["submit_p50_ms"],
            row["submit_p99_ms"],
            row["completion_p50_ms"] or "-",
            row["completion_p99_ms"] or "-",
            row["requests_per_job"],
        )
        print(f"{name:<15}" + "".join(f"{c:>10}" for c in cells) + f"  {targets[name]}")
    w1 = results["W1 burst"]
    ratio = w1["submits_per_s_vs_floor"]
    print(f"W1 burst: {w1['submits_per_s']} submits/s = {ratio} x the floor's {floor_rps} requests/s")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "throughput.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
