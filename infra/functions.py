"""Every Lambda of the stack: Python 3.12 on arm64, X-Ray tracing, its own log group."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct


def python_function(
    scope: Construct,
    construct_id: str,
    *,
    code: lambda_.Code,
    handler: str,
    environment: dict[str, str],
    log_retention: logs.RetentionDays,
    memory_mib: int = 512,
    timeout: Duration | None = None,
) -> lambda_.Function:
    return lambda_.Function(
        scope,
        construct_id,
        runtime=lambda_.Runtime.PYTHON_3_12,
        architecture=lambda_.Architecture.ARM_64,
        handler=handler,
        code=code,
        memory_size=memory_mib,
        timeout=timeout or Duration.minutes(2),
        environment=environment,
        tracing=lambda_.Tracing.ACTIVE,
        log_group=logs.LogGroup(scope, f"{construct_id}Logs", retention=log_retention),
    )
