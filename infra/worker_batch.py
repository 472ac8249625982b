"""The GPU worker on AWS Batch: a compute environment with min 0 vCPUs, a job queue, a job definition
running the worker in drain-then-exit mode, and a scheduled trigger that submits jobs while the SQS
backlog is not empty."""

from __future__ import annotations

from aws_cdk import Duration, Size
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import StackConfig
from infra.functions import python_function
from infra.nag import accept
from infra.worker_image import worker_command, worker_environment, worker_image, worker_secrets


class BatchGpuWorker(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        vpc: ec2.IVpc,
        backend_env: dict[str, str],
        code: lambda_.Code,
        lambda_env: dict[str, str],
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        deployment = config.deployment
        self.compute = batch.ManagedEc2EcsComputeEnvironment(
            self,
            "Compute",
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            instance_types=[ec2.InstanceType(config.instance_type)],
            use_optimal_instance_classes=False,
            images=[batch.EcsMachineImage(image_type=batch.EcsMachineImageType.ECS_AL2_NVIDIA)],
            minv_cpus=0,
            maxv_cpus=config.instance_vcpus * config.max_workers,
        )
        self.job_queue = batch.JobQueue(
            self,
            "Queue",
            compute_environments=[batch.OrderedComputeEnvironment(compute_environment=self.compute, order=1)],
        )
        self.job_role = iam.Role(self, "JobRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
        self.container = batch.EcsEc2ContainerDefinition(
            self,
            "Container",
            image=worker_image(config),
            command=worker_command(config, drain=True),
            environment=worker_environment(config, backend_env),
            secrets={
                variable: batch.Secret.from_secrets_manager(secret)
                for variable, secret in worker_secrets(self, deployment.secrets).items()
            },
            cpu=config.instance_vcpus,
            memory=Size.mebibytes(deployment.aws.worker_memory_mib),
            gpu=deployment.aws.gpu_count,
            job_role=self.job_role,
        )
        self.job_definition = batch.EcsJobDefinition(
            self, "Job", container=self.container, retry_attempts=1, timeout=Duration.hours(24)
        )
        self.trigger = python_function(
            self,
            "Trigger",
            code=code,
            handler="modalkit.aws_handlers.batch_trigger_handler",
            environment={
                **lambda_env,
                "MODALKIT_BATCH_JOB_QUEUE": self.job_queue.job_queue_arn,
                "MODALKIT_BATCH_JOB_DEFINITION": self.job_definition.job_definition_arn,
                "MODALKIT_BATCH_MAX_WORKERS": str(config.max_workers),
                "MODALKIT_BATCH_BACKLOG_PER_WORKER": str(deployment.aws.backlog_per_worker),
            },
            log_retention=log_retention,
        )
        self.trigger.add_to_role_policy(
            iam.PolicyStatement(
                actions=["batch:SubmitJob"],
                resources=[self.job_queue.job_queue_arn, self.job_definition.job_definition_arn],
            )
        )
        self.trigger.add_to_role_policy(iam.PolicyStatement(actions=["batch:ListJobs"], resources=["*"]))
        events.Rule(self, "EveryMinute", schedule=events.Schedule.rate(Duration.minutes(1))).add_target(
            targets.LambdaFunction(self.trigger)
        )
        accept(
            self.compute,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonEC2ContainerServiceforEC2Role]",
            "The standard role that lets Batch's ECS agent register the GPU instances.",
        )
        accept(
            self.container,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:"
            "log-group:/aws/batch/job:*]",
            "Batch's own log group for its jobs' streams.",
        )
        accept(
            self.trigger,
            "AwsSolutions-IAM5[Resource::*]",
            "batch:ListJobs supports no resource-level permissions.",
        )
