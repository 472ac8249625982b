"""The large fuzzing run: 10,000 Schemathesis cases against a running `modalkit serve`, zero 5xx and
every response conforming to the schema (the same check as tests/test_fuzz.py, 30x the cases)."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = 10_000


def main() -> None:
    sys.path.insert(0, str(ROOT))
    import schemathesis

    from tests.helpers import SERVICES, Server, write_config
    from tests.test_fuzz import fuzz

    config = write_config(Path(tempfile.mkdtemp(prefix="modalkit-fuzz-")), {"sync_timeout": 0.2})
    server = Server(SERVICES / "echo.py", config, workers=1).start()
    try:
        operations = sum(
            1 for _ in schemathesis.openapi.from_url(f"{server.url}/openapi.json").get_all_operations()
        )
        started = time.monotonic()
        ran = 0
        while ran < CASES:  # small operations (e.g. /health) run out of distinct cases early
            ran += fuzz(server.url, -(-(CASES - ran) // operations))
        print(f"{ran} cases over {operations} operations in {time.monotonic() - started:.0f} s: no failures")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
