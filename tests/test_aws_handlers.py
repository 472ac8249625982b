"""The operations Lambdas on moto: the reaper and the DLQ consumer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modalkit import aws_handlers
from modalkit.backends.aws import open_aws_backends
from modalkit.backends.aws.bootstrap import bootstrap
from modalkit.backends.aws.clients import AwsClients
from modalkit.backends.factory import Backends
from modalkit.lifecycle import Lifecycle
from modalkit.service import JobService, Submission
from modalkit.settings import DeploymentConfig
from modalkit.status import JobStatus
from tests.helpers import write_config


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Backends, DeploymentConfig]]:
    from moto import mock_aws

    config = write_config(tmp_path, {"backend": "aws", "retries": 0, "visibility_timeout": 1})
    monkeypatch.setenv("MODALKIT_CONFIG", str(config))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    from modalkit.settings import load_settings

    deployment = load_settings().app_settings.deployment_config
    with mock_aws():
        AwsClients._shared.clear()
        aws_handlers._lifecycle.cache_clear()
        bootstrap(deployment)
        yield open_aws_backends(deployment), deployment
        AwsClients._shared.clear()
        aws_handlers._lifecycle.cache_clear()


def test_reaper_lambda_fails_a_job_whose_worker_vanished(aws: tuple[Backends, DeploymentConfig]) -> None:
    backends, deployment = aws
    service = JobService(backends, deployment)
    job, _ = service.submit("me", Submission(payload="{}", model_name="m"))
    worker = Lifecycle(backends, deployment, worker_id="gone", clock=lambda: time.time() - 60)
    [message] = backends.queue.receive(1, 1, 30)
    assert worker.claim(message) is not None  # claimed a minute ago, never heard from since
    backends.queue.delete([message.receipt])

    assert aws_handlers.reaper_handler({}, None)["failed"] == 1
    reaped = backends.store.load(job.job_id)
    assert reaped is not None and reaped.status is JobStatus.FAILED
    assert reaped.error == "worker lost: no heartbeat after 1 attempts"


def test_dead_letter_lambda_marks_jobs_failed(aws: tuple[Backends, DeploymentConfig]) -> None:
    backends, deployment = aws
    service = JobService(backends, deployment)
    job, _ = service.submit("me", Submission(payload="{}", model_name="m"))
    [message] = backends.queue.receive(1, 1, 30)
    event = {
        "Records": [
            {
                "messageId": message.message_id,
                "body": message.body,
                "receiptHandle": message.receipt,
                "attributes": {"ApproximateReceiveCount": "1"},
            }
        ]
    }
    assert aws_handlers.dead_letter_handler(event, None)["dead_lettered"] == 1
    failed = backends.store.load(job.job_id)
    assert failed is not None and failed.status is JobStatus.FAILED
    assert failed.error is not None and failed.error.startswith("dead-lettered after 0 attempts")
