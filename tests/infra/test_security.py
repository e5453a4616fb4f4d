"""Security tests: the scanners' acknowledgments are documented, the packs fail synth on a new finding,
and a customer-managed key reaches every resource that stores data."""

from __future__ import annotations

import re
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from infra.application import add_refresh_stack
from infra.config import RefreshConfig, parse_config
from local_engine.synth import synthesize
from tests.conftest import example_raw

SECURITY_DOC = Path(__file__).resolve().parents[2] / "docs" / "SECURITY.md"
KEY = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_STATEMENT = {"Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], "Effect": "Allow", "Resource": KEY}
_GENERIC = [
    (
        re.compile(r"arn:<AWS::Partition>:states:[^:]+:\d{12}:execution:<\w+\.Name>:\*"),
        "arn:<AWS::Partition>:states:REGION:ACCOUNT:execution:<STATE_MACHINE.Name>:*",
    ),
    (
        re.compile(r"arn:aws:personalize:[^:]+:\d{12}:dataset-import-job/[^\]]+"),
        "arn:aws:personalize:REGION:ACCOUNT:dataset-import-job/PREFIX-GROUP-DATASET-*",
    ),
    (
        re.compile(r"arn:aws:personalize:[^:]+:\d{12}:solution/[^/\]]+/\*"),
        "arn:aws:personalize:REGION:ACCOUNT:solution/SOLUTION/*",
    ),
]


@pytest.fixture(scope="module")
def cmk_config() -> RefreshConfig:
    return parse_config({**example_raw(), "kms_key_arn": KEY, "alert_email": "ops@example.com"})


@pytest.fixture(scope="module")
def cmk_template(cmk_config: RefreshConfig) -> Template:
    return synthesize(cmk_config)


def acknowledgments(template: Template) -> list[tuple[str, str]]:
    """(finding id, reason) of every cdk-nag acknowledgment and checkov skip in the template."""
    found = []
    for resource in template.to_json()["Resources"].values():
        metadata = resource.get("Metadata", {})
        for rule in metadata.get("cdk_nag", {}).get("rules_to_suppress", []):
            found.append((rule["id"].split("::", 1)[1], rule["reason"]))
        for skip in metadata.get("checkov", {}).get("skip", []):
            found.append((skip["id"], skip["comment"]))
    return found


def generic(finding: str) -> str:
    for pattern, placeholder in _GENERIC:
        finding = pattern.sub(placeholder, finding)
    return finding


def documented() -> set[str]:
    return set(re.findall(r"^\| `([^`]+)` \|", SECURITY_DOC.read_text(), flags=re.MULTILINE))


def test_every_acknowledgment_has_a_reason_and_is_documented(
    example_template: Template, cmk_template: Template
) -> None:
    in_templates = set()
    for template in (example_template, cmk_template):
        for finding, reason in acknowledgments(template):
            assert len(reason) > 40, f"{finding} needs a reason a reviewer would accept"
            in_templates.add(generic(finding))
    assert in_templates == documented(), "docs/SECURITY.md and the template metadata disagree"


def test_a_customer_managed_key_leaves_only_the_architectural_skips(cmk_template: Template) -> None:
    skipped = {finding for finding, _ in acknowledgments(cmk_template) if finding.startswith("CKV")}
    assert skipped == {"CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"}


def test_a_customer_managed_key_encrypts_every_store(cmk_template: Template) -> None:
    cmk_template.has_resource_properties(
        "AWS::DynamoDB::GlobalTable", {"SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"}}
    )
    for replica in cmk_template.to_json()["Resources"].values():
        if replica["Type"] == "AWS::DynamoDB::GlobalTable":
            assert replica["Properties"]["Replicas"][0]["SSESpecification"] == {"KMSMasterKeyId": KEY}
    for log_group in cmk_template.find_resources("AWS::Logs::LogGroup").values():
        assert log_group["Properties"]["KmsKeyId"] == KEY
    for function in cmk_template.find_resources("AWS::Lambda::Function").values():
        assert function["Properties"]["KmsKeyArn"] == KEY
    queues = cmk_template.find_resources("AWS::SQS::Queue")
    assert len(queues) == 4, "the DLQs of the trigger, of the unrecorded ends, of the failed closes, of the alerts"
    assert all(q["Properties"]["KmsMasterKeyId"] == KEY for q in queues.values())
    cmk_template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": KEY})


def test_each_role_may_use_the_key_without_wildcard_actions(cmk_template: Template) -> None:
    policies = cmk_template.find_resources("AWS::IAM::Policy")
    for name in ("StartImportRole", "StartTrainingRole", "DeployVersionRole", "RefreshRole"):
        (policy,) = [p for k, p in policies.items() if name in k]
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert KEY_STATEMENT in statements, name
        kms_actions = [
            a
            for s in statements
            for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
            if a.startswith("kms:")
        ]
        assert all("*" not in action for action in kms_actions)


def test_alert_email_subscription_keeps_undelivered_messages(cmk_template: Template) -> None:
    (subscription,) = cmk_template.find_resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert "RedrivePolicy" in subscription["Properties"]


def test_queues_and_topic_deny_requests_without_tls(example_template: Template) -> None:
    for policy_type in ("AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"):
        for policy in example_template.find_resources(policy_type).values():
            statements = policy["Properties"]["PolicyDocument"]["Statement"]
            assert any(
                s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
                for s in statements
            )


def test_log_groups_have_retention(example_template: Template) -> None:
    for log_group in example_template.find_resources("AWS::Logs::LogGroup").values():
        assert log_group["Properties"]["RetentionInDays"] == 365


def test_the_packs_fail_synth_on_an_unacknowledged_finding(example_config: RefreshConfig) -> None:
    app = cdk.App()
    stack = add_refresh_stack(app, example_config)
    role = iam.Role(stack, "Careless", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["personalize:*"], resources=["*"]))
    with pytest.raises(RuntimeError, match=r"AwsSolutions-IAM5\[Action::personalize:\*\]"):
        app.synth()
