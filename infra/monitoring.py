"""The dashboard (API, Lambda, queue, DLQ, jobs, latency, workers, GPU time) and the alarms."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from modalkit.worker.metrics import NAMESPACE

MINUTE = Duration.minutes(1)


def job_metric(service: str, name: str, statistic: str, label: str) -> cloudwatch.Metric:
    """A metric the worker emits in embedded metric format (modalkit/worker/metrics.py)."""
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={"Service": service},
        statistic=statistic,
        period=MINUTE,
        label=label,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: str,
        api: apigw.RestApi,
        api_function: lambda_.IFunction,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        workers: cloudwatch.IMetric,
        max_queue_age: int,
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        # A key of our own: CloudWatch cannot publish to a topic under the AWS-managed SNS key.
        key = kms.Key(self, "AlarmsKey", enable_key_rotation=True, description=f"{service} alarm topic")
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(self, "Alarms", enforce_ssl=True, master_key=key)
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        requests = api.metric_count(period=MINUTE, statistic="Sum")
        server_errors = api.metric_server_error(period=MINUTE, statistic="Sum")
        self.alarms = [
            cloudwatch.Alarm(
                self,
                "DeadLettersWaiting",
                alarm_description="Jobs reached the dead-letter queue: see their errors and the worker logs.",
                metric=dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=MINUTE, statistic="Maximum"
                ),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            ),
            cloudwatch.Alarm(
                self,
                "OldestJobWaiting",
                alarm_description="A queued job has waited too long: workers are missing, stuck or too few.",
                metric=queue.metric_approximate_age_of_oldest_message(period=MINUTE, statistic="Maximum"),
                threshold=max_queue_age,
                evaluation_periods=3,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            ),
            cloudwatch.Alarm(
                self,
                "ApiServerErrors",
                alarm_description="More than 5% of API requests answered 5xx.",
                metric=cloudwatch.MathExpression(
                    expression="IF(requests > 0, 100 * errors / requests, 0)",
                    using_metrics={"requests": requests, "errors": server_errors},
                    period=MINUTE,
                    label="5xx rate (%)",
                ),
                threshold=5,
                evaluation_periods=3,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            ),
            cloudwatch.Alarm(
                self,
                "ApiLambdaErrors",
                alarm_description="The API Lambda raised errors.",
                metric=api_function.metric_errors(period=MINUTE, statistic="Sum"),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        ]
        for alarm in self.alarms:
            alarm.add_alarm_action(cw_actions.SnsAction(self.topic))

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{service}-jobs")
        graph = cloudwatch.GraphWidget
        self.dashboard.add_widgets(
            graph(
                title="API requests",
                left=[requests],
                right=[api.metric_client_error(period=MINUTE, statistic="Sum"), server_errors],
            ),
            graph(
                title="API latency",
                left=[
                    api.metric_latency(period=MINUTE, statistic="p50"),
                    api.metric_latency(period=MINUTE, statistic="p99"),
                ],
            ),
            graph(
                title="API Lambda",
                left=[api_function.metric_errors(period=MINUTE, statistic="Sum")],
                right=[
                    api_function.metric_duration(period=MINUTE, statistic="p50"),
                    api_function.metric_duration(period=MINUTE, statistic="p99"),
                ],
            ),
        )
        self.dashboard.add_widgets(
            graph(
                title="Queue",
                left=[
                    queue.metric_approximate_number_of_messages_visible(period=MINUTE, statistic="Maximum"),
                    queue.metric_approximate_number_of_messages_not_visible(
                        period=MINUTE, statistic="Maximum"
                    ),
                ],
                right=[queue.metric_approximate_age_of_oldest_message(period=MINUTE, statistic="Maximum")],
            ),
            graph(
                title="Dead letters",
                left=[
                    dead_letter_queue.metric_approximate_number_of_messages_visible(
                        period=MINUTE, statistic="Maximum"
                    )
                ],
            ),
            graph(title="Workers", left=[workers]),
        )
        self.dashboard.add_widgets(
            graph(
                title="Jobs per minute",
                left=[
                    job_metric(service, "JobsCompleted", "Sum", "completed"),
                    job_metric(service, "JobsFailed", "Sum", "failed"),
                ],
            ),
            graph(
                title="Job latency (submit to result)",
                left=[
                    job_metric(service, "JobLatency", "p50", "p50"),
                    job_metric(service, "JobLatency", "p99", "p99"),
                ],
            ),
            graph(
                title="GPU seconds per job",
                left=[job_metric(service, "GpuSecondsPerJob", "Average", "GPU s/job")],
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms),
        )
