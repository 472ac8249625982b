"""Stacks synthesized from real config files, with Lambda bundling skipped (no pip, no Docker)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk import App
from aws_cdk.assertions import Template

import app as cdk_app
from infra.stack import ModalkitStack
from tests.helpers import ROOT, deep_merge

BASE: dict[str, Any] = {
    "app_settings": {
        "app_prefix": "stacktest",
        "deployment_config": {
            "gpu": "A10G",
            "concurrency_limit": 3,
            "retries": 4,
            "async_job_timeout": 600,
            "async_result_ttl": 2 * 86400,
            "container_idle_timeout": 300,
            "secrets": ["hf-token"],
            "aws": {
                "service_file": "examples/async_uppercase/app.py",
                "api": {"rate_limit": 10, "burst_limit": 20, "quota_limit": 5000, "quota_period": "WEEK"},
                "alarm_email": "ops@example.com",
                "notify_queues": ["done-queue"],
            },
        },
        "build_config": {
            "image": "nvidia/cuda",
            "tag": "12.4.1-runtime-ubuntu22.04",
            "env": {"HF_HOME": "/models"},
        },
    }
}


def project(tmp_path: Path, overrides: dict[str, Any]) -> Path:
    """A project root of its own: the repo's code linked in, and this test's modalkit.yaml."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("examples", "runtime", "requirements.txt", "pyproject.toml", "README.md"):
        (root / name).symlink_to(ROOT / name)
    (root / "modalkit.yaml").write_text(yaml.safe_dump(deep_merge(BASE, overrides)))
    return root


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `docker` on PATH that records any call, so a test can prove synth never ran Docker."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "docker-was-called"
    script = bin_dir / "docker"
    script.write_text(f'#!/bin/sh\necho "$@" >> {marker}\nexit 1\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return marker


Synth = Callable[..., tuple[ModalkitStack, Template, Path]]


def _synth(
    mp: pytest.MonkeyPatch, tmp_path: Path, overrides: dict[str, Any], nag: bool
) -> tuple[ModalkitStack, Template, Path]:
    root = project(tmp_path, overrides)
    mp.setenv("MODALKIT_CONFIG", str(root / "modalkit.yaml"))
    outdir = tmp_path / "cdk.out"
    app = App(outdir=str(outdir), context={"aws:cdk:bundling-stacks": []})
    stack = cdk_app.build(app, root, nag=nag)
    if nag:
        app.synth()
    return stack, Template.from_stack(stack), outdir


@pytest.fixture(scope="module")
def ecs_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    with pytest.MonkeyPatch.context() as mp:
        return _synth(mp, tmp_path_factory.mktemp("ecs"), {}, nag=False)[1]


@pytest.fixture(scope="module")
def batch_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    with pytest.MonkeyPatch.context() as mp:
        overrides = {"app_settings": {"deployment_config": {"aws": {"worker": "batch"}}}}
        return _synth(mp, tmp_path_factory.mktemp("batch"), overrides, nag=False)[1]


@pytest.fixture
def synth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_docker: Path) -> Synth:
    def run(
        overrides: dict[str, Any] | None = None, *, nag: bool = False
    ) -> tuple[ModalkitStack, Template, Path]:
        return _synth(monkeypatch, tmp_path, overrides or {}, nag)

    return run
