"""The Lambda code asset, built at synth time without Docker: pip installs arm64 wheels for Python
3.12 into the asset, next to the modalkit package, the service's folder and its config files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

# What the API and operations Lambdas import; boto3 comes with the Lambda runtime.
LAMBDA_PACKAGES = ("fastapi", "mangum", "pydantic", "pydantic-settings", "PyYAML")
LAMBDA_PYTHON = "3.12"
SERVICE_DIR = "service"
CONFIG_DIR = "config"
_SKIP = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".venv", ".git", "cdk.out", "node_modules", ".modalkit", "tests", ".mypy_cache"
)


@jsii.implements(ILocalBundling)
class LocalPipBundle:
    def __init__(self, *, project_root: Path, service_file: Path, config_files: tuple[Path, ...]) -> None:
        self.project_root = project_root
        self.service_file = service_file
        self.config_files = config_files

    def try_bundle(self, output_dir: str, *options: Any, **keywords: Any) -> bool:
        # jsii hands the bundling options over as one positional struct; the stubs say keywords.
        del options, keywords
        out = Path(output_dir)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--platform",
                "manylinux2014_aarch64",
                "--only-binary=:all:",
                "--python-version",
                LAMBDA_PYTHON,
                "--implementation",
                "cp",
                "--no-compile",
                "--target",
                str(out),
                "-c",
                str(self.project_root / "requirements.txt"),
                *LAMBDA_PACKAGES,
            ],
            check=True,
        )
        shutil.copytree(self.project_root / "runtime" / "modalkit", out / "modalkit", ignore=_SKIP)
        shutil.copytree(self.service_file.parent, out / SERVICE_DIR, ignore=_SKIP)
        (out / CONFIG_DIR).mkdir()
        for index, config in enumerate(self.config_files):
            shutil.copy(config, out / CONFIG_DIR / f"{index}-{config.name}")
        return True


def lambda_config_paths(config_files: tuple[Path, ...]) -> str:
    """MODALKIT_CONFIG inside the Lambda: the bundled copies, in the same order."""
    return ",".join(f"/var/task/{CONFIG_DIR}/{i}-{p.name}" for i, p in enumerate(config_files))


def lambda_code(*, project_root: Path, service_file: Path, config_files: tuple[Path, ...]) -> lambda_.Code:
    bundler = LocalPipBundle(project_root=project_root, service_file=service_file, config_files=config_files)
    return lambda_.Code.from_asset(
        str(project_root / "runtime"),
        # The bundle holds the service and config too, so hash what was built, not the source folder.
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            image=DockerImage.from_registry(f"public.ecr.aws/sam/build-python{LAMBDA_PYTHON}"),
            local=bundler,
        ),
    )
