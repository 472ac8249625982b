"""`ModalConfig`: the service's settings, and the decorator arguments the seed passes to Modal."""

from __future__ import annotations

import os
from typing import Any

from modalkit.settings import AppSettings, DeploymentConfig, ModelSettings, Settings, load_settings


class ModalConfig:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else load_settings()

    @property
    def app_settings(self) -> AppSettings:
        return self.settings.app_settings

    @property
    def model_settings(self) -> ModelSettings:
        return self.settings.model_settings

    @property
    def deployment_config(self) -> DeploymentConfig:
        return self.settings.app_settings.deployment_config

    @property
    def app_postfix(self) -> str:
        return os.environ.get("MODALKIT_APP_POSTFIX", "-dev")

    @property
    def app_name(self) -> str:
        return f"{self.app_settings.app_prefix}{self.app_postfix}"

    def get_app_cls_settings(self) -> dict[str, Any]:
        dc = self.deployment_config
        return {
            "image": self.app_settings.build_config.image,
            "gpu": dc.gpu,
            "secrets": list(dc.secrets),
            "timeout": dc.async_job_timeout,
            "retries": dc.retries,
            "concurrency_limit": dc.concurrency_limit,
            "container_idle_timeout": dc.container_idle_timeout,
            "allow_concurrent_inputs": dc.allow_concurrent_inputs,
        }

    def get_handler_settings(self) -> dict[str, Any]:
        dc = self.deployment_config
        return {
            "image": self.app_settings.build_config.image,
            "secrets": list(dc.secrets),
            "allow_concurrent_inputs": dc.allow_concurrent_inputs,
        }

    def get_batched_method_settings(self) -> dict[str, Any]:
        batch = self.app_settings.batch_config
        return {"max_batch_size": batch.max_batch_size, "wait_ms": batch.wait_ms}
