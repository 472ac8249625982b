"""The API Lambda: real API Gateway REST proxy events through Mangum, on moto, with the caller's
identity (API key id and IAM user ARN) taken from the request context."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modalkit import lambda_handler
from modalkit.backends.aws import open_aws_backends
from modalkit.backends.aws.bootstrap import bootstrap
from modalkit.backends.aws.clients import AwsClients
from modalkit.backends.factory import Backends
from modalkit.lifecycle import Lifecycle
from modalkit.settings import DeploymentConfig, load_settings
from tests.helpers import SERVICES, write_config

ALICE = ("key-alice", "arn:aws:iam::123456789012:user/alice")
BOB = ("key-bob", "arn:aws:iam::123456789012:user/bob")


def event(method: str, path: str, who: tuple[str, str], body: Any = None) -> dict[str, Any]:
    key_id, arn = who
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json", "host": "abc.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": "req-1",
            "identity": {
                "apiKeyId": key_id,
                "userArn": arn,
                "caller": "AIDAEXAMPLE",
                "sourceIp": "203.0.113.7",
            },
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def call(evt: dict[str, Any]) -> tuple[int, Any]:
    response = lambda_handler.handler(evt, None)
    return response["statusCode"], json.loads(response["body"]) if response["body"] else None


@pytest.fixture
def deployed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Backends, DeploymentConfig]]:
    from moto import mock_aws

    config = write_config(tmp_path, {"backend": "aws", "result_wait": 0})
    monkeypatch.setenv("MODALKIT_CONFIG", str(config))
    monkeypatch.setenv("MODALKIT_SERVICE_FILE", str(SERVICES / "echo.py"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    deployment = load_settings().app_settings.deployment_config
    with mock_aws():
        AwsClients._shared.clear()
        monkeypatch.setattr(lambda_handler, "_handler", None)
        bootstrap(deployment)
        yield open_aws_backends(deployment), deployment
        AwsClients._shared.clear()


def test_submit_status_result_through_mangum_and_tenancy(deployed: tuple[Backends, DeploymentConfig]) -> None:
    backends, deployment = deployed
    status, body = call(event("POST", "/async/predict", ALICE, {"data": {"text": "from lambda"}}))
    assert status == 202, body
    job_id = body["job_id"]
    job = backends.store.load(job_id)
    assert job is not None and job.owner == f"apikey:{ALICE[0]}|iam:{ALICE[1]}"

    status, body = call(event("GET", f"/async/status/{job_id}", ALICE))
    assert (status, body["status"]) == (200, "pending")
    assert call(event("GET", f"/async/result/{job_id}", ALICE))[0] == 202

    # What the GPU worker does, through the same lifecycle code, on the same moto backends.
    worker = Lifecycle(backends, deployment, worker_id="gpu-1")
    [message] = backends.queue.receive(1, 1, 30)
    claimed = worker.claim(message)
    assert claimed is not None
    assert worker.complete(claimed.job, '{"result":{"result":"FROM LAMBDA"},"status":"completed"}')

    status, body = call(event("GET", f"/async/result/{job_id}", ALICE))
    assert (status, body) == (200, {"result": {"result": "FROM LAMBDA"}, "status": "completed"})
    for path in (f"/async/status/{job_id}", f"/async/result/{job_id}"):
        status, body = call(event("GET", path, BOB))
        assert status == 404, path
        assert body["code"] == "not_found"


def test_health_and_validation_errors_through_mangum(deployed: tuple[Backends, DeploymentConfig]) -> None:
    assert call(event("GET", "/health", ALICE)) == (200, {"status": "ok"})
    status, body = call(event("POST", "/async/predict", ALICE, {"data": {}}))
    assert status == 422
    assert body["detail"][0]["loc"] == ["body", "data", "text"]
