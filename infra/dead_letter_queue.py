"""Dead-letter queues: encrypted, TLS-only, kept 14 days, for deliveries that could not be made."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from . import compliance
from .constants import DLQ_RETENTION


def dead_letter_queue(scope: Construct, construct_id: str, *, encryption_key: kms.IKey | None) -> sqs.Queue:
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.KMS if encryption_key else sqs.QueueEncryption.SQS_MANAGED,
        encryption_master_key=encryption_key,
        enforce_ssl=True,
        retention_period=Duration.seconds(DLQ_RETENTION),
    )
    compliance.acknowledge(queue, "AwsSolutions-SQS3", compliance.QUEUE_IS_THE_DLQ)
    compliance.acknowledge(queue, "Serverless-SQSRedrivePolicy", compliance.QUEUE_IS_THE_DLQ)
    if not encryption_key:
        compliance.skip_checkov(queue, {"CKV_AWS_27": compliance.AWS_MANAGED_KEY})
    return queue
