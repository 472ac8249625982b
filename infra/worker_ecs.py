"""The GPU worker on ECS: EC2 capacity on the GPU-optimized AMI, min 0 instances, and a service that
starts from zero on backlog, tracks backlog per worker up to `concurrency_limit`, and returns to zero
after `container_idle_timeout` of an empty queue."""

from __future__ import annotations

from aws_cdk import CfnElement, Duration, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StackConfig
from infra.nag import accept, acknowledge_ecs_helpers
from infra.worker_image import worker_command, worker_environment, worker_image, worker_secrets

MINUTE = Duration.minutes(1)


class EcsGpuWorker(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        vpc: ec2.IVpc,
        queue: sqs.IQueue,
        backend_env: dict[str, str],
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.cluster = ecs.Cluster(
            self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENABLED
        )
        # A launch template (launch configurations are closed to new accounts) on the GPU-optimized AMI.
        launch_template = ec2.LaunchTemplate(
            self,
            "GpuLaunchTemplate",
            instance_type=ec2.InstanceType(config.instance_type),
            machine_image=ecs.EcsOptimizedImage.amazon_linux2(ecs.AmiHardwareType.GPU),
            require_imdsv2=True,
            role=iam.Role(self, "InstanceRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com")),
            user_data=ec2.UserData.for_linux(),
            security_group=ec2.SecurityGroup(self, "Instances", vpc=vpc, allow_all_outbound=True),
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        200, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3
                    ),
                )
            ],
        )
        self.instances = autoscaling.AutoScalingGroup(
            self,
            "GpuInstances",
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            launch_template=launch_template,
            min_capacity=0,
            max_capacity=config.max_workers,
        )
        self.capacity = ecs.AsgCapacityProvider(
            self,
            "Capacity",
            auto_scaling_group=self.instances,
            enable_managed_scaling=True,
            enable_managed_termination_protection=False,
        )
        self.cluster.add_asg_capacity_provider(self.capacity)

        self.task = ecs.Ec2TaskDefinition(self, "Task")
        deployment = config.deployment
        self.container = self.task.add_container(
            "worker",
            image=worker_image(config),
            command=worker_command(config),
            environment=worker_environment(config, backend_env),
            secrets={
                variable: ecs.Secret.from_secrets_manager(secret)
                for variable, secret in worker_secrets(self, deployment.secrets).items()
            },
            gpu_count=deployment.aws.gpu_count,
            memory_reservation_mib=deployment.aws.worker_memory_mib,
            # SIGTERM, then this long to finish or release the running batch (ECS allows 120 s).
            stop_timeout=Duration.seconds(min(120, int(deployment.stop_timeout) + 10)),
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix="worker", log_group=logs.LogGroup(self, "Logs", retention=log_retention)
            ),
        )
        self.service = ecs.Ec2Service(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task,
            desired_count=0,
            min_healthy_percent=0,
            max_healthy_percent=100,
            capacity_provider_strategies=[
                ecs.CapacityProviderStrategy(capacity_provider=self.capacity.capacity_provider_name, weight=1)
            ],
        )
        self.running_tasks = cloudwatch.Metric(
            namespace="ECS/ContainerInsights",
            metric_name="RunningTaskCount",
            dimensions_map={
                "ClusterName": self.cluster.cluster_name,
                "ServiceName": self.service.service_name,
            },
            statistic="Average",
            period=MINUTE,
        )
        self.scaling = self._scale_on_backlog(config, queue)
        asg = self.instances.node.default_child
        assert isinstance(asg, CfnElement)
        acknowledge_ecs_helpers(self, Stack.of(self).get_logical_id(asg))
        accept(
            self.task,
            "AwsSolutions-ECS2",
            "The environment holds only resource names and switches; secrets come from Secrets Manager.",
        )
        accept(
            self.instances,
            "AwsSolutions-AS3",
            "The capacity provider manages this group; the dashboard shows workers.",
        )

    def _scale_on_backlog(self, config: StackConfig, queue: sqs.IQueue) -> appscaling.ScalableTarget:
        target = appscaling.ScalableTarget(
            self,
            "Scaling",
            service_namespace=appscaling.ServiceNamespace.ECS,
            resource_id=f"service/{self.cluster.cluster_name}/{self.service.service_name}",
            scalable_dimension="ecs:service:DesiredCount",
            min_capacity=0,
            max_capacity=config.max_workers,
        )
        target.node.add_dependency(self.service)
        visible = queue.metric_approximate_number_of_messages_visible(period=MINUTE, statistic="Maximum")
        in_flight = queue.metric_approximate_number_of_messages_not_visible(
            period=MINUTE, statistic="Maximum"
        )

        # 0 -> 1: target tracking cannot start the first worker (backlog per 0 workers is undefined).
        start = appscaling.StepScalingAction(
            self,
            "StartFirstWorker",
            scaling_target=target,
            adjustment_type=appscaling.AdjustmentType.EXACT_CAPACITY,
            cooldown=MINUTE,
        )
        start.add_adjustment(adjustment=1, lower_bound=0)
        cloudwatch.Alarm(
            self,
            "BacklogWithoutWorkers",
            metric=cloudwatch.MathExpression(
                expression="IF(visible >= 1 AND FILL(tasks, 0) < 1, 1, 0)",
                using_metrics={"visible": visible, "tasks": self.running_tasks},
                period=MINUTE,
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ).add_alarm_action(cw_actions.ApplicationScalingAction(start))

        # 1 -> max: keep about `backlog_per_worker` queued jobs per running worker. Scale-in is left to
        # the idle rule below, so a worker is never stopped while the queue still holds its work.
        appscaling.CfnScalingPolicy(
            self,
            "BacklogPerWorker",
            policy_name=f"{config.stack_name}-backlog-per-worker",
            policy_type="TargetTrackingScaling",
            scaling_target_id=target.scalable_target_id,
            target_tracking_scaling_policy_configuration=appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=float(config.deployment.aws.backlog_per_worker),
                disable_scale_in=True,
                scale_out_cooldown=60,
                customized_metric_specification=appscaling.CfnScalingPolicy.CustomizedMetricSpecificationProperty(
                    metrics=[
                        _query(
                            "visible",
                            "AWS/SQS",
                            "ApproximateNumberOfMessagesVisible",
                            {"QueueName": queue.queue_name},
                        ),
                        _query(
                            "tasks",
                            "ECS/ContainerInsights",
                            "RunningTaskCount",
                            {
                                "ClusterName": self.cluster.cluster_name,
                                "ServiceName": self.service.service_name,
                            },
                        ),
                        appscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty(
                            id="backlog",
                            expression="IF(tasks > 0, visible / tasks, visible)",
                            label="Backlog per worker",
                            return_data=True,
                        ),
                    ]
                ),
            ),
        )

        # -> 0: nothing queued and nothing in flight for the idle period.
        stop = appscaling.StepScalingAction(
            self,
            "StopWhenIdle",
            scaling_target=target,
            adjustment_type=appscaling.AdjustmentType.EXACT_CAPACITY,
            cooldown=MINUTE,
        )
        stop.add_adjustment(adjustment=0, upper_bound=0)
        cloudwatch.Alarm(
            self,
            "QueueIdle",
            metric=cloudwatch.MathExpression(
                expression="visible + inflight",
                using_metrics={"visible": visible, "inflight": in_flight},
                period=MINUTE,
            ),
            threshold=0,
            evaluation_periods=config.idle_minutes,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
            # SQS stops reporting an idle queue after a while: silence means idle.
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        ).add_alarm_action(cw_actions.ApplicationScalingAction(stop))
        return target


def _query(
    query_id: str, namespace: str, name: str, dimensions: dict[str, str]
) -> appscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty:
    policy = appscaling.CfnScalingPolicy
    return policy.TargetTrackingMetricDataQueryProperty(
        id=query_id,
        return_data=False,
        metric_stat=policy.TargetTrackingMetricStatProperty(
            stat="Average",
            metric=policy.TargetTrackingMetricProperty(
                namespace=namespace,
                metric_name=name,
                dimensions=[
                    policy.TargetTrackingMetricDimensionProperty(name=k, value=v)
                    for k, v in dimensions.items()
                ],
            ),
        ),
    )
