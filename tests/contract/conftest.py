"""Each port's contract runs against both adapters: SQLite/DynamoDB, SQLite queue/SQS, files/S3.

The AWS adapters run on moto's in-process `mock_aws`, with resources made by `modalkit aws bootstrap`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modalkit.backends.factory import Backends, open_backends
from modalkit.settings import DeploymentConfig
from tests.conftest import make_settings

MAX_RECEIVES = 2


def deployment_for(tmp_path: Path, backend: str) -> DeploymentConfig:
    settings = make_settings(
        tmp_path,
        app_settings={
            "deployment_config": {"backend": backend, "retries": MAX_RECEIVES - 1, "visibility_timeout": 1}
        },
    )
    return settings.app_settings.deployment_config


@pytest.fixture(params=["local", "aws"])
def backends(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Backends]:
    deployment = deployment_for(tmp_path, request.param)
    if request.param == "local":
        made = open_backends(deployment)
        yield made
        made.close()
        return
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    from moto import mock_aws

    from modalkit.backends.aws import open_aws_backends
    from modalkit.backends.aws.bootstrap import bootstrap
    from modalkit.backends.aws.clients import AwsClients

    with mock_aws():
        clients = AwsClients(deployment.aws.region)
        bootstrap(deployment, clients)
        yield open_aws_backends(deployment, clients)
