"""The synthesized stack, property by property, for the ECS and Batch variants."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from modalkit.errors import ConfigError
from tests.infra.conftest import Synth


def resources(template: Template, kind: str) -> dict[str, Any]:
    found: dict[str, Any] = template.find_resources(kind)
    return found


def test_every_route_but_health_needs_iam_and_an_api_key(ecs_template: Template) -> None:
    methods = resources(ecs_template, "AWS::ApiGateway::Method")
    by_path: dict[str, dict[str, Any]] = {}
    resources_by_id = resources(ecs_template, "AWS::ApiGateway::Resource")
    for method in methods.values():
        props = method["Properties"]
        ref = props["ResourceId"]
        path = "/" if "Fn::GetAtt" in ref else resources_by_id[ref["Ref"]]["Properties"]["PathPart"]
        by_path[f"{props['HttpMethod']} {path}"] = props
    assert set(by_path) == {"GET health", "ANY /", "ANY {proxy+}"}
    assert by_path["GET health"]["AuthorizationType"] == "NONE"
    assert "ApiKeyRequired" not in by_path["GET health"] or by_path["GET health"]["ApiKeyRequired"] is False
    for key in ("ANY /", "ANY {proxy+}"):
        assert by_path[key]["AuthorizationType"] == "AWS_IAM"
        assert by_path[key]["ApiKeyRequired"] is True
        assert "RequestValidatorId" in by_path[key]


def test_iam_auth_false_keeps_api_keys_alone(synth: Synth) -> None:
    _, template, _ = synth({"app_settings": {"deployment_config": {"aws": {"iam_auth": False}}}})
    template.has_resource_properties(
        "AWS::ApiGateway::Method", {"HttpMethod": "ANY", "AuthorizationType": "NONE", "ApiKeyRequired": True}
    )
    assert not template.find_resources(
        "AWS::ApiGateway::Method", {"Properties": {"AuthorizationType": "AWS_IAM"}}
    )


def test_usage_plan_stage_logs_and_tracing_come_from_config(ecs_template: Template) -> None:
    ecs_template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {
            "Throttle": {"RateLimit": 10, "BurstLimit": 20},
            "Quota": {"Limit": 5000, "Period": "WEEK"},
            "ApiStages": Match.any_value(),
        },
    )
    ecs_template.resource_count_is("AWS::ApiGateway::ApiKey", 1)
    ecs_template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "TracingEnabled": True,
            "AccessLogSetting": {
                "DestinationArn": Match.any_value(),
                "Format": Match.string_like_regexp('"requestId"'),
            },
        },
    )
    ecs_template.has_resource_properties(
        "AWS::ApiGateway::RestApi", {"EndpointConfiguration": {"Types": ["REGIONAL"]}}
    )
    ecs_template.has_resource_properties(
        "AWS::ApiGateway::RequestValidator", {"ValidateRequestBody": True, "ValidateRequestParameters": True}
    )


def test_api_lambda_is_python_312_on_arm64_with_the_backend_names(ecs_template: Template) -> None:
    ecs_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "modalkit.lambda_handler.handler",
            "Runtime": "python3.12",
            "Architectures": ["arm64"],
            "TracingConfig": {"Mode": "Active"},
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "MODALKIT_APP_SETTINGS__DEPLOYMENT_CONFIG__BACKEND": "aws",
                        "MODALKIT_APP_SETTINGS__DEPLOYMENT_CONFIG__AWS__TABLE": {"Ref": Match.any_value()},
                        "MODALKIT_SERVICE_FILE": "/var/task/service/app.py",
                    }
                )
            },
        },
    )


def test_queue_redrives_after_retries_plus_one_and_is_encrypted_and_tls_only(ecs_template: Template) -> None:
    ecs_template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "RedrivePolicy": {"deadLetterTargetArn": Match.any_value(), "maxReceiveCount": 5},
            "SqsManagedSseEnabled": True,
            "VisibilityTimeout": 660,
        },
    )
    policies = resources(ecs_template, "AWS::SQS::QueuePolicy")
    assert len(policies) == 2
    for policy in policies.values():
        statement = policy["Properties"]["PolicyDocument"]["Statement"][0]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_table_has_ttl_pitr_on_demand_and_the_status_index(ecs_template: Template) -> None:
    ecs_template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "GlobalSecondaryIndexes": [Match.object_like({"IndexName": "by_status"})],
        },
    )


def test_results_bucket_is_private_tls_only_encrypted_expiring_and_logged(ecs_template: Template) -> None:
    ecs_template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "BucketEncryption": Match.any_value(),
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "results/"}),
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [Match.object_like({"Id": "expire-job-blobs", "ExpirationInDays": 2})]
                )
            },
        },
    )
    for policy in resources(ecs_template, "AWS::S3::BucketPolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}} for s in statements)


def test_gpu_maps_to_the_instance_type_and_scaling_runs_from_zero_to_the_limit(
    ecs_template: Template,
) -> None:
    ecs_template.has_resource_properties(
        "AWS::EC2::LaunchTemplate",
        {
            "LaunchTemplateData": Match.object_like(
                {
                    "InstanceType": "g5.xlarge",
                    "MetadataOptions": Match.object_like({"HttpTokens": "required"}),
                }
            )
        },
    )
    ecs_template.has_resource_properties(
        "AWS::AutoScaling::AutoScalingGroup", {"MinSize": "0", "MaxSize": "3"}
    )
    ecs_template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {"MinCapacity": 0, "MaxCapacity": 3, "ScalableDimension": "ecs:service:DesiredCount"},
    )
    ecs_template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {"TargetValue": 8, "DisableScaleIn": True}
            ),
        },
    )
    steps = ecs_template.find_resources(
        "AWS::ApplicationAutoScaling::ScalingPolicy", {"Properties": {"PolicyType": "StepScaling"}}
    )
    adjustments = sorted(
        a["ScalingAdjustment"]
        for p in steps.values()
        for a in p["Properties"]["StepScalingPolicyConfiguration"]["StepAdjustments"]
    )
    assert adjustments == [0, 1]  # start the first worker; stop the last one when idle
    ecs_template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"EvaluationPeriods": 5, "ComparisonOperator": "LessThanOrEqualToThreshold"}
    )


def test_worker_task_has_a_gpu_secrets_and_the_worker_command(ecs_template: Template) -> None:
    ecs_template.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "ContainerDefinitions": [
                Match.object_like(
                    {
                        "ResourceRequirements": [{"Type": "GPU", "Value": "1"}],
                        "Command": ["/app/project/examples/async_uppercase/app.py"],
                        "Secrets": [Match.object_like({"Name": "HF_TOKEN"})],
                        "Environment": Match.array_with([{"Name": "HF_HOME", "Value": "/models"}]),
                    }
                )
            ]
        },
    )
    ecs_template.has_resource_properties("AWS::ECS::Service", {"DesiredCount": 0})


def test_dashboard_alarms_email_and_outputs(ecs_template: Template) -> None:
    ecs_template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    descriptions = [
        a["Properties"].get("AlarmDescription", "")
        for a in resources(ecs_template, "AWS::CloudWatch::Alarm").values()
    ]
    for needle in ("dead-letter", "waited too long", "5xx", "API Lambda"):
        assert any(needle in d for d in descriptions), needle
    ecs_template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )
    outputs = ecs_template.find_outputs("*")
    assert {"ApiUrl", "ApiKeyId", "Dashboard"} <= set(outputs)
    body = json.dumps(ecs_template.find_resources("AWS::CloudWatch::Dashboard"))
    for metric in (
        "ApproximateAgeOfOldestMessage",
        "JobsCompleted",
        "JobLatency",
        "GpuSecondsPerJob",
        "RunningTaskCount",
    ):
        assert metric in body, metric


def test_operations_lambdas_consume_the_dlq_and_reap_on_a_schedule(ecs_template: Template) -> None:
    ecs_template.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": "modalkit.aws_handlers.dead_letter_handler"}
    )
    ecs_template.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": "modalkit.aws_handlers.reaper_handler"}
    )
    ecs_template.resource_count_is("AWS::Lambda::EventSourceMapping", 1)
    ecs_template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(1 minute)"})


def test_notify_queues_are_the_only_extra_queues_the_worker_may_send_to(ecs_template: Template) -> None:
    body = json.dumps(resources(ecs_template, "AWS::IAM::Policy"))
    assert ":done-queue" in body
    assert ':*"' not in body.replace("log-group", "")


def test_batch_variant_starts_from_zero_vcpus_and_drains(batch_template: Template) -> None:
    batch_template.has_resource_properties(
        "AWS::Batch::ComputeEnvironment",
        {
            "ComputeResources": Match.object_like(
                {"MinvCpus": 0, "MaxvCpus": 12, "InstanceTypes": ["g5.xlarge"]}
            )
        },
    )
    batch_template.has_resource_properties(
        "AWS::Batch::JobDefinition",
        {
            "ContainerProperties": Match.object_like(
                {
                    "Command": ["/app/project/examples/async_uppercase/app.py", "--drain"],
                    "ResourceRequirements": Match.array_with([{"Type": "GPU", "Value": "1"}]),
                }
            )
        },
    )
    batch_template.resource_count_is("AWS::Batch::JobQueue", 1)
    batch_template.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": "modalkit.aws_handlers.batch_trigger_handler"}
    )
    batch_template.resource_count_is("AWS::ECS::Service", 0)


def test_config_errors_name_every_key_at_once(synth: Synth) -> None:
    bad = {
        "app_settings": {
            "deployment_config": {
                "gpu": "TPU",
                "container_idle_timeout": 10,
                "aws": {"service_file": "nope.py"},
            }
        }
    }
    with pytest.raises(ConfigError) as error:
        synth(bad)
    message = error.value.message
    assert "app_settings.deployment_config.gpu: 'TPU' is not one of T4, A10G, L4, L40S, A100, H100" in message
    assert "app_settings.deployment_config.container_idle_timeout" in message
    assert "app_settings.deployment_config.aws.service_file: nope.py does not exist" in message


def test_cdk_nag_finds_nothing_unacknowledged_and_synth_never_runs_docker(
    synth: Synth, fake_docker: Path
) -> None:
    _, _, outdir = synth({}, nag=True)  # raises ValidationFailed on any unacknowledged finding
    report = json.loads((outdir / "validation-report.json").read_text())
    assert all(plugin["conclusion"] == "success" for plugin in report["pluginReports"])
    assets = json.loads(next(outdir.glob("*.assets.json")).read_text())
    assert assets["dockerImages"], "the worker image is a Docker asset, built at deploy time"
    assert not fake_docker.exists()
