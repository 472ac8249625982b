"""The SDK and the CLI against a real `modalkit serve` process; SigV4 checked by recomputing it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modalkit.client import (
    AsyncClient,
    Client,
    Conflict,
    JobCancelled,
    JobFailed,
    JobNotFound,
    Unauthorized,
    WaitTimeout,
)
from tests.helpers import API_KEY, SERVICES, Server, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("client")
    config = write_config(directory, {"inline_limit": 1024, "cancel_grace": 0.5})
    running = Server(SERVICES / "echo.py", config, workers=1).start()
    yield running
    running.stop()


@pytest.fixture
def client(server: Server) -> Iterator[Client]:
    with Client(server.url, api_key=API_KEY, aws=False) as made:
        yield made


def job(text: str, sleep: float = 0) -> dict[str, object]:
    return {"data": {"text": text, "sleep": sleep}}


def test_run_submit_status_result(client: Client) -> None:
    assert client.run(job("hi"), timeout=30) == {"result": {"result": "HI"}, "status": "completed"}
    job_id = client.submit(job("there"))
    assert client.status(job_id)["job_id"] == job_id
    assert client.wait(job_id, timeout=30)["result"]["result"] == "THERE"
    assert client.result(job_id)["result"]["result"] == "THERE"


def test_batch_and_sync(client: Client) -> None:
    ids = client.submit_batch([job("a"), job("b")])
    assert [client.wait(i, timeout=30)["result"]["result"] for i in ids] == ["A", "B"]
    assert client.predict_sync(job("now"))["result"]["result"] == "NOW"


def test_pydantic_models_in_and_out(client: Client) -> None:
    sys.path.insert(0, str(SERVICES))
    from _base import JobInput, JobOutput, Text

    out = client.run(JobInput(data=Text(text="typed")), timeout=30, output_model=JobOutput)
    assert isinstance(out, JobOutput) and out.result.result == "TYPED"


def test_idempotent_resubmission(client: Client) -> None:
    first = client.submit(job("once"), idempotency_key="k-1")
    assert client.submit(job("once"), idempotency_key="k-1") == first
    with pytest.raises(Conflict) as conflict:
        client.submit(job("other"), idempotency_key="k-1")
    assert "Idempotency-Key" in conflict.value.message


def test_large_result_follows_the_presigned_url(client: Client) -> None:
    text = "q" * 3000
    assert client.run(job(text), timeout=30)["result"]["result"] == text.upper()


def test_wait_on_cancel_failure_and_timeout(client: Client, server: Server) -> None:
    slow = client.submit(job("slow", sleep=30))
    with pytest.raises(WaitTimeout):
        client.wait(slow, timeout=0.5)
    client.cancel(slow)
    with pytest.raises(JobCancelled) as cancelled:
        client.wait(slow, timeout=10)
    assert cancelled.value.job_id == slow

    # An uploaded input that fails the model's validation fails in the worker.
    with httpx.Client(base_url=server.url, headers={"x-api-key": API_KEY}) as raw:
        target = raw.post("/async/upload").json()
        raw.put(target["url"], content=b'{"data": {}}')
        bad = raw.post("/async/predict_uploaded", json={"upload_id": target["upload_id"]}).json()["job_id"]
    with pytest.raises(JobFailed) as failed:
        client.wait(bad, timeout=30)
    assert "invalid input: data.text: Field required" in failed.value.message
    assert failed.value.job_id == bad


def test_errors_carry_the_servers_message(client: Client, server: Server) -> None:
    with pytest.raises(JobNotFound) as missing:
        client.status("nope")
    assert missing.value.status == 404 and missing.value.job_id == "nope"
    with Client(server.url, api_key="wrong") as wrong, pytest.raises(Unauthorized):
        wrong.submit(job("x"))


class Flaky(httpx.BaseTransport):
    """Answers 503 a few times, then passes requests to the real server."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.seen = 0
        self.real = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen += 1
        if self.failures:
            self.failures -= 1
            return httpx.Response(503, json={"detail": "busy", "code": "backend_unavailable"})
        return self.real.handle_request(request)

    def close(self) -> None:
        self.real.close()


def test_transient_errors_are_retried(server: Server) -> None:
    flaky = Flaky(failures=2)
    with Client(server.url, api_key=API_KEY, transport=flaky) as client:
        assert client.run(job("retry"), timeout=30)["result"]["result"] == "RETRY"
    assert flaky.seen >= 4
    with (
        Client(server.url, api_key=API_KEY, transport=Flaky(failures=10), retries=1) as client,
        pytest.raises(Exception) as gave_up,
    ):
        client.submit(job("x"))
    assert "503" in str(gave_up.value)


def test_async_client(server: Server) -> None:
    async def go() -> object:
        async with AsyncClient(server.url, api_key=API_KEY) as client:
            job_id = await client.submit(job("async"))
            return await client.wait(job_id, timeout=30)

    assert asyncio.run(go()) == {"result": {"result": "ASYNC"}, "status": "completed"}


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modalkit", *args], input=stdin, capture_output=True, text=True, timeout=60
    )


def test_cli_run_submit_wait_and_errors(server: Server, tmp_path: Path) -> None:
    common = ["--url", server.url, "--api-key", API_KEY, "--json"]
    ran = cli("run", json.dumps(job("cli")), *common)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {"result": {"result": "CLI"}, "status": "completed"}

    payload = tmp_path / "in.json"
    payload.write_text(json.dumps(job("from file")))
    submitted = cli("submit", f"@{payload}", *common)
    job_id = json.loads(submitted.stdout)["job_id"]
    waited = cli("wait", job_id, *common)
    assert json.loads(waited.stdout)["result"]["result"] == "FROM FILE"
    from_stdin = cli("run", "-", *common, stdin=json.dumps(job("piped")))
    assert json.loads(from_stdin.stdout)["result"]["result"] == "PIPED"

    missing = cli("status", "nope", *common)
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: 404")
    assert "Traceback" not in missing.stderr
    bad_json = cli("submit", "{nope", *common)
    assert bad_json.returncode == 2 and "not valid JSON" in bad_json.stderr

    slow = json.loads(cli("submit", json.dumps(job("slow", 30)), *common).stdout)["job_id"]
    timed_out = cli("wait", slow, *common, "--timeout", "0.5")
    assert timed_out.returncode == 4
    cli("cancel", slow, *common)
    cancelled = cli("wait", slow, *common)
    assert cancelled.returncode == 3


def test_sigv4_signature_verifies_and_a_tampered_body_does_not() -> None:
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name="eu-west-1"
    )
    frozen = Credentials("AKIDEXAMPLE", "secret").get_frozen_credentials()

    def verify(request: httpx.Request, body: bytes) -> bool:
        # Recompute over exactly the headers the client signed, as API Gateway does.
        signed = request.headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
        headers = {k: v for k, v in request.headers.items() if k.lower() in signed}
        recomputed = AWSRequest(method=request.method, url=str(request.url), data=body, headers=headers)
        recomputed.context["timestamp"] = request.headers["x-amz-date"]
        auth = SigV4Auth(frozen, "execute-api", "eu-west-1")
        canonical = auth.canonical_request(recomputed)
        signature = auth.signature(auth.string_to_sign(recomputed, canonical), recomputed)
        return request.headers["authorization"].endswith(f"Signature={signature}")

    checks: list[tuple[bool, bool]] = []

    def server(request: httpx.Request) -> httpx.Response:
        body = request.read()
        checks.append((verify(request, body), verify(request, body + b" ")))
        assert request.headers["x-api-key"] == "key-1"
        assert "Credential=AKIDEXAMPLE/" in request.headers["authorization"]
        assert "/eu-west-1/execute-api/aws4_request" in request.headers["authorization"]
        return httpx.Response(202, json={"job_id": "j1", "status": "pending"})

    with Client(
        "https://api.example.com/prod", api_key="key-1", aws=session, transport=httpx.MockTransport(server)
    ) as client:
        assert client.submit(job("signed")) == "j1"
    assert checks == [(True, False)]
