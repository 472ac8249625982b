"""API Gateway (REST, regional) in front of the API Lambda: IAM + API key on every route but
/health, a usage plan, request validation, JSON access logs and X-Ray tracing."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.functions import python_function
from infra.nag import accept
from modalkit.settings import ApiLimits

HANDLER = "modalkit.lambda_handler.handler"


class JobsApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        environment: dict[str, str],
        iam_auth: bool,
        limits: ApiLimits,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = python_function(
            self,
            "Handler",
            code=code,
            handler=HANDLER,
            environment=environment,
            log_retention=log_retention,
            memory_mib=1024,
            # Long polls stop at 25 s; API Gateway gives up at 29 s.
            timeout=Duration.seconds(29),
        )
        access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention)
        self.api = apigw.RestApi(
            self,
            "Api",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            deploy_options=apigw.StageOptions(
                stage_name="prod",
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                tracing_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                metrics_enabled=True,
            ),
        )
        integration = apigw.LambdaIntegration(self.function)
        validator = self.api.add_request_validator(
            "Validate", validate_request_body=True, validate_request_parameters=True
        )
        self.authorization = apigw.AuthorizationType.IAM if iam_auth else apigw.AuthorizationType.NONE
        health = self.api.root.add_resource("health").add_method(
            "GET", integration, authorization_type=apigw.AuthorizationType.NONE, request_validator=validator
        )
        proxy = self.api.root.add_proxy(default_integration=integration, any_method=False)
        for resource in (self.api.root, proxy):
            resource.add_method(
                "ANY",
                integration,
                authorization_type=self.authorization,
                api_key_required=True,
                request_validator=validator,
            )

        plan = self.api.add_usage_plan(
            "UsagePlan",
            throttle=apigw.ThrottleSettings(rate_limit=limits.rate_limit, burst_limit=limits.burst_limit),
            quota=apigw.QuotaSettings(limit=limits.quota_limit, period=apigw.Period[limits.quota_period]),
        )
        self.api_key = self.api.add_api_key("ApiKey")
        plan.add_api_key(self.api_key)
        plan.add_api_stage(stage=self.api.deployment_stage)

        accept(
            health,
            "AwsSolutions-APIG4",
            "/health is a liveness probe that reveals nothing and needs no caller.",
        )
        accept(
            health,
            "AwsSolutions-COG4",
            "/health is a liveness probe that reveals nothing and needs no caller.",
        )
        if not iam_auth:
            accept(
                self.api,
                "AwsSolutions-APIG4",
                "deployment_config.aws.iam_auth is false: the deployer chose API keys alone.",
            )
        accept(
            self.api,
            "AwsSolutions-COG4",
            "Callers authenticate with IAM (SigV4) and an API key, not Cognito.",
        )
