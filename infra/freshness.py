"""The freshness check: an hourly schedule runs a small Lambda that measures, per campaign, how long it has
gone without a successful refresh and publishes it as a CloudWatch metric (lambdas/check_freshness.py).

Why not an alarm on the pipeline's own metrics: a CloudWatch alarm evaluates at most 7 days of its metric
(1 day for periods under an hour), and a weekly pipeline that stops running publishes no datapoint at all,
so "no successful refresh in 8 days" cannot be expressed on them. The check turns the run table, which
remembers every run however old, into one fresh datapoint an hour; the staleness alarm compares the
latest with the configured number of days, and treats a missing datapoint (the check itself stopped) as
breaching.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from refresh_common.environment import FRESHNESS_SETTINGS_VARIABLE, TABLE_VARIABLE

from . import compliance
from .config import RefreshConfig
from .constants import (
    CAMPAIGN_DIMENSION,
    DAYS_SINCE_REFRESH,
    DAYS_SINCE_RUN,
    FRESHNESS_CHECK_RATE,
    LOG_RETENTION,
    METRIC_NAMESPACE,
    PHASE_DIMENSION,
    PHASE_DURATION,
)
from .task_functions import uniform_function


class FreshnessCheck(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RefreshConfig,
        table: dynamodb.ITableV2,
        code: lambda_.Code,
        encryption_key: kms.IKey | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.campaigns = [campaign.name for campaign in config.campaigns]
        log_group = logs.LogGroup(
            self,
            "Logs",
            retention=LOG_RETENTION[config.log_retention_days],
            encryption_key=encryption_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Freshness check of the Personalize refresh",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
            )
        )
        # Reads the run table (and, for a campaign that never ran, when the table was created).
        role.add_to_policy(
            iam.PolicyStatement(actions=["dynamodb:Query", "dynamodb:DescribeTable"], resources=[table.table_arn])
        )
        # PutMetricData has no resource-level permission; the condition keeps it to the project's namespace.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}},
            )
        )
        if encryption_key:
            role.add_to_policy(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[encryption_key.key_arn]))
        compliance.acknowledge(role, "AwsSolutions-IAM5[Resource::*]", compliance.METRICS_XRAY_AND_LOG_DELIVERY)

        self.function = uniform_function(
            self,
            "Function",
            description="Publishes how long each campaign has gone without a successful refresh",
            handler="check_freshness.handler",
            code=code,
            role=role,
            log_group=log_group,
            environment={
                FRESHNESS_SETTINGS_VARIABLE: json.dumps(
                    {
                        "namespace": METRIC_NAMESPACE,
                        "campaigns": self.campaigns,
                        "stale_after_days": config.stale_after_days,
                    },
                    separators=(",", ":"),
                ),
                TABLE_VARIABLE: table.table_name,
            },
            encryption_key=encryption_key,
        )
        self.rule = events.Rule(
            self,
            "Schedule",
            description="Runs the Personalize refresh's hourly checks: freshness, and the sweep of unrecorded ends",
            schedule=events.Schedule.rate(Duration.seconds(FRESHNESS_CHECK_RATE)),
        )
        # A check that could not be delivered within the hour is not worth making late: the next one comes.
        self.rule.add_target(
            targets.LambdaFunction(
                self.function, retry_attempts=2, max_event_age=Duration.seconds(FRESHNESS_CHECK_RATE)
            )
        )

        compliance.acknowledge(self.rule, "Serverless-EventBusDLQ", compliance.SCHEDULED_CHECK)

        skips = {
            "CKV_AWS_115": compliance.CHECK_CONCURRENCY,
            "CKV_AWS_116": compliance.CHECK_FAILURE_ALARMS,
            "CKV_AWS_117": compliance.NO_VPC,
        }
        if not encryption_key:
            skips["CKV_AWS_173"] = compliance.AWS_MANAGED_KEY
            compliance.skip_checkov(log_group, {"CKV_AWS_158": compliance.AWS_MANAGED_KEY})
        compliance.skip_checkov(self.function, skips)
        compliance.acknowledge(self.function, "Serverless-LambdaDLQ", compliance.CHECK_FAILURE_ALARMS)

    def days_since_refresh(self, campaign_name: str) -> cloudwatch.Metric:
        """The staleness alarm's metric: the check publishes one datapoint an hour, the latest is what counts."""
        return self._metric(DAYS_SINCE_REFRESH, campaign_name, label=campaign_name)

    def days_since_run(self, campaign_name: str) -> cloudwatch.Metric:
        return self._metric(DAYS_SINCE_RUN, campaign_name, label=campaign_name)

    def phase_duration(self, campaign_name: str, phase: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=METRIC_NAMESPACE,
            metric_name=PHASE_DURATION,
            dimensions_map={CAMPAIGN_DIMENSION: campaign_name, PHASE_DIMENSION: phase},
            statistic=cloudwatch.Stats.MAXIMUM,
            period=Duration.seconds(FRESHNESS_CHECK_RATE),
            label=f"{campaign_name} {phase.lower()}",
        )

    @staticmethod
    def _metric(name: str, campaign_name: str, *, label: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=METRIC_NAMESPACE,
            metric_name=name,
            dimensions_map={CAMPAIGN_DIMENSION: campaign_name},
            statistic=cloudwatch.Stats.MAXIMUM,
            period=Duration.seconds(FRESHNESS_CHECK_RATE),
            label=label,
        )
