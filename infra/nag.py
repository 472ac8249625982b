"""cdk-nag findings this stack accepts, each with the reason it is right here.

Findings tied to one construct are accepted where that construct is made; the ones below recur
across the stack: the grants' scoped wildcards, AWS's managed logging policies, and CDK's own helpers.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from constructs import IConstruct

RUNTIME = "Pinned to Python 3.12: the Lambda bundle's wheels are built for cp312 (infra/bundling.py)."
WRITE_LOGS = "AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch logs."
ANY_RESOURCE = (
    "Actions that take no resource ARN: X-Ray trace segments, ECR authorization tokens, ECS agent calls."
)
S3_ACTIONS = "CDK's grant on the results bucket alone: get/put/delete of job blobs and their multipart parts."


def accept(scope: IConstruct, finding: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))


def acknowledge_stack_findings(stack: Stack, *, table: IConstruct, bucket: IConstruct) -> None:
    table_id = stack.get_logical_id(_cfn(table))
    bucket_id = stack.get_logical_id(_cfn(bucket))
    managed = "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
    findings = {
        "AwsSolutions-L1": RUNTIME,
        f"{managed}AWSLambdaBasicExecutionRole]": WRITE_LOGS,
        f"{managed}AmazonAPIGatewayPushToCloudWatchLogs]": "The role API Gateway needs to write access logs.",
        "AwsSolutions-IAM5[Resource::*]": ANY_RESOURCE,
        f"AwsSolutions-IAM5[Resource::<{table_id}.Arn>/index/*]": "The job table's by_status index.",
        f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]": "Objects of the results bucket, keyed per job.",
        "AwsSolutions-IAM5[Action::s3:Abort*]": S3_ACTIONS,
        "AwsSolutions-IAM5[Action::s3:DeleteObject*]": S3_ACTIONS,
        "AwsSolutions-IAM5[Action::s3:GetBucket*]": S3_ACTIONS,
        "AwsSolutions-IAM5[Action::s3:GetObject*]": S3_ACTIONS,
        "AwsSolutions-IAM5[Action::s3:List*]": S3_ACTIONS,
        "AwsSolutions-APIG3": "WAF is optional (it costs per request); the usage plan throttles callers.",
    }
    for finding, reason in findings.items():
        accept(stack, finding, reason)


def acknowledge_ecs_helpers(worker: IConstruct, asg_logical_id: str) -> None:
    """CDK's own pieces of an ECS capacity provider: the drain hook function, topic and policies."""
    accept(worker, "AwsSolutions-SNS3", "CDK's lifecycle-hook topic: only Auto Scaling publishes to it.")
    accept(worker, "AwsSolutions-IAM5[Action::ecs:Submit*]", "The ECS agent's own calls on its instances.")
    accept(
        worker,
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:"
        f"autoScalingGroup:*:autoScalingGroupName/<{asg_logical_id}>]",
        "CDK's drain hook completes lifecycle actions on this one group.",
    )


def _cfn(construct: IConstruct) -> CfnElement:
    child = construct.node.default_child
    assert isinstance(child, CfnElement)
    return child
