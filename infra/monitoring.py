"""Alarms on the alert topic, and the operators' dashboard (docs/MONITORING.md describes both).

Built with cdk-monitoring-constructs (cdklabs' MonitoringFacade) rather than hand-written widgets: it knows
the metrics of each AWS resource (the state machine's executions, the queues' depth, the Lambdas' errors,
the table's throttles), lays them out in a dashboard, and creates alarms from named thresholds, so this
module only states what to watch and when to alert. It creates no resource that cdk-nag or checkov check.
What it cannot know is the project's own: the freshness check's metrics (monitor_custom), and what only the
state machine's logs hold, its failed task attempts and failed executions by error (Logs Insights widgets
added as segments). Every alarm has its name, description, threshold and actions set here explicitly, so
the template says exactly what alerts whom, whatever the library's defaults become.

What is alarmed of the executions: the refresh's ends only (failed, timed out, aborted), one execution per run.
A run is three kinds of execution (infra/workflow/executions.py), but the import and campaign executions are the
refresh's children: one that ends badly (failed, timed out, stopped) fails the refresh's Task that awaits it, and
the refresh records and alerts it, then ends FAILED itself; a stopped refresh stops its children. Alarms on the
children's counts would alert twice for one failure, and once per child for one stop. Their failures still show
on the dashboard: the three state machines log to one group, which the log tables read.
"""

from __future__ import annotations

from collections.abc import Mapping

import cdk_monitoring_constructs as monitoring
from aws_cdk import ArnFormat, Aws, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from refresh_common.schema import PHASES

from .config import RefreshConfig
from .constants import FRESHNESS_CHECK_RATE
from .freshness import FreshnessCheck

DASHBOARD_RANGE = Duration.days(28)  # four weekly refreshes
EXECUTION_PERIOD = Duration.minutes(5)
# The staleness alarm needs this many hourly checks in a row over the threshold (or missing) to fire: one
# late or lost check alone never alerts, a check that stopped running does within three hours.
STALE_CHECKS = 3
# Failed task attempts, each retried or caught, from the state machines' log (level ALL; the three share it).
FAILED_ATTEMPTS_QUERY = "\n".join(
    (
        "fields details.resourceType as service, details.resource as action, details.error as error",
        '| filter type in ["TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed"]',
        "| stats count(*) as attempts by service, action, error",
        "| sort attempts desc",
    )
)
# What a message in a watched queue means, as its alarm says it.
UNDELIVERED = "EventBridge gave up delivering an event after 24 h of retries"
FAILED_CLOSE = (
    "the run function failed, after Lambda's retries, to close the records of an execution that ended unrecorded "
    "(or to sweep for them): they stay RUNNING and nobody was alerted"
)
# Of the three state machines, which share the log group: a child's end is listed beside the refresh's.
FAILED_EXECUTIONS_QUERY = "\n".join(
    (
        "fields @timestamp, type, details.error as error, details.cause as cause, execution_arn",
        '| filter type in ["ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"]',
        "| sort @timestamp desc",
        "| limit 20",
    )
)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RefreshConfig,
        state_machine: sfn.IStateMachine,
        state_machine_logs: logs.ILogGroup,
        dead_letter_queues: Mapping[str, sqs.IQueue],
        failure_destinations: Mapping[str, sqs.IQueue],
        watched_queues: Mapping[str, sqs.IQueue],
        functions: Mapping[str, lambda_.IFunction],
        table: dynamodb.ITableV2,
        topic: sns.ITopic,
        freshness: FreshnessCheck,
    ) -> None:
        """`dead_letter_queues` maps each alarm's name (after the stack's) to the queue of an EventBridge target
        it watches, `failure_destinations` to a function's on-failure destination; `watched_queues` and
        `functions` are shown by label, with no alarm."""
        super().__init__(scope, construct_id)
        stack_name = Stack.of(self).stack_name
        self.dashboard_name = stack_name
        self.alarm_names: list[str] = []
        # The alarms publish to the alert topic as the CloudWatch service: its policy lets them, and only them.
        alarm_arns = Stack.of(self).format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=f"{stack_name}-*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisStacksAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "ArnLike": {"aws:SourceArn": alarm_arns},
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                },
            )
        )
        alert = monitoring.SnsAlarmActionStrategy(on_alarm_topic=topic)
        alert_and_recover = monitoring.SnsAlarmActionStrategy(on_alarm_topic=topic, on_ok_topic=topic)
        dashboards = monitoring.DefaultDashboardFactory(
            self,
            "Dashboards",
            dashboard_name_prefix=stack_name,
            create_dashboard=True,
            create_summary_dashboard=False,
            create_alarm_dashboard=False,
            detail_dashboard_range=DASHBOARD_RANGE,
        )
        facade = monitoring.MonitoringFacade(
            self,
            "Facade",
            alarm_factory_defaults=monitoring.AlarmFactoryDefaults(
                actions_enabled=True,
                alarm_name_prefix=stack_name,
                action=alert,
                datapoints_to_alarm=1,
                evaluation_periods=1,
            ),
            dashboard_factory=dashboards,
        )

        def name(alarm: str) -> str:
            self.alarm_names.append(f"{stack_name}-{alarm}")
            return self.alarm_names[-1]

        facade.add_large_header(f"Personalize refresh: {stack_name}")
        facade.add_segment(monitoring.SingleWidgetDashboardSegment(self._last_refresh_widget(freshness)))
        facade.monitor_custom(
            alarm_friendly_name="Freshness",
            human_readable_name="Freshness of each campaign (the hourly freshness check)",
            metric_groups=[
                monitoring.CustomMetricGroup(
                    title="Days since the last successful refresh",
                    metrics=[
                        monitoring.CustomMetricWithAlarm(
                            metric=freshness.days_since_refresh(campaign),
                            alarm_friendly_name=f"Stale-{campaign}",
                            add_alarm={
                                "Stale": monitoring.CustomThreshold(
                                    threshold=config.stale_after_days,
                                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                                    treat_missing_data_override=cloudwatch.TreatMissingData.BREACHING,
                                    period=Duration.seconds(FRESHNESS_CHECK_RATE),
                                    evaluation_periods=STALE_CHECKS,
                                    datapoints_to_alarm=STALE_CHECKS,
                                    alarm_name_override=name(f"Stale-{campaign}"),
                                    alarm_description_override=(
                                        f"Campaign {campaign} has had no successful refresh for more than "
                                        f"{config.stale_after_days} days (stale_after_days), or the freshness "
                                        "check stopped publishing. See docs/MONITORING.md."
                                    ),
                                    action_override=alert_and_recover,
                                )
                            },
                        )
                        for campaign in freshness.campaigns
                    ],
                ),
                monitoring.CustomMetricGroup(
                    title="Days since the last run, whatever its outcome",
                    metrics=[freshness.days_since_run(campaign) for campaign in freshness.campaigns],
                ),
                monitoring.CustomMetricGroup(
                    title="Phase durations of the last successful refresh (s)",
                    metrics=[
                        freshness.phase_duration(campaign, phase)
                        for campaign in freshness.campaigns
                        for phase in PHASES
                    ],
                ),
            ],
        )
        facade.monitor_step_function(
            state_machine=state_machine,
            alarm_friendly_name="Refresh",
            human_readable_name="Refresh state machine (one execution per run; its children's ends count through it)",
            add_failed_execution_count_alarm={
                "Failed": self._execution_threshold(
                    name("ExecutionsFailed"),
                    "A refresh execution failed (a run's, which records and alerts an import's or a campaign's "
                    "execution that ended badly): its alert names the campaign, phase and reason.",
                )
            },
            add_timed_out_execution_count_alarm={
                "TimedOut": self._execution_threshold(
                    name("ExecutionsTimedOut"),
                    "A refresh execution reached the state machine's timeout (execution_timeout_hours).",
                )
            },
            add_aborted_execution_count_alarm={
                "Aborted": self._execution_threshold(
                    name("ExecutionsAborted"), "A refresh execution was stopped before it ended."
                )
            },
        )
        for title, query in (
            (
                "Failed task attempts by error: Personalize and other service errors, each retried or caught",
                FAILED_ATTEMPTS_QUERY,
            ),
            ("Executions that failed, timed out or were aborted: the error and its cause", FAILED_EXECUTIONS_QUERY),
        ):
            facade.add_segment(
                monitoring.SingleWidgetDashboardSegment(
                    cloudwatch.LogQueryWidget(
                        title=title,
                        log_group_names=[state_machine_logs.log_group_name],
                        query_string=query,
                        view=cloudwatch.LogQueryVisualizationType.TABLE,
                        width=12,
                        height=8,
                    )
                )
            )
        facade.monitor_custom(
            alarm_friendly_name="DeadLetters",
            human_readable_name=(
                "Dead-letter queues: events EventBridge gave up delivering after 24 h of retries, and what the run "
                "function failed to close after Lambda's retries"
            ),
            metric_groups=[
                monitoring.CustomMetricGroup(
                    title="Messages waiting",
                    metrics=[
                        *(
                            monitoring.CustomMetricWithAlarm(
                                metric=self._visible(queue, alarm),
                                alarm_friendly_name=alarm,
                                add_alarm={
                                    "NotEmpty": self._dead_letter_threshold(
                                        name(alarm), f"{alarm}: {what}", alert_and_recover
                                    )
                                },
                            )
                            for what, queues in (
                                (UNDELIVERED, dead_letter_queues),
                                (FAILED_CLOSE, failure_destinations),
                            )
                            for alarm, queue in queues.items()
                        ),
                        *(self._visible(queue, label) for label, queue in watched_queues.items()),
                    ],
                )
            ],
        )
        facade.monitor_custom(
            alarm_friendly_name="Functions",
            human_readable_name="Lambda functions (a task's error is retried or caught by the state machine)",
            metric_groups=[
                monitoring.CustomMetricGroup(
                    title="Errors",
                    metrics=[f.metric_errors(period=Duration.hours(1), label=label) for label, f in functions.items()],
                ),
                monitoring.CustomMetricGroup(
                    title="Invocations",
                    metrics=[
                        f.metric_invocations(period=Duration.hours(1), label=label) for label, f in functions.items()
                    ],
                ),
            ],
        )
        facade.monitor_dynamo_table(table=table, human_readable_name="Run table")
        self.dashboard_url = (
            f"https://{Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}"
            f"#dashboards/dashboard/{self.dashboard_name}"
        )

    @staticmethod
    def _visible(queue: sqs.IQueue, label: str) -> cloudwatch.Metric:
        return queue.metric_approximate_number_of_messages_visible(
            statistic=cloudwatch.Stats.MAXIMUM, period=EXECUTION_PERIOD, label=label
        )

    @staticmethod
    def _dead_letter_threshold(
        alarm_name: str, what: str, action: monitoring.IAlarmActionStrategy
    ) -> monitoring.CustomThreshold:
        return monitoring.CustomThreshold(
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            alarm_name_override=alarm_name,
            alarm_description_override=(
                f"{what}. List and replay it with `personalize-refresh dlq [--replay]`. See docs/RUNBOOK.md."
            ),
            # SQS stops publishing a queue's metrics after six hours without any API call, even with messages in
            # it: the alarm keeps its state until a datapoint says otherwise, so it returns to OK once drained.
            treat_missing_data_override=cloudwatch.TreatMissingData.IGNORE,
            action_override=action,
        )

    @staticmethod
    def _execution_threshold(alarm_name: str, description: str) -> monitoring.ErrorCountThreshold:
        # One execution is one weekly refresh: a single one ending badly alerts. The count is 0 in the next
        # period, and absent between runs, so the alarm returns to OK by itself: no OK notification.
        return monitoring.ErrorCountThreshold(
            max_error_count=0,
            period=EXECUTION_PERIOD,
            alarm_name_override=alarm_name,
            alarm_description_override=f"{description} See docs/MONITORING.md.",
            treat_missing_data_override=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    @staticmethod
    def _last_refresh_widget(freshness: FreshnessCheck) -> cloudwatch.IWidget:
        return cloudwatch.SingleValueWidget(
            title="Days since each campaign's last successful refresh (hourly check)",
            metrics=[freshness.days_since_refresh(campaign) for campaign in freshness.campaigns],
            width=24,
            height=4,
            set_period_to_time_range=False,
        )
