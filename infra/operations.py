"""Operations Lambdas: the DLQ consumer that fails dead-lettered jobs, and the scheduled reaper."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.functions import python_function


class Operations(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        environment: dict[str, str],
        dead_letter_queue: sqs.IQueue,
        reaper_minutes: int,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_handler = python_function(
            self,
            "DeadLetters",
            code=code,
            handler="modalkit.aws_handlers.dead_letter_handler",
            environment=environment,
            log_retention=log_retention,
        )
        self.dead_letter_handler.add_event_source(sources.SqsEventSource(dead_letter_queue, batch_size=10))
        self.reaper = python_function(
            self,
            "Reaper",
            code=code,
            handler="modalkit.aws_handlers.reaper_handler",
            environment=environment,
            log_retention=log_retention,
        )
        events.Rule(
            self, "ReaperSchedule", schedule=events.Schedule.rate(Duration.minutes(reaper_minutes))
        ).add_target(targets.LambdaFunction(self.reaper))
