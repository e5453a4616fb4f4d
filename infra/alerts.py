"""The alert topic: a readable message for every failed refresh, by e-mail when configured; the alarms notify it too.

The topic is encrypted with a customer-managed key: the configured one, or else a key of the stack's own.
Not with the AWS-managed `alias/aws/sns`: its key policy, which nobody can edit, does not let CloudWatch
use it, so an alarm could not publish to the topic (see docs/MONITORING.md).
"""

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .dead_letter_queue import dead_letter_queue


class Alerts(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, email: str | None, encryption_key: kms.IKey | None
    ) -> None:
        super().__init__(scope, construct_id)
        # The key the stack owns when none is configured; the roles that publish need a statement for it.
        self.own_key: kms.Key | None = None
        if not encryption_key:
            self.own_key = kms.Key(
                self,
                "Key",
                description=f"Alert topic of {Stack.of(self).stack_name}: its publishers and CloudWatch alarms",
                enable_key_rotation=True,
                removal_policy=RemovalPolicy.DESTROY,  # it encrypts nothing that outlives the topic
                pending_window=Duration.days(7),
            )
            # Alarms publish as the CloudWatch service; the topic's policy limits which alarms (see Monitoring).
            self.own_key.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    resources=["*"],
                )
            )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="Personalize refresh alerts",
            master_key=encryption_key or self.own_key,
            enforce_ssl=True,
        )
        self.undelivered: sqs.Queue | None = None
        if email:
            # Messages SNS could not deliver to the mailbox are kept here rather than dropped.
            self.undelivered = dead_letter_queue(self, "UndeliveredAlerts", encryption_key=encryption_key)
            self.topic.add_subscription(subscriptions.EmailSubscription(email, dead_letter_queue=self.undelivered))

    def allow_publishing(self, principal: iam.IPrincipal) -> None:
        """Let a role that publishes to the topic use the stack's own key (a configured key is granted with the
        run table's, see run_table_key_statement)."""
        if self.own_key:
            principal.add_to_principal_policy(
                iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self.own_key.key_arn])
            )
