"""The trigger: a Glue job's success starts a refresh, with retries and a dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .constants import EVENT_MAX_AGE, EVENT_RETRY_ATTEMPTS
from .dead_letter_queue import dead_letter_queue
from .trigger_pattern import glue_success_pattern


class GlueSuccessTrigger(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        job_names: list[str],
        state_machine: sfn.IStateMachine,
        encryption_key: kms.IKey | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = dead_letter_queue(self, "DeadLetterQueue", encryption_key=encryption_key)
        pattern = glue_success_pattern(job_names)
        self.rule = events.Rule(
            self,
            "Rule",
            description="Starts the Personalize refresh when the history export Glue job succeeds",
            event_pattern=events.EventPattern(
                source=pattern["source"], detail_type=pattern["detail-type"], detail=pattern["detail"]
            ),
        )
        self.rule.add_target(
            targets.SfnStateMachine(
                state_machine,
                input=events.RuleTargetInput.from_object(
                    {
                        "trigger": "glue",
                        "job_name": events.EventField.from_path("$.detail.jobName"),
                        "job_run_id": events.EventField.from_path("$.detail.jobRunId"),
                        "event_time": events.EventField.time,
                    }
                ),
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=EVENT_RETRY_ATTEMPTS,
                max_event_age=Duration.seconds(EVENT_MAX_AGE),
            )
        )
