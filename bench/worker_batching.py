"""Worker batching efficiency: 2,000 jobs on a pipeline that sleeps 50 ms per batch of 8.

The ideal is 8 / 0.05 s = 160 jobs/s; the ratio says how much of the time the pipeline was busy.
Throughput is measured from the jobs' own timestamps (first start to last finish), so worker start-up
and model load are excluded. Prints a table and writes bench/results/worker_batching.json.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
JOBS = int(os.environ.get("BENCH_JOBS", "2000"))
BATCH = 8
SLEEP = 0.05


def main() -> None:
    from modalkit.backends.factory import open_backends
    from modalkit.service import JobService, Submission
    from modalkit.settings import load_settings
    from modalkit.status import TERMINAL

    work = Path(tempfile.mkdtemp(prefix="modalkit-bench-"))
    config = work / "modalkit.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "app_settings": {
                    "deployment_config": {"local": {"data_dir": str(work / "data")}},
                    "batch_config": {"max_batch_size": BATCH, "wait_ms": 0},
                }
            }
        )
    )
    os.environ["MODALKIT_CONFIG"] = str(config)
    deployment = load_settings().app_settings.deployment_config
    backends = open_backends(deployment)
    service = JobService(backends, deployment)
    items = [Submission(payload=json.dumps({"data": {"n": i}}), model_name="sleep50") for i in range(JOBS)]
    ids = [job.job_id for job, _ in service.submit_batch("bench", items)]

    worker = subprocess.Popen(
        [sys.executable, "-m", "modalkit", "worker", str(HERE / "services" / "sleep50.py")]
    )
    try:
        while True:
            jobs = [backends.store.load(i) for i in ids]
            if all(j is not None and j.status in TERMINAL for j in jobs):
                break
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)

    finished = [j for j in jobs if j is not None]
    completed = sum(1 for j in finished if j.status == "completed")
    start = min(j.started_at or 0 for j in finished)
    end = max(j.finished_at or 0 for j in finished)
    rate = len(finished) / (end - start)
    ideal = BATCH / SLEEP
    result = {
        "jobs": JOBS,
        "completed": completed,
        "max_batch_size": BATCH,
        "seconds": round(end - start, 3),
        "jobs_per_s": round(rate, 1),
        "ideal_jobs_per_s": ideal,
        "ratio": round(rate / ideal, 3),
        "target_ratio": 0.95,
    }
    print(
        f"{'jobs':>6} {'completed':>9} {'seconds':>8} {'jobs/s':>8} {'ideal':>7} {'ratio':>6} {'target':>6}"
    )
    print(
        f"{JOBS:>6} {completed:>9} {result['seconds']:>8} {result['jobs_per_s']:>8} {ideal:>7.0f}"
        f" {result['ratio']:>6} {'>=0.95':>6}"
    )
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "worker_batching.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
