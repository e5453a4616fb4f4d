"""The limits CloudFormation and the services hold a stack to, measured as AWS measures them, and `cdk synth`
refusing a template that breaks one."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from infra import service_limits
from infra.application import add_refresh_stack
from infra.config import RefreshConfig
from infra.service_limits import (
    DASHBOARD_WIDGETS,
    ENVIRONMENT,
    EVENT_PATTERN,
    MANAGED_POLICIES_PER_ROLE,
    MANAGED_POLICY,
    OUTPUTS,
    RESOURCES,
    ROLE_POLICIES,
    RULE_TARGETS,
    TARGET_INPUT,
    TEMPLATE_BODY,
    TRUST_POLICY,
    Breach,
)


def limits_of(breaches: list[Breach]) -> list[tuple[str, Any, int]]:
    return [(breach.resource, breach.limit, breach.measured) for breach in breaches]


def test_the_example_stack_breaks_no_limit(example_template: Template) -> None:
    # (At three datasets and five campaigns: tests/infra/test_lambda_code.py.)
    assert service_limits.breaches(example_template.to_json()) == []


def test_an_environment_is_measured_as_the_json_lambda_quotes() -> None:
    variables = {"A": "x" * (ENVIRONMENT.maximum - len('{"A":""}'))}
    assert service_limits.environment_size(variables) == ENVIRONMENT.maximum
    assert service_limits.function_breaches("Fn", variables) == []

    variables["A"] += "é"  # two bytes in UTF-8
    assert limits_of(service_limits.function_breaches("Fn", variables)) == [("Fn", ENVIRONMENT, 4_098)]
    assert str(service_limits.function_breaches("Fn", variables)[0]) == (
        "Fn: Lambda: the environment variables of a function, together: 4,098 bytes, over the 4,096 allowed "
        "(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html)"
    )


def test_a_template_is_held_to_cloudformations_counts_and_size() -> None:
    log_group = {"Type": "AWS::Logs::LogGroup", "Properties": {}}
    template: dict[str, Any] = {
        "Resources": {f"Logs{i}": log_group for i in range(501)},
        "Outputs": {f"Out{i}": {"Value": "v"} for i in range(201)},
        "Metadata": {"Padding": "x" * TEMPLATE_BODY.maximum},
    }
    found = limits_of(service_limits.template_breaches(template))
    assert [(resource, limit) for resource, limit, _ in found] == [
        ("template", TEMPLATE_BODY),
        ("template", RESOURCES),
        ("template", OUTPUTS),
    ]
    assert found[1][2] == 501


def test_a_rule_is_held_to_five_targets_a_pattern_of_2048_characters_and_inputs_of_8192() -> None:
    pattern = {"source": ["aws.glue"], "detail": {"jobName": ["x" * 2_100]}}
    targets = [{"Id": f"T{i}", "Arn": "arn"} for i in range(6)]
    targets[0]["InputTransformer"] = {"InputTemplate": "y" * 8_193, "InputPathsMap": {}}

    found = limits_of(service_limits.rule_breaches("Rule", {"EventPattern": pattern, "Targets": targets}))

    assert [(resource, limit) for resource, limit, _ in found] == [
        ("Rule", RULE_TARGETS),
        ("Rule", EVENT_PATTERN),
        ("Rule target T0", TARGET_INPUT),
    ]


def test_a_roles_policies_are_counted_together_without_white_space() -> None:
    def document(size: int) -> dict[str, Any]:
        return {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "r" * size}]}

    base = service_limits.policy_size(document(0))
    assert service_limits.policy_size(json.dumps(document(10), indent=4)) == base + 10
    resources = {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": document(TRUST_POLICY.maximum)}},
        # Two inline policies that fit alone and not together.
        "PolicyA": {
            "Type": "AWS::IAM::Policy",
            "Properties": {"PolicyDocument": document(6_000), "Roles": [{"Ref": "Role"}]},
        },
        "PolicyB": {
            "Type": "AWS::IAM::Policy",
            "Properties": {"PolicyDocument": document(6_000), "Roles": [{"Ref": "Role"}]},
        },
        "Overflow": {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {"PolicyDocument": document(MANAGED_POLICY.maximum), "Roles": [{"Ref": "Role"}]},
        },
    }
    for i in range(10):
        resources[f"Managed{i}"] = {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {"PolicyDocument": document(0), "Roles": [{"Ref": "Role"}]},
        }

    found = limits_of(service_limits.role_breaches(resources))

    assert found == [
        ("Role", TRUST_POLICY, base + TRUST_POLICY.maximum),
        ("Overflow", MANAGED_POLICY, base + MANAGED_POLICY.maximum),
        ("Role", ROLE_POLICIES, 2 * (base + 6_000)),
        ("Role", MANAGED_POLICIES_PER_ROLE, 11),
    ]


def test_a_dashboard_is_held_to_500_widgets() -> None:
    body = json.dumps({"widgets": [{"type": "text"}] * 501})
    assert limits_of(service_limits.dashboard_breaches("Dashboard", body)) == [("Dashboard", DASHBOARD_WIDGETS, 501)]


def test_cdk_synth_refuses_a_template_that_breaks_a_limit(example_config: RefreshConfig) -> None:
    # Given the stack with 5,000 characters more in a function's environment
    app = cdk.App()
    stack = add_refresh_stack(app, example_config)
    function = stack.node.find_child("Tasks").node.find_child("StartImport")
    assert isinstance(function, lambda_.Function)
    function.add_environment("PADDING", "x" * 5_000)

    # When it is synthesized, then the synth fails naming the function, the limit and the figure
    with pytest.raises(
        RuntimeError,
        match=r"ERROR TasksStartImport\w+: Lambda: the environment variables of a function, together: 5,\d{3} bytes, "
        r"over the 4,096 allowed \(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html\) "
        r"\(personalize-refresh-service-limits\)",
    ):
        app.synth()
