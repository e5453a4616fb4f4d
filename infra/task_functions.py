"""The three task Lambdas, each with its own role holding exactly the actions it calls."""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from refresh_common.environment import SETTINGS_VARIABLE, TABLE_VARIABLE

from . import compliance
from .config import RefreshConfig
from .constants import LAMBDA_MEMORY, LAMBDA_TIMEOUT, LOG_RETENTION
from .lambda_code import task_code
from .personalize_arns import PersonalizeArns
from .run_table import run_table_key_statement


@dataclass(frozen=True)
class _FunctionSpec:
    construct_id: str
    handler: str
    description: str
    # Why it has no Lambda dead-letter queue: how it is invoked, and where its failures go.
    failures: str = compliance.SYNCHRONOUS_LAMBDA


# The run function: it also closes the runs of executions that ended unrecorded (execution_end.py).
START_IMPORT = _FunctionSpec(
    "StartImport",
    "start_import.handler",
    "Claims the run and starts the dataset imports",
    failures=compliance.FAILURE_DESTINATION,
)
START_TRAINING = _FunctionSpec("StartTraining", "start_training.handler", "Creates the solution version")
DEPLOY_VERSION = _FunctionSpec("DeployVersion", "deploy_version.handler", "Updates the campaign to the new version")


class TaskFunctions(Construct):
    """Start import, start training and deploy version: thin, one job each."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RefreshConfig,
        table: dynamodb.ITableV2,
        encryption_key: kms.IKey | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._table = table
        self._key = encryption_key
        self._roles: dict[_FunctionSpec, iam.Role] = {}
        # One asset for every function of the stack: the handlers and their shared package.
        self.code = task_code()
        arns = PersonalizeArns(config)

        self.start_import = self._function(START_IMPORT)
        # The reference authorizes CreateDatasetImportJob on the job alone (not on the dataset it imports into).
        self._allow(self.start_import, ["personalize:CreateDatasetImportJob"], arns.import_jobs)
        self._allow(self.start_import, ["personalize:DescribeDatasetImportJob"], arns.import_jobs)
        self.start_import.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[config.personalize_role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}},
            )
        )
        # Before importing: earlier imports (INCREMENTAL needs one), and what each data location holds.
        self._allow(self.start_import, ["personalize:ListDatasetImportJobs"], ["*"])
        for bucket, prefixes in _data_prefixes(config).items():
            self.start_import.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[f"arn:{arns.partition}:s3:::{bucket}"],
                    conditions={"StringLike": {"s3:prefix": prefixes}},
                )
            )
        # Personalize's own automation is read at the start of every run (automation_guard).
        self._allow(self.start_import, ["personalize:DescribeSolution"], arns.solutions)
        self._allow(self.start_import, ["personalize:DescribeCampaign"], arns.campaigns)
        self._allow(
            self.start_import,
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
            [table.table_arn],
        )

        self.start_training = self._function(START_TRAINING)
        self._allow(self.start_training, ["personalize:CreateSolutionVersion"], arns.solutions)
        # An UPDATE training needs the solution's FULL version; a re-run finds its version by name.
        self._allow(self.start_training, ["personalize:ListSolutionVersions"], ["*"])
        self._allow(
            self.start_training,
            ["personalize:DescribeSolutionVersion", "personalize:GetSolutionMetrics"],
            arns.version_calls,
        )
        # The training policy reads the solution's recipe; a quality gate's metrics are checked against the
        # version the campaign serves before training.
        self._allow(self.start_training, ["personalize:DescribeSolution"], arns.solutions)
        self._allow(self.start_training, ["personalize:DescribeCampaign"], arns.campaigns)
        # Training acts on the imports' end: it records how long each waited for the poll that saw it.
        self._allow(self.start_training, ["personalize:DescribeDatasetImportJob"], arns.import_jobs)
        self._allow(self.start_training, ["dynamodb:UpdateItem", "dynamodb:Query"], [table.table_arn])

        self.deploy_version = self._function(DEPLOY_VERSION)
        self._allow(self.deploy_version, ["personalize:DescribeCampaign", "personalize:UpdateCampaign"], arns.campaigns)
        self._allow(self.deploy_version, ["personalize:GetSolutionMetrics"], arns.version_calls)
        # With the served version reporting no metrics (an UPDATE one), the gate compares with the FULL one.
        self._allow(self.deploy_version, ["personalize:ListSolutionVersions"], ["*"])
        self._allow(self.deploy_version, ["dynamodb:UpdateItem", "dynamodb:Query"], [table.table_arn])

        compliance.acknowledge_resources(self._roles[START_IMPORT], arns.import_jobs, compliance.JOB_NAME_PATTERN)
        compliance.acknowledge_resources(self._roles[START_TRAINING], arns.import_jobs, compliance.JOB_NAME_PATTERN)
        for spec in (START_TRAINING, DEPLOY_VERSION):
            compliance.acknowledge_resources(self._roles[spec], arns.solution_versions, compliance.JOB_NAME_PATTERN)

    @property
    def all(self) -> list[lambda_.Function]:
        return [self.start_import, self.start_training, self.deploy_version]

    def _function(self, spec: _FunctionSpec) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{spec.construct_id}Logs",
            retention=LOG_RETENTION[self._config.log_retention_days],
            encryption_key=self._key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        role = iam.Role(
            self,
            f"{spec.construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{spec.construct_id} task Lambda of the Personalize refresh",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
            )
        )
        compliance.acknowledge(role, "AwsSolutions-IAM5[Resource::*]", compliance.XRAY_AND_LIST_ACTIONS)
        self._roles[spec] = role
        function = uniform_function(
            self,
            spec.construct_id,
            description=spec.description,
            handler=spec.handler,
            code=self.code,
            role=role,
            log_group=log_group,
            environment={
                SETTINGS_VARIABLE: json.dumps(self._config.lambda_settings(), separators=(",", ":")),
                TABLE_VARIABLE: self._table.table_name,
            },
            encryption_key=self._key,
        )
        skips = {
            "CKV_AWS_115": compliance.CONCURRENCY_BOUNDED,
            "CKV_AWS_116": spec.failures,
            "CKV_AWS_117": compliance.NO_VPC,
        }
        if self._key:
            role.add_to_policy(run_table_key_statement(self._key))
        else:
            skips["CKV_AWS_173"] = compliance.AWS_MANAGED_KEY
            compliance.skip_checkov(log_group, {"CKV_AWS_158": compliance.AWS_MANAGED_KEY})
        compliance.skip_checkov(function, skips)
        compliance.acknowledge(function, "Serverless-LambdaDLQ", spec.failures)
        return function

    @staticmethod
    def _allow(function: lambda_.Function, actions: list[str], resources: list[str]) -> None:
        function.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=resources))


def uniform_function(
    scope: Construct,
    construct_id: str,
    *,
    description: str,
    handler: str,
    code: lambda_.Code,
    role: iam.IRole,
    log_group: logs.ILogGroup,
    environment: dict[str, str],
    encryption_key: kms.IKey | None,
) -> lambda_.Function:
    """A Lambda with the project's uniform defaults: the newest Python runtime on arm64, JSON logs to its own
    log group, active tracing, and its environment encrypted with the configured key."""
    return lambda_.Function(
        scope,
        construct_id,
        description=description,
        runtime=lambda_.Runtime.PYTHON_3_14,
        architecture=lambda_.Architecture.ARM_64,
        handler=handler,
        code=code,
        memory_size=LAMBDA_MEMORY,
        timeout=Duration.seconds(LAMBDA_TIMEOUT),
        role=role,
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
        system_log_level_v2=lambda_.SystemLogLevel.WARN,
        tracing=lambda_.Tracing.ACTIVE,
        environment=environment,
        environment_encryption=encryption_key,
    )


def _data_prefixes(config: RefreshConfig) -> dict[str, list[str]]:
    """Each data bucket and the key prefixes of its data locations, any base date ('*')."""
    prefixes: dict[str, list[str]] = {}
    for dataset in config.datasets:
        bucket, _, key = dataset.data_location.removeprefix("s3://").partition("/")
        prefixes.setdefault(bucket, []).append(key.replace("{base_date}", "*"))
    return prefixes
