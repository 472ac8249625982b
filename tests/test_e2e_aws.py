"""AWS mode end to end on moto_server: bootstrap, then the API and the worker as separate processes
talking to DynamoDB, SQS and S3 over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from tests.helpers import (
    SERVICES,
    Proc,
    Server,
    free_port,
    process_env,
    start_worker,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.slow

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def moto_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "moto.log").open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/moto-api/").status_code < 500
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, 30, "moto_server")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_seed_flow_on_aws_adapters(tmp_path: Path, moto_url: str) -> None:
    config = write_config(
        tmp_path,
        {
            "backend": "aws",
            "inline_limit": 1024,
            "aws": {
                "endpoint_url": moto_url,
                "table": "e2e-jobs",
                "queue": "e2e-jobs",
                "dead_letter_queue": "e2e-jobs-dlq",
                "bucket": "e2e-results",
            },
        },
    )
    env = process_env(config, **AWS_ENV)
    boot = subprocess.run(
        [sys.executable, "-m", "modalkit", "aws", "bootstrap"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert boot.returncode == 0, boot.stderr
    assert "table e2e-jobs: created" in boot.stdout
    assert "queue e2e-jobs: created" in boot.stdout
    assert "bucket e2e-results: created" in boot.stdout

    sqs = boto3.client("sqs", endpoint_url=moto_url, region_name="us-east-1", **_creds())
    notify_url = sqs.create_queue(QueueName="e2e-done")["QueueUrl"]

    server = Server(SERVICES / "echo.py", config, workers=0, env=AWS_ENV).start()
    worker: Proc = start_worker(SERVICES / "echo.py", config, **AWS_ENV)
    try:
        with server.client() as client:
            submitted = client.post("/async/predict", json={"data": {"text": "hello world"}})
            assert submitted.status_code == 202
            job_id = submitted.json()["job_id"]
            assert client.get(f"/async/status/{job_id}").json()["status"] in (
                "pending",
                "processing",
                "completed",
            )
            result = client.get(f"/async/result/{job_id}", params={"wait": 20})
            assert result.status_code == 200
            assert result.json() == {"result": {"result": "HELLO WORLD"}, "status": "completed"}

            big_text = "z" * 3000
            big_id = client.post(
                "/async/predict", json={"data": {"text": big_text}, "success_queue": "e2e-done"}
            ).json()["job_id"]
            redirect = client.get(f"/async/result/{big_id}", params={"wait": 20})
            assert redirect.status_code == 307
            location = redirect.headers["location"]
            assert location.startswith(moto_url)
            downloaded = httpx.get(location)  # a plain HTTP GET, no credentials
            assert downloaded.status_code == 200
            assert downloaded.json()["result"]["result"] == big_text.upper()

            target = client.post("/async/upload").json()
            assert target["url"].startswith(moto_url)
            put = httpx.put(target["url"], content=json.dumps({"data": {"text": "uploaded"}}).encode())
            assert put.status_code == 200
            up_id = client.post("/async/predict_uploaded", json={"upload_id": target["upload_id"]}).json()[
                "job_id"
            ]
            uploaded = client.get(f"/async/result/{up_id}", params={"wait": 20})
            assert uploaded.json() == {"result": {"result": "UPLOADED"}, "status": "completed"}

        messages = sqs.receive_message(QueueUrl=notify_url, WaitTimeSeconds=5).get("Messages", [])
        assert len(messages) == 1
        note = json.loads(messages[0]["Body"])
        assert note["job_id"] == big_id and note["status"] == "completed"
    finally:
        assert worker.stop() == 0, worker.output()
        server.stop()


def _creds() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
