"""What an operator needs to run `personalize-refresh` against this stack, and nothing more: a managed policy
to attach to the operators' role, group or SSO permission set (stack output `OperatorPolicyArn`).

A run is the refresh's execution and the import and campaign executions it starts and awaits: `runs` and `show`
describe and read the history of all three kinds; only the refresh's is started or stopped by an operator (a
stopped refresh stops its children)."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .compliance import EXECUTIONS_OF_THE_STATE_MACHINE, acknowledge
from .refresh_workflow import executions_arn, executions_pattern

CHILD_EXECUTIONS_READ = (
    "Operators describe and read the history of the executions the refresh starts of its import and campaign "
    "state machines, whose ARNs are known only once each starts; the pattern covers only those state machines' "
    "executions, and the actions only read."
)


class OperatorAccess(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine: sfn.StateMachine,
        table: dynamodb.ITableV2,
        run_function: lambda_.IFunction,
        campaign_arns: list[str],
        queues: list[sqs.IQueue],
        encryption_key: kms.IKey | None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        children = started_by(state_machine)
        # runs, show: a run's import and campaign executions, and their histories (the run's whole history)
        child_reads = [
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:GetExecutionHistory"],
                resources=[executions_arn(child) for child in children],
            )
        ]
        statements = [
            # runs, show: the stack's outputs, the run records, the executions and their histories
            iam.PolicyStatement(actions=["cloudformation:DescribeStacks"], resources=[stack.stack_id]),
            iam.PolicyStatement(actions=["dynamodb:GetItem", "dynamodb:Query"], resources=[table.table_arn]),
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:GetExecutionHistory", "states:StopExecution"],
                resources=[executions_arn(state_machine)],
            ),
            *(child_reads if children else []),
            # start, retry and a replayed Glue event start the state machine; reconcile --fix and a replayed
            # execution end ask the run function to close a record its execution left RUNNING
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[state_machine.state_machine_arn]),
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[run_function.function_arn]),
            # reconcile: what each campaign serves
            iam.PolicyStatement(actions=["personalize:DescribeCampaign"], resources=campaign_arns),
            # dlq
            iam.PolicyStatement(
                actions=["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"],
                resources=[queue.queue_arn for queue in queues],
            ),
        ]
        if encryption_key is not None:  # the table and the queues are encrypted with it
            statements.append(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[encryption_key.key_arn]))
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"Operate the Personalize refresh of stack {stack.stack_name} with personalize-refresh",
            statements=statements,
        )
        pattern = executions_pattern(state_machine)
        acknowledge(self.policy, f"AwsSolutions-IAM5[Resource::{pattern}]", EXECUTIONS_OF_THE_STATE_MACHINE)
        for child in children:
            acknowledge(self.policy, f"AwsSolutions-IAM5[Resource::{executions_pattern(child)}]", CHILD_EXECUTIONS_READ)


def started_by(state_machine: sfn.StateMachine) -> list[sfn.StateMachine]:
    """The state machines whose executions `state_machine` starts: those its construct (the refresh workflow)
    creates beside it."""
    scope = state_machine.node.scope
    siblings = scope.node.children if scope is not None else []
    return [c for c in siblings if isinstance(c, sfn.StateMachine) and c.node.path != state_machine.node.path]
