"""The run table: one item per (campaign_name, base_date), the history of every refresh."""

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


class RunTable(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, encryption_key: kms.IKey | None = None) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.TableV2(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="campaign_name", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="base_date", type=dynamodb.AttributeType.NUMBER),
            billing=dynamodb.Billing.on_demand(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=(
                dynamodb.TableEncryptionV2.customer_managed_key(encryption_key)
                if encryption_key
                else dynamodb.TableEncryptionV2.aws_managed_key()
            ),
            deletion_protection=True,
            # The table is the refresh history: it outlives the stack.
            removal_policy=RemovalPolicy.RETAIN,
        )


def run_table_key_statement(key: kms.IKey) -> iam.PolicyStatement:
    """What a principal needs of a customer-managed key to read and write the run table (and publish alerts).

    Written out rather than `key.grant_encrypt_decrypt`, whose wildcard actions are broader than needed.
    """
    return iam.PolicyStatement(actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], resources=[key.key_arn])
