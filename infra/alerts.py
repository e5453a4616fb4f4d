"""The alert topic: a readable message for every failed refresh, by e-mail when configured."""

from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from .dead_letter_queue import dead_letter_queue


class Alerts(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, email: str | None, encryption_key: kms.IKey | None
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="Personalize refresh alerts",
            master_key=encryption_key or kms.Alias.from_alias_name(self, "AwsManagedKey", "alias/aws/sns"),
            enforce_ssl=True,
        )
        if email:
            # Messages SNS could not deliver to the mailbox are kept here rather than dropped.
            self.undelivered = dead_letter_queue(self, "UndeliveredAlerts", encryption_key=encryption_key)
            self.topic.add_subscription(subscriptions.EmailSubscription(email, dead_letter_queue=self.undelivered))
