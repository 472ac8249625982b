"""The stack: composes the constructs, passes resource names by environment, and grants access."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.api import JobsApi
from infra.bundling import SERVICE_DIR, lambda_code, lambda_config_paths
from infra.config import StackConfig
from infra.monitoring import Monitoring, job_metric
from infra.nag import acknowledge_stack_findings
from infra.network import WorkerNetwork
from infra.operations import Operations
from infra.queue import JobQueue
from infra.results import ResultsBucket
from infra.store import JobTable
from infra.worker_batch import BatchGpuWorker
from infra.worker_ecs import EcsGpuWorker

_SETTING = "MODALKIT_APP_SETTINGS__DEPLOYMENT_CONFIG__"


class ModalkitStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        deployment = config.deployment
        retention = _retention(deployment.aws.log_retention_days)
        self.jobs = JobTable(self, "Jobs")
        self.queue = JobQueue(
            self,
            "Queue",
            max_receive_count=deployment.max_receive_count,
            visibility_seconds=config.queue_visibility,
        )
        self.results = ResultsBucket(self, "Results", expire_days=config.result_ttl_days)

        backend_env = {
            f"{_SETTING}BACKEND": "aws",
            f"{_SETTING}AWS__REGION": Aws.REGION,
            f"{_SETTING}AWS__TABLE": self.jobs.table.table_name,
            f"{_SETTING}AWS__QUEUE": self.queue.queue.queue_name,
            f"{_SETTING}AWS__DEAD_LETTER_QUEUE": self.queue.dead_letter_queue.queue_name,
            f"{_SETTING}AWS__BUCKET": self.results.bucket.bucket_name,
        }
        code = lambda_code(
            project_root=config.project_root,
            service_file=config.service_file,
            config_files=config.config_files,
        )
        lambda_env = {
            **backend_env,
            "MODALKIT_CONFIG": lambda_config_paths(config.config_files),
            "MODALKIT_SERVICE_FILE": f"/var/task/{SERVICE_DIR}/{config.service_file.name}",
            "MODALKIT_METRICS": "emf",
            "MODALKIT_SERVICE": config.stack_name,
        }
        self.api = JobsApi(
            self,
            "Api",
            code=code,
            environment=lambda_env,
            iam_auth=deployment.aws.iam_auth,
            limits=deployment.aws.api,
            log_retention=retention,
        )
        self.operations = Operations(
            self,
            "Operations",
            code=code,
            environment=lambda_env,
            dead_letter_queue=self.queue.dead_letter_queue,
            reaper_minutes=max(1, round(deployment.reaper_interval / 60)),
            log_retention=retention,
        )
        network = WorkerNetwork(self, "Network")
        self.worker: EcsGpuWorker | BatchGpuWorker
        if deployment.aws.worker == "batch":
            self.worker = BatchGpuWorker(
                self,
                "BatchWorker",
                config=config,
                vpc=network.vpc,
                backend_env=backend_env,
                code=code,
                lambda_env=lambda_env,
                log_retention=retention,
            )
            worker_role: iam.IGrantable = self.worker.job_role
            workers = job_metric(config.stack_name, "ActiveWorkers", "Maximum", "Batch workers")
        else:
            self.worker = EcsGpuWorker(
                self,
                "Worker",
                config=config,
                vpc=network.vpc,
                queue=self.queue.queue,
                backend_env=backend_env,
                log_retention=retention,
            )
            worker_role = self.worker.task.task_role
            workers = self.worker.running_tasks
        self._grant(config, worker_role)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            service=config.stack_name,
            api=self.api.api,
            api_function=self.api.function,
            queue=self.queue.queue,
            dead_letter_queue=self.queue.dead_letter_queue,
            workers=workers,
            max_queue_age=deployment.aws.max_queue_age,
            alarm_email=deployment.aws.alarm_email,
        )
        CfnOutput(self, "ApiUrl", value=self.api.api.url)
        CfnOutput(
            self,
            "ApiKeyId",
            value=self.api.api_key.key_id,
            description="aws apigateway get-api-key --include-value --api-key <id>",
        )
        CfnOutput(self, "JobTable", value=self.jobs.table.table_name)
        CfnOutput(self, "JobQueue", value=self.queue.queue.queue_url)
        CfnOutput(self, "ResultsBucket", value=self.results.bucket.bucket_name)
        CfnOutput(self, "Dashboard", value=self.monitoring.dashboard.dashboard_name)
        acknowledge_stack_findings(self, table=self.jobs.table, bucket=self.results.bucket)

    def _grant(self, config: StackConfig, worker: iam.IGrantable) -> None:
        table, bucket = self.jobs.table, self.results.bucket
        queue, dlq = self.queue.queue, self.queue.dead_letter_queue
        api, dead_letters, reaper = (
            self.api.function,
            self.operations.dead_letter_handler,
            self.operations.reaper,
        )
        for who in (api, dead_letters, reaper, worker):
            table.grant_read_write_data(who)
        # The API presigns GETs and PUTs and deletes a forgotten job's blobs; the worker reads and writes.
        bucket.grant_read_write(api)
        bucket.grant_read_write(worker)
        bucket.grant_delete(reaper)
        queue.grant_send_messages(api)
        queue.grant_send_messages(reaper)
        queue.grant_consume_messages(worker)
        dlq.grant_send_messages(worker)
        dlq.grant_consume_messages(reaper)
        dlq.grant_consume_messages(dead_letters)
        if config.deployment.aws.notify_queues:
            notify = iam.PolicyStatement(
                actions=["sqs:SendMessage", "sqs:GetQueueUrl"],
                resources=[
                    f"arn:{Aws.PARTITION}:sqs:{Aws.REGION}:{Aws.ACCOUNT_ID}:{name}"
                    for name in config.deployment.aws.notify_queues
                ],
            )
            for who in (worker, reaper, dead_letters):
                iam.Grant.add_to_principal(
                    grantee=who, actions=notify.actions, resource_arns=notify.resources
                )


_RETENTIONS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def _retention(days: int) -> logs.RetentionDays:
    """The shortest CloudWatch retention that keeps logs at least `days`."""
    return next((r for d, r in _RETENTIONS.items() if d >= days), logs.RetentionDays.TEN_YEARS)
