"""Runs that end without their own Catch (a timeout, an operator's stop, an uncatchable error) are
recorded and alerted anyway: Step Functions' status change event for the execution reaches the
function that claims runs, which gives the records still RUNNING their final status.

Nothing of that may be lost silently. An event EventBridge cannot deliver goes to the rule's dead-letter
queue. An error the function raises goes through Lambda's asynchronous retries, then its record (the event
and the error) to the function's on-failure destination, another queue. And since status change events are
delivered best effort, the hourly schedule also asks the function to sweep: to close the records still
RUNNING whose execution has ended.
"""

from __future__ import annotations

import jsii
from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from refresh_common.environment import ALERT_TOPIC_VARIABLE

from . import compliance
from .constants import (
    ASYNC_MAX_EVENT_AGE,
    ASYNC_RETRY_ATTEMPTS,
    EVENT_MAX_AGE,
    EVENT_RETRY_ATTEMPTS,
    FRESHNESS_CHECK_RATE,
)
from .dead_letter_queue import dead_letter_queue
from .refresh_workflow import executions_arn, executions_pattern

# The ends after which no Catch of ours may have run. SUCCEEDED always recorded itself.
UNRECORDED_ENDS = ["FAILED", "TIMED_OUT", "ABORTED"]


class UnrecordedEnds(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine: sfn.StateMachine,
        function: lambda_.Function,
        topic: sns.ITopic,
        schedule: events.Rule,
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

        # What the function fails to do with an event, after Lambda's retries: a close, or a sweep.
        self.failed_closes = dead_letter_queue(self, "FailedCloses", encryption_key=encryption_key)
        function.configure_async_invoke(
            on_failure=_SendOnlyQueue(self.failed_closes),
            retry_attempts=ASYNC_RETRY_ATTEMPTS,
            max_event_age=Duration.seconds(ASYNC_MAX_EVENT_AGE),
        )

        # A sweep that EventBridge could not deliver within the hour is not worth more: the next one comes.
        schedule.add_target(
            targets.LambdaFunction(
                function,
                event=events.RuleTargetInput.from_object({"action": "sweep"}),
                retry_attempts=2,
                max_event_age=Duration.seconds(FRESHNESS_CHECK_RATE),
            )
        )
        self._allow_describing_executions(state_machine, function)

    def _allow_describing_executions(self, state_machine: sfn.StateMachine, function: lambda_.Function) -> None:
        """The sweep reads how each RUNNING record's execution stands. In a policy of its own: the state
        machine names the function, which depends on its role's default policy, so that policy cannot name
        the state machine's executions."""
        executions = executions_arn(state_machine)
        assert function.role is not None
        policy = iam.Policy(
            self,
            "SweepPolicy",
            roles=[function.role],
            statements=[iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions])],
        )
        pattern = executions_pattern(state_machine)
        compliance.acknowledge(policy, f"AwsSolutions-IAM5[Resource::{pattern}]", compliance.SWEPT_EXECUTIONS)


@jsii.implements(lambda_.IDestination)
class _SendOnlyQueue:
    """An SQS on-failure destination whose function may only send to it: Lambda sends the record with the
    function's role, which needs sqs:SendMessage on the queue and nothing else (SqsDestination grants
    GetQueueAttributes and GetQueueUrl too). An encrypted queue's key is already the function's: it writes the
    run table with it."""

    def __init__(self, queue: sqs.IQueue) -> None:
        self._queue = queue

    def bind(
        self, scope: Construct, fn: lambda_.IFunction, *, type: lambda_.DestinationType
    ) -> lambda_.DestinationConfig:
        fn.add_to_role_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self._queue.queue_arn]))
        return lambda_.DestinationConfig(destination=self._queue.queue_arn)
