"""Runs that end without their own Catch (a timeout, an operator's stop, an uncatchable error) are
recorded and alerted anyway: Step Functions' status change event for the execution reaches the
function that claims runs, which gives the records still RUNNING their final status."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from refresh_common.environment import ALERT_TOPIC_VARIABLE

from .constants import EVENT_MAX_AGE, EVENT_RETRY_ATTEMPTS
from .dead_letter_queue import dead_letter_queue

# The ends after which no Catch of ours may have run. SUCCEEDED always recorded itself.
UNRECORDED_ENDS = ["FAILED", "TIMED_OUT", "ABORTED"]


class UnrecordedEnds(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine: sfn.IStateMachine,
        function: lambda_.Function,
        topic: sns.ITopic,
        encryption_key: kms.IKey | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = dead_letter_queue(self, "DeadLetterQueue", encryption_key=encryption_key)
        self.rule = events.Rule(
            self,
            "Rule",
            description="Records and alerts a Personalize refresh that ended without recording its outcome",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={"stateMachineArn": [state_machine.state_machine_arn], "status": UNRECORDED_ENDS},
            ),
        )
        self.rule.add_target(
            targets.LambdaFunction(
                function,
                event=events.RuleTargetInput.from_object(
                    {"action": "close", "execution": events.EventField.from_path("$.detail")}
                ),
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=EVENT_RETRY_ATTEMPTS,
                max_event_age=Duration.seconds(EVENT_MAX_AGE),
            )
        )
        function.add_environment(ALERT_TOPIC_VARIABLE, topic.topic_arn)
        function.add_to_role_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=[topic.topic_arn]))
