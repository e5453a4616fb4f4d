"""The refresh state machine and the two it starts (a dataset's import, a campaign's refresh): the definitions
infra/workflow builds, inlined with their substitutions, each with a role holding what its own states call."""

from __future__ import annotations

import json
from typing import cast

from aws_cdk import ArnFormat, Aws, CfnElement, Fn, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from . import compliance, workflow
from .config import RefreshConfig
from .constants import EVENT_DETAIL_TYPE, EVENT_SOURCE, LOG_RETENTION
from .personalize_arns import PersonalizeArns
from .run_table import run_table_key_statement
from .task_functions import TaskFunctions


class RefreshWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RefreshConfig,
        functions: TaskFunctions,
        table: dynamodb.ITableV2,
        topic: sns.ITopic,
        encryption_key: kms.IKey | None,
    ) -> None:
        super().__init__(scope, construct_id)
        # Step Functions only delivers logs to groups under this prefix without a resource policy per group.
        # The group is retained with the stack's history, so its name ends with the first part of the
        # stack's own id, which is new each time the stack is created: deleting the stack and deploying
        # it again makes a new group beside the retained one instead of failing on the name.
        stack_id_part = Fn.select(0, Fn.split("-", Fn.select(2, Fn.split("/", Aws.STACK_ID))))
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=Fn.join("", [f"/aws/vendedlogs/states/{Stack.of(self).stack_name}-refresh-", stack_id_part]),
            retention=LOG_RETENTION[config.log_retention_days],
            encryption_key=encryption_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        if not encryption_key:
            compliance.skip_checkov(self.log_group, {"CKV_AWS_158": compliance.AWS_MANAGED_KEY})
        arns = PersonalizeArns(config)
        self._config, self._key = config, encryption_key
        substitutions = {
            "StartImportFunctionArn": functions.start_import.function_arn,
            "StartTrainingFunctionArn": functions.start_training.function_arn,
            "DeployVersionFunctionArn": functions.deploy_version.function_arn,
            "RunTableName": table.table_name,
            "AlertTopicArn": topic.topic_arn,
            "EventSource": EVENT_SOURCE,
            "EventDetailType": EVENT_DETAIL_TYPE,
        }
        stage_events = iam.PolicyStatement(actions=["events:PutEvents"], resources=[default_bus_arn(self)])
        record_writes = iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[table.table_arn])
        alerts = iam.PolicyStatement(actions=["sns:Publish"], resources=[topic.topic_arn])

        # One dataset's import: polled until ACTIVE, its status mirrored into the run's records.
        self.import_state_machine = self._state_machine(
            "ImportStateMachine",
            workflow.IMPORT,
            "Personalize refresh: one dataset's import",
            [
                # An import Start import had no room for is created by its own execution, through the same function.
                iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[functions.start_import.function_arn]),
                iam.PolicyStatement(actions=["personalize:DescribeDatasetImportJob"], resources=arns.import_jobs),
                record_writes,
                stage_events,
            ],
            substitutions,
            acknowledged=arns.import_jobs,
        )
        # One campaign's refresh: trains (and stops a training over its limit), deploys, records and alerts.
        self.campaign_state_machine = self._state_machine(
            "CampaignStateMachine",
            workflow.CAMPAIGN,
            "Personalize refresh: one campaign's training and deployment",
            [
                iam.PolicyStatement(
                    actions=["lambda:InvokeFunction"],
                    resources=[functions.start_training.function_arn, functions.deploy_version.function_arn],
                ),
                iam.PolicyStatement(
                    actions=["personalize:DescribeSolutionVersion", "personalize:StopSolutionVersionCreation"],
                    resources=arns.version_calls,
                ),
                iam.PolicyStatement(actions=["personalize:DescribeCampaign"], resources=arns.campaigns),
                record_writes,
                alerts,
                stage_events,
            ],
            substitutions,
            acknowledged=arns.solution_versions,
        )
        children = [self.import_state_machine, self.campaign_state_machine]
        self.state_machine = self._state_machine(
            "StateMachine",
            workflow.REFRESH,
            "Personalize refresh state machine",
            [
                iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[functions.start_import.function_arn]),
                # The children it starts and awaits (startExecution.sync:2), as the Step Functions developer
                # guide's IAM policies for that integration list them: start, describe and stop (a stopped
                # parent stops its children), and the managed rule through which Step Functions learns of
                # their ends.
                iam.PolicyStatement(
                    actions=["states:StartExecution"], resources=[m.state_machine_arn for m in children]
                ),
                iam.PolicyStatement(
                    actions=["states:DescribeExecution", "states:StopExecution"],
                    resources=[executions_arn(child) for child in children],
                ),
                iam.PolicyStatement(
                    actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                    resources=[
                        Stack.of(self).format_arn(
                            service="events",
                            resource="rule",
                            resource_name="StepFunctionsGetEventsForStepFunctionsExecutionRule",
                        )
                    ],
                ),
                record_writes,
                alerts,
                stage_events,
            ],
            {
                **substitutions,
                "ImportStateMachineArn": self.import_state_machine.state_machine_arn,
                "CampaignStateMachineArn": self.campaign_state_machine.state_machine_arn,
            },
            acknowledged=[],
        )
        for child in children:
            compliance.acknowledge(
                self.state_machine.role,
                f"AwsSolutions-IAM5[Resource::{executions_pattern(child)}]",
                compliance.CHILD_EXECUTIONS,
            )
        self.state_machines = [self.state_machine, *children]

    def _state_machine(
        self,
        construct_id: str,
        name: str,
        description: str,
        statements: list[iam.PolicyStatement],
        substitutions: dict[str, str],
        *,
        acknowledged: list[str],
    ) -> sfn.StateMachine:
        role = iam.Role(
            self,
            construct_id.removesuffix("StateMachine") + "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description=description,
        )
        for statement in statements:
            role.add_to_policy(statement)
        if self._key:
            # The alert topic and the run table are encrypted with the configured key.
            role.add_to_policy(run_table_key_statement(self._key))
        state_machine = sfn.StateMachine(
            self,
            construct_id,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(_definition(self._config, name)),
            definition_substitutions=substitutions,
            role=role,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        compliance.acknowledge(role, "AwsSolutions-IAM5[Resource::*]", compliance.XRAY_AND_LOG_DELIVERY)
        if acknowledged:
            compliance.acknowledge_resources(role, acknowledged, compliance.JOB_NAME_PATTERN)
        return state_machine


def executions_arn(state_machine: sfn.StateMachine) -> str:
    """The ARN of every execution of `state_machine` (its name is known only at deploy)."""
    return Stack.of(state_machine).format_arn(
        service="states",
        resource="execution",
        resource_name=f"{state_machine.state_machine_name}:*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def executions_pattern(state_machine: sfn.StateMachine) -> str:
    """The same ARN as cdk-nag spells it in a finding: the state machine's generated name by its logical id."""
    stack = Stack.of(state_machine)
    machine = stack.get_logical_id(cast(CfnElement, state_machine.node.default_child))
    return f"arn:<AWS::Partition>:states:{stack.region}:{stack.account}:execution:<{machine}.Name>:*"


def default_bus_arn(scope: Construct) -> str:
    """The stage events go to the default bus of the stack's own account and region, and nowhere else."""
    return Stack.of(scope).format_arn(service="events", resource="event-bus", resource_name="default")


def _definition(config: RefreshConfig, name: str) -> str:
    """The ASL text, with the state-machine-wide timeout from the configuration: the refresh's, and the same for
    its children, which start after it and so never time out before it does.

    CDK applies `timeout` only to definitions it builds itself, and TimeoutSeconds must be
    a number, so it is set here rather than through a string substitution.
    """
    definition = workflow.definitions()[name]
    definition["TimeoutSeconds"] = config.execution_timeout_seconds
    return json.dumps(definition, indent=2)
