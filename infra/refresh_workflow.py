"""The refresh state machine: the definition infra/workflow builds, inlined with its substitutions."""

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
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="Personalize refresh state machine",
        )
        arns = PersonalizeArns(config)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[f.function_arn for f in functions.all],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["personalize:DescribeDatasetImportJob"], resources=arns.import_jobs)
        )
        # Polls a training, and stops one over its limit ("Stop training over its limit").
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["personalize:DescribeSolutionVersion", "personalize:StopSolutionVersionCreation"],
                resources=arns.version_calls,
            )
        )
        role.add_to_policy(iam.PolicyStatement(actions=["personalize:DescribeCampaign"], resources=arns.campaigns))
        role.add_to_policy(iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[table.table_arn]))
        role.add_to_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=[topic.topic_arn]))
        role.add_to_policy(iam.PolicyStatement(actions=["events:PutEvents"], resources=[default_bus_arn(self)]))
        if encryption_key:
            # The alert topic is encrypted with the run table's key.
            role.add_to_policy(run_table_key_statement(encryption_key))

        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(_definition(config)),
            definition_substitutions={
                "StartImportFunctionArn": functions.start_import.function_arn,
                "StartTrainingFunctionArn": functions.start_training.function_arn,
                "DeployVersionFunctionArn": functions.deploy_version.function_arn,
                "RunTableName": table.table_name,
                "AlertTopicArn": topic.topic_arn,
                "EventSource": EVENT_SOURCE,
                "EventDetailType": EVENT_DETAIL_TYPE,
            },
            role=role,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        compliance.acknowledge(role, "AwsSolutions-IAM5[Resource::*]", compliance.XRAY_AND_LOG_DELIVERY)
        compliance.acknowledge_resources(role, arns.import_jobs + arns.solution_versions, compliance.JOB_NAME_PATTERN)


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


def _definition(config: RefreshConfig) -> str:
    """The ASL text, with the state-machine-wide timeout from the configuration.

    CDK applies `timeout` only to definitions it builds itself, and TimeoutSeconds must be
    a number, so it is set here rather than through a string substitution.
    """
    definition = workflow.definition()
    definition["TimeoutSeconds"] = config.execution_timeout_seconds
    return json.dumps(definition, indent=2)
