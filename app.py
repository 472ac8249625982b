"""The CDK app: read modalkit.yaml, build the stack, check it with cdk-nag. `make synth` runs it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import StackConfig
from infra.stack import ModalkitStack
from modalkit.errors import ConfigError
from modalkit.settings import config_files, load_settings

ROOT = Path(__file__).resolve().parent


def build(app: App, root: Path = ROOT, *, nag: bool = True) -> ModalkitStack:
    """Add the stack that the config in force describes (raises `ConfigError`)."""
    settings = load_settings()
    config = StackConfig.from_settings(settings, root, config_files())
    stack = ModalkitStack(app, config.stack_name, config=config)
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack


def main() -> None:
    app = App(outdir=os.environ.get("CDK_OUTDIR", str(ROOT / "cdk.out")))
    try:
        build(app)
    except ConfigError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        sys.exit(2)
    app.synth()


if __name__ == "__main__":
    main()
