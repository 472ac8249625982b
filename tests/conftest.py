from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import SERVICES, deep_merge

sys.path.insert(0, str(SERVICES))

from _base import JobInput, JobOutput

from modalkit.api.app import create_app
from modalkit.backends.factory import open_backends
from modalkit.inference import InferencePipeline
from modalkit.modalapp import ModalService
from modalkit.modalutils import ModalConfig
from modalkit.service import JobService
from modalkit.settings import Settings


class Upper(InferencePipeline):
    def preprocess(self, input_list: list[Any]) -> list[str]:
        return [i.data.text for i in input_list]

    def predict(self, input_list: list[Any], data: list[str]) -> list[str]:
        return [t.upper() for t in data]

    def postprocess(self, input_list: list[Any], raw: list[str]) -> list[Any]:
        from _base import outputs

        return outputs(raw)


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "app_settings": {
            "deployment_config": {
                "local": {"data_dir": str(data_dir)},
                "result_wait": 0,
                "visibility_timeout": 2,
                "inline_limit": 2048,
                "max_request_bytes": 64 * 1024,
            },
            "auth_config": {"api_keys": ["test-key", "other-key"]},
        }
    }
    return Settings(**deep_merge(base, overrides))


def service_class(settings: Settings, pipeline: type[InferencePipeline] = Upper) -> type[ModalService]:
    class Service(ModalService):
        inference_implementation = pipeline
        model_name = "fixture"
        modal_utils = ModalConfig(settings)

    return Service


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def job_service(settings: Settings) -> Iterator[JobService]:
    deployment = settings.app_settings.deployment_config
    backends = open_backends(deployment)
    yield JobService(backends, deployment)
    backends.close()


@pytest.fixture
def api(settings: Settings, job_service: JobService) -> Iterator[TestClient]:
    app = create_app(service_class(settings), JobInput, JobOutput, job_service=job_service)
    with TestClient(app, headers={"x-api-key": "test-key"}, raise_server_exceptions=False) as client:
        yield client
