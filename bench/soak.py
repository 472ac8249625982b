"""Soak: 20,000 jobs through two workers while one is SIGKILLed and restarted every few seconds.

Prints jobs submitted, completed, failed, lost (must be 0) and completed twice (must be 0), the API's
and a worker's RSS after 1,000 and after 20,000 jobs (growth at most 10%), and the SQLite file's size
as jobs expire (short async_result_ttl) and the reaper purges them. Completions are observed by
SQLite triggers on the real job table, so purged jobs still count. Writes bench/results/soak.json.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

HERE = Path(__file__).resolve().parent
JOBS = int(os.environ.get("SOAK_JOBS", "20000"))
BATCH = 100
# Paced so the run outlives the TTL several times: the file must stop growing once purging starts.
RATE = float(os.environ.get("SOAK_RATE", "200"))
KILL_EVERY = (2.0, 4.0)
TTL = 20


def rss_kb(pid: int) -> int:
    """Resident memory of a process and its children (the worker's pipeline child counts)."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "modalkit", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="modalkit-soak-"))
    data = work / "data"
    config = work / "modalkit.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "app_settings": {
                    "deployment_config": {
                        "local": {"data_dir": str(data)},
                        "async_result_ttl": TTL,
                        "visibility_timeout": 4,
                        "reaper_interval": 2,
                        "retries": 20,
                    },
                    "batch_config": {"max_batch_size": 32, "wait_ms": 0},
                    "auth_config": {"api_keys": ["soak-key"]},
                }
            }
        )
    )
    env = {**os.environ, "MODALKIT_CONFIG": str(config)}
    service = str(HERE / "services" / "noop.py")
    port = 18000 + random.randrange(1000)
    api = start(["serve", service, "--workers", "0", "--port", str(port)], env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    # Watch the real table: every move to completed/failed is logged, even for jobs purged later.
    db = sqlite3.connect(data / "jobs.sqlite3", isolation_level=None, timeout=30)
    db.executescript(
        """
        CREATE TABLE IF NOT EXISTS soak_outcomes (job_id TEXT, status TEXT);
        CREATE TRIGGER IF NOT EXISTS soak_done AFTER UPDATE OF status ON jobs
        WHEN NEW.status IN ('completed', 'failed') AND OLD.status != NEW.status
        BEGIN INSERT INTO soak_outcomes VALUES (NEW.job_id, NEW.status); END;
        """
    )

    steady = start(["worker", service], env)
    victim = start(["worker", service], env)
    kills = 0
    next_kill = time.monotonic() + random.uniform(*KILL_EVERY)
    submitted: list[str] = []
    samples: dict[str, dict[str, int]] = {}
    sizes: list[tuple[int, int]] = []

    def finished() -> int:
        return int(db.execute("SELECT COUNT(DISTINCT job_id) FROM soak_outcomes").fetchone()[0])

    def sample(label: str) -> None:
        samples[label] = {"api_rss_kb": rss_kb(api.pid), "worker_rss_kb": rss_kb(steady.pid)}

    with httpx.Client(base_url=url, headers={"x-api-key": "soak-key"}, timeout=60) as client:
        started = time.monotonic()
        while True:
            if len(submitted) < JOBS and len(submitted) <= RATE * (time.monotonic() - started):
                batch = [{"data": {"n": len(submitted) + i}} for i in range(BATCH)]
                response = client.post("/async/predict_batch", json=batch)
                response.raise_for_status()
                submitted += [j["job_id"] for j in response.json()["jobs"]]
            else:
                time.sleep(0.05)
            done = finished()
            if "after 1000" not in samples and done >= 1000:
                sample("after 1000")
            if not sizes or done - sizes[-1][0] >= 2000:
                wal = data / "jobs.sqlite3-wal"
                sizes.append(
                    (
                        done,
                        (data / "jobs.sqlite3").stat().st_size + (wal.stat().st_size if wal.exists() else 0),
                    )
                )
            if time.monotonic() >= next_kill and done < JOBS:
                os.killpg(victim.pid, signal.SIGKILL)
                victim.wait()
                kills += 1
                victim = start(["worker", service], env)
                next_kill = time.monotonic() + random.uniform(*KILL_EVERY)
            if done >= JOBS or time.monotonic() - started > 1800:
                break
        elapsed = time.monotonic() - started
    sample(f"after {JOBS}")
    for proc in (steady, victim, api):
        proc.send_signal(signal.SIGTERM)
    for proc in (steady, victim, api):
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)

    rows = db.execute("SELECT job_id, status FROM soak_outcomes").fetchall()
    outcomes: dict[str, list[str]] = {}
    for job_id, status in rows:
        outcomes.setdefault(job_id, []).append(status)
    completed = sum(1 for s in outcomes.values() if "completed" in s)
    failed = sum(1 for s in outcomes.values() if "completed" not in s)
    twice = sum(1 for s in outcomes.values() if len(s) > 1)
    lost = sum(1 for job_id in submitted if job_id not in outcomes)
    first, last = samples["after 1000"], samples[f"after {JOBS}"]
    growth = {k: round(100 * (last[k] - first[k]) / first[k], 1) for k in first}
    result = {
        "submitted": len(submitted),
        "completed": completed,
        "failed": failed,
        "lost": lost,
        "completed_twice": twice,
        "worker_kills": kills,
        "seconds": round(elapsed, 1),
        "rss_kb": samples,
        "rss_growth_percent": growth,
        "db_bytes_by_finished_jobs": sizes,
    }
    print(
        f"submitted {len(submitted)}  completed {completed}  failed {failed}  lost {lost} (must be 0)"
        f"  completed twice {twice} (must be 0)  worker SIGKILLs {kills}  in {elapsed:.0f} s"
    )
    for label, values in samples.items():
        api_mib, worker_mib = values["api_rss_kb"] / 1024, values["worker_rss_kb"] / 1024
        print(f"RSS {label:>12}: API {api_mib:.1f} MiB, worker {worker_mib:.1f} MiB")
    api_growth, worker_growth = growth["api_rss_kb"], growth["worker_rss_kb"]
    print(f"RSS growth 1,000 -> {JOBS:,}: API {api_growth}%, worker {worker_growth}% (target <= 10%)")
    print("SQLite size (MiB) by jobs finished:", ", ".join(f"{n}: {b / 2**20:.1f}" for n, b in sizes))
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "soak.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
