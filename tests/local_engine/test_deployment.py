"""The local deployment of a function's asynchronous invocation settings (AWS::Lambda::EventInvokeConfig): created
as the template says when the router emulates it, refused when it does not."""

from __future__ import annotations

from typing import Any

import pytest

from local_engine.aws import LocalAws
from local_engine.deployment import LocalDeployment, UnsupportedResource

ACCOUNT = "123456789012"


def template(**invoke_config: Any) -> dict[str, Any]:
    """A function, a queue and a topic, and the function's EventInvokeConfig with these properties."""
    return {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": []}}},
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Handler": "check_freshness.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]}},
            },
            "Failures": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Config": {
                "Type": "AWS::Lambda::EventInvokeConfig",
                "Properties": {"FunctionName": {"Ref": "Function"}, "Qualifier": "$LATEST", **invoke_config},
            },
        }
    }


def on(queue: str = "Failures", kind: str = "OnFailure") -> dict[str, Any]:
    return {kind: {"Destination": {"Fn::GetAtt": [queue, "Arn"]}}}


def test_the_settings_and_on_failure_queue_are_what_the_router_reads(aws: LocalAws) -> None:
    deployment = LocalDeployment(
        template(MaximumRetryAttempts=1, MaximumEventAgeInSeconds=3600, DestinationConfig=on()), aws, account=ACCOUNT
    ).deploy()

    config = aws.client("lambda").get_function_event_invoke_config(FunctionName=deployment.ref("Function"))

    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (1, 3600)
    assert config["DestinationConfig"]["OnFailure"]["Destination"].endswith(":PersonalizeRefresh-Failures")


@pytest.mark.parametrize(
    "properties",
    [
        {"DestinationConfig": on(kind="OnSuccess")},
        {"DestinationConfig": on(), "Qualifier": "live"},
        {"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sns:us-east-1:123456789012:topic"}}},
    ],
    ids=["an on-success destination", "a version's or alias's", "another destination than a queue"],
)
def test_what_the_router_does_not_emulate_is_refused(aws: LocalAws, properties: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedResource):
        LocalDeployment(template(**properties), aws, account=ACCOUNT).deploy()
