"""The worker container image (Docker asset from runtime/Dockerfile) and what every worker is told."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import StackConfig

IMAGE_ROOT = "/app/project"
# Never sent to Docker: keeps the build context small and synth fast.
EXCLUDE = [
    ".venv",
    ".git",
    "cdk.out",
    ".modalkit",
    "node_modules",
    "**/__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    "bench/results",
]


def base_image(config: StackConfig) -> str:
    image = config.build.image
    return image if ":" in image.rsplit("/", 1)[-1] else f"{image}:{config.build.tag}"


def worker_image(config: StackConfig) -> ecs.ContainerImage:
    return ecs.ContainerImage.from_asset(
        str(config.project_root),
        file="runtime/Dockerfile",
        exclude=EXCLUDE,
        build_args={
            "BASE_IMAGE": base_image(config),
            "EXTRA_RUN_COMMANDS": " && ".join(config.build.extra_run_commands),
        },
    )


def in_image(config: StackConfig, path: Path) -> str:
    return f"{IMAGE_ROOT}/{path.relative_to(config.project_root).as_posix()}"


def worker_command(config: StackConfig, *, drain: bool = False) -> list[str]:
    return [in_image(config, config.service_file), *(["--drain"] if drain else [])]


def worker_environment(config: StackConfig, backend_env: dict[str, str]) -> dict[str, str]:
    return {
        **config.build.env,
        **backend_env,
        "MODALKIT_CONFIG": ",".join(in_image(config, p) for p in config.config_files),
        "MODALKIT_METRICS": "emf",
        "MODALKIT_LOG_FORMAT": "json",
        "MODALKIT_SERVICE": config.stack_name,
    }


def worker_secrets(scope: Construct, names: list[str]) -> dict[str, secretsmanager.ISecret]:
    """Each Secrets Manager secret, keyed by the environment variable it becomes (its name, upper-cased)."""
    return {
        "".join(c if c.isalnum() else "_" for c in name).upper(): secretsmanager.Secret.from_secret_name_v2(
            scope, f"Secret{index}", name
        )
        for index, name in enumerate(names)
    }
