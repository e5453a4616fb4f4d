"""The stack: composes the constructs and wires them together; no resource is defined here."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_kms as kms
from constructs import Construct

from .alerts import Alerts
from .config import RefreshConfig
from .execution_end import UnrecordedEnds
from .freshness import FreshnessCheck
from .monitoring import Monitoring
from .operators import OperatorAccess
from .refresh_workflow import RefreshWorkflow
from .run_table import RunTable
from .task_functions import TaskFunctions
from .trigger import GlueSuccessTrigger


class PersonalizeRefreshStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: RefreshConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        key = kms.Key.from_key_arn(self, "EncryptionKey", config.kms_key_arn) if config.kms_key_arn else None
        runs = RunTable(self, "Runs", encryption_key=key)
        alerts = Alerts(self, "Alerts", email=config.alert_email, encryption_key=key)
        functions = TaskFunctions(self, "Tasks", config=config, table=runs.table, encryption_key=key)
        workflow = RefreshWorkflow(
            self,
            "Refresh",
            config=config,
            functions=functions,
            table=runs.table,
            topic=alerts.topic,
            encryption_key=key,
        )
        trigger = GlueSuccessTrigger(
            self,
            "Trigger",
            job_names=config.glue_job_names,
            state_machine=workflow.state_machine,
            encryption_key=key,
        )

        freshness = FreshnessCheck(
            self, "Freshness", config=config, table=runs.table, code=functions.code, encryption_key=key
        )
        unrecorded_ends = UnrecordedEnds(
            self,
            "UnrecordedEnds",
            state_machine=workflow.state_machine,
            function=functions.start_import,
            topic=alerts.topic,
            schedule=freshness.rule,
            encryption_key=key,
        )

        for publisher in (workflow.state_machine, workflow.campaign_state_machine, functions.start_import):
            alerts.allow_publishing(publisher.grant_principal)
        monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            state_machine=workflow.state_machine,
            state_machine_logs=workflow.log_group,
            dead_letter_queues={
                "TriggerDeadLetters": trigger.dead_letter_queue,
                "UnrecordedEndsDeadLetters": unrecorded_ends.dead_letter_queue,
            },
            failure_destinations={"FailedCloses": unrecorded_ends.failed_closes},
            watched_queues={"UndeliveredAlerts": alerts.undelivered} if alerts.undelivered else {},
            functions={
                "StartImport": functions.start_import,
                "StartTraining": functions.start_training,
                "DeployVersion": functions.deploy_version,
                "FreshnessCheck": freshness.function,
            },
            table=runs.table,
            topic=alerts.topic,
            freshness=freshness,
        )

        operators = OperatorAccess(
            self,
            "Operators",
            state_machine=workflow.state_machine,
            table=runs.table,
            run_function=functions.start_import,
            campaign_arns=[campaign.campaign_arn for campaign in config.campaigns],
            queues=[trigger.dead_letter_queue, unrecorded_ends.dead_letter_queue, unrecorded_ends.failed_closes],
            encryption_key=key,
        )

        CfnOutput(self, "StateMachineArn", value=workflow.state_machine.state_machine_arn)
        CfnOutput(self, "RunTableName", value=runs.table.table_name)
        CfnOutput(self, "AlertTopicArn", value=alerts.topic.topic_arn)
        CfnOutput(self, "DeadLetterQueueUrl", value=trigger.dead_letter_queue.queue_url)
        CfnOutput(self, "UnrecordedEndsDeadLetterQueueUrl", value=unrecorded_ends.dead_letter_queue.queue_url)
        CfnOutput(self, "FailedClosesDeadLetterQueueUrl", value=unrecorded_ends.failed_closes.queue_url)
        # What the operator CLI needs besides the resources above: the names it validates a start against,
        # the zone that makes "today" a base date, and the function that closes a run left RUNNING.
        CfnOutput(self, "CampaignNames", value=",".join(campaign.name for campaign in config.campaigns))
        CfnOutput(self, "TimeZone", value=config.time_zone)
        CfnOutput(self, "RunFunctionName", value=functions.start_import.function_name)
        CfnOutput(
            self,
            "AlertSubscription",
            value=(
                f"{config.alert_email}: receives nothing until the link in AWS's confirmation e-mail is followed"
                if config.alert_email
                else "no alert_email configured: subscribe to AlertTopicArn, or no one receives alerts and alarms"
            ),
            description="The alert e-mail must be confirmed: SNS delivers nothing to it until its link is followed",
        )
        CfnOutput(self, "DashboardName", value=monitoring.dashboard_name)
        CfnOutput(self, "DashboardUrl", value=monitoring.dashboard_url)
        CfnOutput(
            self,
            "OperatorPolicyArn",
            value=operators.policy.managed_policy_arn,
            description="What personalize-refresh needs: attach it to the operators' role, group or permission set",
        )
