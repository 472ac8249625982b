"""The API Lambda's asset size and cold-start cost.

Size: the real local bundler (infra/bundling.py) builds the asset into a temp dir: bytes on disk and
zipped (what Lambda stores). Import: fresh processes import `modalkit.lambda_handler` and build the
demo service's app (what a cold start does before the first event), on this machine's Python with
.pyc caches warm. Targets: asset at most 15 MB, import at most 300 ms. Writes
bench/results/lambda_init.json.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 7
PROBE = """
import time
t0 = time.perf_counter()
import modalkit.lambda_handler as h
t1 = time.perf_counter()
h._handler = h._build()
t2 = time.perf_counter()
print((t1 - t0) * 1000, (t2 - t0) * 1000)
"""


def asset_size() -> tuple[int, int]:
    sys.path.insert(0, str(ROOT))
    from infra.bundling import LocalPipBundle

    work = Path(tempfile.mkdtemp(prefix="modalkit-asset-"))
    out = work / "asset"
    out.mkdir()
    LocalPipBundle(
        project_root=ROOT,
        service_file=ROOT / "examples/async_uppercase/app.py",
        config_files=(ROOT / "modalkit.yaml",),
    ).try_bundle(str(out))
    unzipped = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    zipped = Path(shutil.make_archive(str(work / "asset"), "zip", out)).stat().st_size
    shutil.rmtree(work)
    return unzipped, zipped


def import_times() -> tuple[float, float]:
    env = {
        **os.environ,
        "MODALKIT_SERVICE_FILE": str(ROOT / "examples/async_uppercase/app.py"),
        "MODALKIT_CONFIG": str(ROOT / "modalkit.yaml"),
        "MODALKIT_APP_SETTINGS__DEPLOYMENT_CONFIG__BACKEND": "aws",
    }
    module, ready = [], []
    for _ in range(RUNS + 1):
        run = subprocess.run(
            [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
        )
        a, b = (float(x) for x in run.stdout.split())
        module.append(a)
        ready.append(b)
    # The first run warms the .pyc caches, as a deployed bundle with compiled files would be.
    return statistics.median(module[1:]), statistics.median(ready[1:])


def main() -> None:
    unzipped, zipped = asset_size()
    module_ms, ready_ms = import_times()
    result = {
        "asset_bytes": unzipped,
        "asset_zipped_bytes": zipped,
        "asset_target_bytes": 15_000_000,
        "handler_module_import_ms": round(module_ms, 1),
        "handler_ready_ms": round(ready_ms, 1),
        "import_target_ms": 300,
    }
    print(f"{'what':<36} {'measured':>12} {'target':>10}")
    print(f"{'asset on disk (MB)':<36} {unzipped / 1e6:>12.2f} {'<= 15':>10}")
    print(f"{'asset zipped (MB)':<36} {zipped / 1e6:>12.2f} {'':>10}")
    print(f"{'import modalkit.lambda_handler (ms)':<36} {module_ms:>12.1f} {'':>10}")
    print(f"{'import + app built, cold (ms)':<36} {ready_ms:>12.1f} {'<= 300':>10}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "lambda_init.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
