"""`modalkit aws bootstrap`: create the table, queues and bucket the config names, where missing.

For moto_server runs and for users who bring their own resources without CDK; the stack in infra/
makes the same resources with the same settings.
"""

from __future__ import annotations

import json
import math

from modalkit.backends.aws.clients import AwsClients, error_code
from modalkit.backends.aws.dynamo_store import STATUS_INDEX
from modalkit.settings import DeploymentConfig


def bootstrap(deployment: DeploymentConfig, clients: AwsClients | None = None) -> list[str]:
    aws = deployment.aws
    clients = clients or AwsClients.shared(aws.region, aws.endpoint_url)
    return [
        _table(clients, aws.table),
        *_queues(clients, deployment),
        _bucket(clients, aws.bucket, deployment.async_result_ttl, aws.region),
    ]


def _table(clients: AwsClients, name: str) -> str:
    ddb = clients.dynamodb
    try:
        ddb.describe_table(TableName=name)
        return f"table {name}: exists"
    except Exception as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "job_id", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
            {"AttributeName": "updated_at", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": STATUS_INDEX,
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "updated_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    ddb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    return f"table {name}: created (TTL on expires_at, index {STATUS_INDEX})"


def _queues(clients: AwsClients, deployment: DeploymentConfig) -> list[str]:
    aws = deployment.aws
    sqs = clients.sqs
    lines = []
    existing = set(sqs.list_queues(QueueNamePrefix=aws.dead_letter_queue).get("QueueUrls", []))
    existing |= set(sqs.list_queues(QueueNamePrefix=aws.queue).get("QueueUrls", []))
    names = {url.rsplit("/", 1)[-1] for url in existing}
    retention = str(14 * 24 * 3600)
    if aws.dead_letter_queue in names:
        lines.append(f"queue {aws.dead_letter_queue}: exists")
    else:
        sqs.create_queue(QueueName=aws.dead_letter_queue, Attributes={"MessageRetentionPeriod": retention})
        lines.append(f"queue {aws.dead_letter_queue}: created")
    dlq_url = sqs.get_queue_url(QueueName=aws.dead_letter_queue)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    if aws.queue in names:
        lines.append(f"queue {aws.queue}: exists")
    else:
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": deployment.max_receive_count}
        sqs.create_queue(
            QueueName=aws.queue,
            Attributes={
                "VisibilityTimeout": str(math.ceil(deployment.visibility_timeout)),
                "RedrivePolicy": json.dumps(redrive),
                "MessageRetentionPeriod": retention,
                "ReceiveMessageWaitTimeSeconds": "20",
            },
        )
        lines.append(
            f"queue {aws.queue}: created (dead letters to {aws.dead_letter_queue} after"
            f" {deployment.max_receive_count} receives)"
        )
    return lines


def _bucket(clients: AwsClients, name: str, ttl: int, region: str) -> str:
    s3 = clients.s3
    try:
        s3.head_bucket(Bucket=name)
        return f"bucket {name}: exists"
    except Exception as exc:
        if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})  # type: ignore[typeddict-item]
    days = max(1, math.ceil(ttl / 86400))
    s3.put_bucket_lifecycle_configuration(
        Bucket=name,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "expire-job-blobs",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "Expiration": {"Days": days},
                }
            ]
        },
    )
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    return f"bucket {name}: created (objects expire after {days} day(s))"
