"""AWS adapters: DynamoDB job store, SQS task queue, S3 blob store."""

from __future__ import annotations

from modalkit.backends.aws.clients import AwsClients
from modalkit.backends.factory import Backends
from modalkit.settings import DeploymentConfig


def open_aws_backends(deployment: DeploymentConfig, clients: AwsClients | None = None) -> Backends:
    from modalkit.backends.aws.dynamo_store import DynamoJobStore
    from modalkit.backends.aws.s3_blobs import S3BlobStore
    from modalkit.backends.aws.sqs_queue import SqsQueue

    aws = deployment.aws
    clients = clients or AwsClients.shared(aws.region, aws.endpoint_url)
    return Backends(
        store=DynamoJobStore(aws.table, clients=clients),
        queue=SqsQueue(aws.queue, clients=clients, dead_letter_name=aws.dead_letter_queue),
        blobs=S3BlobStore(aws.bucket, clients=clients),
    )
