"""Local mode end to end: `modalkit serve` as a real process, the seed's code, a SIGKILL."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.helpers import ROOT, SEED_APP, SERVICES, Server, wait_until, write_config

SEED_DOC = ROOT.parent / "shared" / "seed" / "async-processing.md"
USAGE = Path(__file__).parent / "fixtures" / "seed_usage.py"


def seed_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", SEED_DOC.read_text(), flags=re.S)


@pytest.mark.skipif(not SEED_DOC.exists(), reason="shared/seed is not beside this checkout")
def test_example_is_the_seed_with_one_import_swapped() -> None:
    blocks = seed_blocks()
    service_code = "".join(blocks[:3]).replace(
        "import modal\n", "from modalkit import modal_compat as modal\n"
    )
    example = SEED_APP.read_text()
    assert ast.dump(ast.parse(example)) == ast.dump(ast.parse(service_code))
    usage = "".join(blocks[3:6])
    assert ast.dump(ast.parse(USAGE.read_text())) == ast.dump(ast.parse(usage))


@pytest.mark.slow
def test_seed_usage_runs_verbatim_against_local_mode(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        {"result_wait": 10},
        app_settings={"auth_config": {"api_keys": ["your-api-key"]}},
    )
    server = Server(SEED_APP, config).start()
    try:
        code = USAGE.read_text().replace("http://localhost:8000", server.url)
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        lines = run.stdout.strip().splitlines()
        status = ast.literal_eval(lines[0])
        assert status["status"] in ("pending", "processing")
        assert lines[-1] == str({"result": {"result": "HELLO WORLD"}, "status": "completed"})
    finally:
        assert server.stop() == 0


@pytest.mark.slow
def test_accepted_job_survives_a_sigkill_of_the_server(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    api_only = Server(SERVICES / "echo.py", config, workers=0).start()
    with api_only.client() as client:
        accepted = client.post("/async/predict", json={"data": {"text": "survive"}})
    assert accepted.status_code == 202
    job_id = accepted.json()["job_id"]
    assert api_only.proc is not None
    api_only.proc.kill()

    restarted = Server(SERVICES / "echo.py", config, workers=1).start()
    try:
        with restarted.client() as client:
            result = client.get(f"/async/result/{job_id}", params={"wait": 20})
        assert result.status_code == 200
        assert result.json() == {"result": {"result": "SURVIVE"}, "status": "completed"}
    finally:
        restarted.stop()


@pytest.mark.slow
def test_broken_config_exits_with_the_file_and_key(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"retries": "many"})
    run = subprocess.run(
        [sys.executable, "-m", "modalkit", "serve", str(SERVICES / "echo.py"), "--port", "1"],
        env={"MODALKIT_CONFIG": str(config), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert run.returncode == 2
    assert str(config) in run.stderr
    assert "app_settings.deployment_config.retries" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.slow
def test_workers_apart_from_the_api_share_the_local_store(tmp_path: Path) -> None:
    from tests.helpers import start_worker

    config = write_config(tmp_path)
    server = Server(SERVICES / "echo.py", config, workers=0).start()
    workers = [start_worker(SERVICES / "echo.py", config, f"w{i}") for i in range(2)]
    try:
        with server.client() as client:
            ids = [
                client.post("/async/predict", json={"data": {"text": f"t{i}"}}).json()["job_id"]
                for i in range(20)
            ]
            results = [client.get(f"/async/result/{i}", params={"wait": 20}).json() for i in ids]
        assert [r["result"]["result"] for r in results] == [f"T{i}" for i in range(20)]
    finally:
        for w in workers:
            assert w.stop() == 0
        server.stop()


def test_health_is_open_and_routes_need_a_key_over_real_http(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    server = Server(SERVICES / "echo.py", config, workers=0).start()
    try:
        wait_until(lambda: httpx.get(f"{server.url}/health").json() == {"status": "ok"}, 5, "health")
        response = httpx.get(f"{server.url}/async/status/x")
        assert response.status_code == 401
    finally:
        server.stop()
