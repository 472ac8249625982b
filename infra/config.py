"""What the stack needs from modalkit.yaml, checked up front: every problem in one error."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from modalkit.errors import ConfigError
from modalkit.modalutils import ModalConfig
from modalkit.settings import BatchConfig, BuildConfig, DeploymentConfig, Settings

# deployment_config.gpu -> the smallest instance of the family with that GPU.
GPU_INSTANCE_TYPES = {
    "T4": "g4dn.xlarge",
    "A10G": "g5.xlarge",
    "L4": "g6.xlarge",
    "L40S": "g6e.xlarge",
    "A100": "p4d.24xlarge",
    "H100": "p5.48xlarge",
}
# vCPUs of those instances (AWS Batch sizes its compute environment in vCPUs).
INSTANCE_VCPUS = {
    "g4dn.xlarge": 4,
    "g5.xlarge": 4,
    "g6.xlarge": 4,
    "g6e.xlarge": 4,
    "p4d.24xlarge": 96,
    "p5.48xlarge": 192,
}
SQS_MAX_VISIBILITY = 43_200


@dataclass(frozen=True)
class StackConfig:
    stack_name: str
    project_root: Path
    service_file: Path
    config_files: tuple[Path, ...]
    deployment: DeploymentConfig
    build: BuildConfig
    batching: BatchConfig
    instance_type: str

    @property
    def max_workers(self) -> int:
        return self.deployment.concurrency_limit

    @property
    def instance_vcpus(self) -> int:
        return INSTANCE_VCPUS[self.instance_type]

    @property
    def result_ttl_days(self) -> int:
        return max(1, math.ceil(self.deployment.async_result_ttl / 86400))

    @property
    def queue_visibility(self) -> int:
        # The worker sets its own visibility and heartbeats; this default only guards other consumers.
        return min(SQS_MAX_VISIBILITY, math.ceil(self.deployment.async_job_timeout) + 60)

    @property
    def idle_minutes(self) -> int:
        return max(1, math.ceil(self.deployment.container_idle_timeout / 60))

    @classmethod
    def from_settings(cls, settings: Settings, project_root: Path, config_files: list[Path]) -> StackConfig:
        deployment = settings.app_settings.deployment_config
        prefix = "app_settings.deployment_config"
        problems: list[str] = []
        service_file = None
        if not deployment.aws.service_file:
            problems.append(f"{prefix}.aws.service_file: required; the path of your service's .py file")
        else:
            service_file = project_root / deployment.aws.service_file
            if not service_file.is_file():
                problems.append(f"{prefix}.aws.service_file: {deployment.aws.service_file} does not exist")
        gpu = (deployment.gpu or "").upper()
        if gpu not in GPU_INSTANCE_TYPES:
            problems.append(f"{prefix}.gpu: {deployment.gpu!r} is not one of {', '.join(GPU_INSTANCE_TYPES)}")
        if deployment.container_idle_timeout < 60:
            problems.append(f"{prefix}.container_idle_timeout: at least 60 s on AWS (CloudWatch's period)")
        outside = [
            str(p) for p in config_files if p.is_file() and not p.resolve().is_relative_to(project_root)
        ]
        if outside:
            problems.append(
                f"MODALKIT_CONFIG: {', '.join(outside)} must be inside {project_root} (the image's context)"
            )
        if deployment.aws.api.burst_limit < deployment.aws.api.rate_limit:
            problems.append(f"{prefix}.aws.api.burst_limit: must be at least rate_limit")
        if problems:
            raise ConfigError("modalkit.yaml: " + "; ".join(problems))
        assert service_file is not None
        name = re.sub(r"[^A-Za-z0-9-]", "-", ModalConfig(settings).app_name).strip("-") or "modalkit"
        return cls(
            stack_name=name,
            project_root=project_root,
            service_file=service_file,
            config_files=tuple(p.absolute() for p in config_files if p.is_file()),
            deployment=deployment,
            build=settings.app_settings.build_config,
            batching=settings.app_settings.batch_config,
            instance_type=GPU_INSTANCE_TYPES[gpu],
        )
