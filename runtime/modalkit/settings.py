"""`modalkit.yaml`, read with pydantic-settings.

Sources, strongest first: keyword arguments, `MODALKIT_*` environment variables (`__` nests), then
the YAML files. `MODALKIT_CONFIG` names several files (comma separated), later ones win;
otherwise `Settings.model_config["yaml_file"]` (default `modalkit.yaml`) is read if present.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from modalkit.errors import ConfigError

CONFIG_ENV = "MODALKIT_CONFIG"


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BuildConfig(_Block):
    image: str = "python:3.11-slim"
    tag: str = "latest"
    workdir: str = "/app"
    env: dict[str, str] = Field(default_factory=dict)
    extra_run_commands: list[str] = Field(default_factory=list)


class LocalConfig(_Block):
    data_dir: str = ".modalkit"
    # NORMAL survives a killed process (WAL); FULL also survives power loss, at an fsync per commit.
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"


class ApiLimits(_Block):
    rate_limit: float = 50.0
    burst_limit: int = 100
    quota_limit: int = 1_000_000
    quota_period: Literal["DAY", "WEEK", "MONTH"] = "MONTH"


class AwsConfig(_Block):
    """Names the stack passes to the Lambda and the worker; also what `modalkit aws bootstrap` creates."""

    region: str = "us-east-1"
    endpoint_url: str | None = None
    table: str = "modalkit-jobs"
    queue: str = "modalkit-jobs"
    dead_letter_queue: str = "modalkit-jobs-dlq"
    bucket: str = "modalkit-results"
    iam_auth: bool = True
    worker: Literal["ecs", "batch"] = "ecs"
    result_delivery: Literal["presign", "stream"] = "presign"
    presign_expiry: int = 3600
    api: ApiLimits = Field(default_factory=ApiLimits)
    alarm_email: str | None = None
    # The service file the Lambda and the worker load (a path relative to the project root).
    service_file: str | None = None
    gpu_count: int = Field(default=1, ge=1)
    worker_memory_mib: int = Field(default=12_288, ge=512)
    # Target tracking keeps about this many visible messages per running worker.
    backlog_per_worker: int = Field(default=8, ge=1)
    log_retention_days: int = Field(default=30, ge=1)
    # Queues that requests may name as success_queue/failure_queue (the worker may send only there).
    notify_queues: list[str] = Field(default_factory=list)
    # Alarm when the oldest queued job has waited longer than this many seconds.
    max_queue_age: int = Field(default=900, ge=60)


class DeploymentConfig(_Block):
    # Modal's keys, mapped onto AWS (docs/configuration.md).
    gpu: str | None = None
    concurrency_limit: int = Field(default=1, ge=1)
    container_idle_timeout: int = Field(default=300, ge=0)
    retries: int = Field(default=2, ge=0, le=100)
    secrets: list[str] = Field(default_factory=list)
    region: str | None = None
    mounts: list[Any] = Field(default_factory=list)
    volumes: dict[str, Any] = Field(default_factory=dict)
    cloud_bucket_mounts: dict[str, Any] = Field(default_factory=dict)
    allow_concurrent_inputs: int = 1
    volume_reload_interval_seconds: int | None = None
    # The seed's async keys.
    async_job_timeout: float = Field(default=3600, gt=0)
    async_result_ttl: int = Field(default=86400, gt=0)
    # Where the runtime keeps its state.
    backend: Literal["local", "aws"] = "local"
    local: LocalConfig = Field(default_factory=LocalConfig)
    aws: AwsConfig = Field(default_factory=AwsConfig)
    # Runtime knobs (docs/worker.md).
    visibility_timeout: float = Field(default=30, gt=0)
    heartbeat_interval: float | None = Field(default=None, gt=0)
    stop_timeout: float = Field(default=30, ge=0)
    cancel_grace: float = Field(default=5, ge=0)
    reaper_interval: float = Field(default=30, gt=0)
    pending_requeue_after: float = Field(default=600, gt=0)
    inline_limit: int = Field(default=64 * 1024, ge=0)
    max_request_bytes: int = Field(default=6 * 1024 * 1024, gt=0)
    sync_timeout: float = Field(default=30, ge=0)
    # GET /async/result waits this long for an unfinished job unless the request says ?wait=.
    result_wait: float = Field(default=10, ge=0, le=25)

    @property
    def max_receive_count(self) -> int:
        """Deliveries before the dead-letter queue: the first try plus `retries`."""
        return self.retries + 1

    @property
    def heartbeat_every(self) -> float:
        return self.heartbeat_interval or self.visibility_timeout / 5


class BatchConfig(_Block):
    max_batch_size: int = Field(default=1, ge=1, le=1000)
    wait_ms: int = Field(default=0, ge=0)


class QueueConfig(BaseModel):
    # modalkit's own queue settings; success/failure queues use the deployment backend here.
    model_config = ConfigDict(extra="allow")
    backend: str | None = None


class AuthConfig(_Block):
    ssm_key: str | None = None
    auth_header: str = "x-api-key"
    api_key: str | None = None
    api_keys: list[str] = Field(default_factory=list)

    def local_keys(self) -> list[str]:
        keys = [*self.api_keys]
        if self.api_key:
            keys.append(self.api_key)
        env = os.environ.get("MODALKIT_API_KEYS", "")
        keys.extend(k.strip() for k in env.split(",") if k.strip())
        return keys


class AppSettings(_Block):
    app_prefix: str = "modalkit"
    build_config: BuildConfig = Field(default_factory=BuildConfig)
    deployment_config: DeploymentConfig = Field(default_factory=DeploymentConfig)
    batch_config: BatchConfig = Field(default_factory=BatchConfig)
    queue_config: QueueConfig = Field(default_factory=QueueConfig)
    auth_config: AuthConfig = Field(default_factory=AuthConfig)


class ModelSettings(_Block):
    local_model_repository_folder: str = "models"
    common: dict[str, Any] = Field(default_factory=dict)
    model_entries: dict[str, dict[str, Any]] = Field(default_factory=dict)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MODALKIT_",
        env_nested_delimiter="__",
        yaml_file="modalkit.yaml",
        extra="ignore",
    )

    app_settings: AppSettings = Field(default_factory=AppSettings)
    model_settings: ModelSettings = Field(default_factory=ModelSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        files = config_files(settings_cls)
        yaml_source = YamlConfigSettingsSource(settings_cls, yaml_file=files, deep_merge=True)
        return (init_settings, env_settings, yaml_source)


def config_files(settings_cls: type[BaseSettings] = Settings) -> list[Path]:
    """The YAML files in force: `MODALKIT_CONFIG` (each must exist) or the class's `yaml_file`."""
    listed = os.environ.get(CONFIG_ENV, "").strip()
    if listed:
        paths = [Path(p.strip()) for p in listed.split(",") if p.strip()]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise ConfigError(f"{CONFIG_ENV} names a file that does not exist: {', '.join(missing)}")
        return paths
    configured = settings_cls.model_config.get("yaml_file")
    if configured is None:
        return []
    if isinstance(configured, (list, tuple)):
        return [Path(str(p)) for p in configured]
    return [Path(str(configured))]


def load_settings(**overrides: Any) -> Settings:
    """Settings, or one `ConfigError` that names the file and the key at fault."""
    files = config_files()
    where = ", ".join(str(p) for p in files if p.is_file()) or "defaults"
    try:
        return Settings(**overrides)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{where} (or MODALKIT_* environment): {problems}") from None
