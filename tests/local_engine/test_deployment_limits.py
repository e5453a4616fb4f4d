"""The local deployment refuses what CloudFormation or a service would refuse for its size, naming the resource
and the limit, and runs each function with the code asset its template names, settings files included."""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.config import RefreshConfig
from local_engine import assets
from local_engine.assets import MissingAsset
from local_engine.deployment import LimitExceeded
from local_engine.refresh import LocalRefresh
from refresh_common.environment import SETTINGS_FILE
from tests.conftest import code_asset


@pytest.fixture
def template(example_template: Template) -> dict[str, Any]:
    return copy.deepcopy(example_template.to_json())


def logical_id(template: dict[str, Any], resource_type: str, fragment: str) -> str:
    (found,) = [k for k, v in template["Resources"].items() if v["Type"] == resource_type and fragment in k]
    return found


def deploy(template: dict[str, Any], config: RefreshConfig) -> None:
    with LocalRefresh(template, config):
        pass


def refused(template: dict[str, Any], config: RefreshConfig) -> str:
    with pytest.raises(LimitExceeded) as raised:
        deploy(template, config)
    return str(raised.value)


def test_an_environment_over_4_kb_is_refused_as_lambda_measures_it(
    template: dict[str, Any], example_config: RefreshConfig
) -> None:
    function = logical_id(template, "AWS::Lambda::Function", "StartImport")
    variables = template["Resources"][function]["Properties"]["Environment"]["Variables"]
    # The variables as deployed: the table's name resolved, the alert topic's ARN added by the close construct.
    variables["PADDING"] = "x" * 4_000

    message = refused(template, example_config)

    assert message.startswith(f"AWS would refuse this stack:\n  {function}: Lambda: the environment variables of a")
    assert "over the 4,096 allowed (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html)" in message


def test_a_definition_over_1_mb_once_substituted_is_refused(
    template: dict[str, Any], example_config: RefreshConfig
) -> None:
    # A definition that fits the template, and passes 1 MB only once its substitutions are made: measured as
    # Step Functions receives it.
    machine = logical_id(template, "AWS::StepFunctions::StateMachine", "RefreshStateMachine")
    props = template["Resources"][machine]["Properties"]
    definition = json.loads(props["DefinitionString"])
    definition["Comment"] = "${Padding}" * 1_500
    props["DefinitionString"] = json.dumps(definition)
    props["DefinitionSubstitutions"]["Padding"] = "x" * 700

    message = refused(template, example_config)

    assert re.search(
        rf"{machine}: Step Functions: a state machine definition: 1,\d{{3}},\d{{3}} bytes, over the 1,048,576", message
    )


@pytest.mark.parametrize(
    ("grow", "expected"),
    [
        (
            lambda t: t["Resources"].update({f"Logs{i}": {"Type": "AWS::Logs::LogGroup"} for i in range(460)}),
            "template: CloudFormation: resources in a template: 5",
        ),
        (
            lambda t: t["Outputs"].update({f"Out{i}": {"Value": "v"} for i in range(200)}),
            "template: CloudFormation: outputs in a template: 2",
        ),
        (
            lambda t: t.update(Metadata={"Padding": "x" * 1_000_000}),
            "template: CloudFormation: a template body uploaded to S3: 1,",
        ),
    ],
)
def test_a_template_over_cloudformations_limits_is_refused_before_anything_is_created(
    template: dict[str, Any], example_config: RefreshConfig, grow: Callable[[dict[str, Any]], None], expected: str
) -> None:
    grow(template)
    assert expected in refused(template, example_config)


def test_a_rule_with_six_targets_is_refused(template: dict[str, Any], example_config: RefreshConfig) -> None:
    rule = logical_id(template, "AWS::Events::Rule", "Trigger")
    targets = template["Resources"][rule]["Properties"]["Targets"]
    targets += [{**targets[0], "Id": f"Copy{i}"} for i in range(5)]

    assert f"{rule}: EventBridge: targets of a rule: 6 targets, over the 5 allowed" in refused(template, example_config)


def test_an_event_pattern_over_2048_characters_is_refused(
    template: dict[str, Any], example_config: RefreshConfig
) -> None:
    rule = logical_id(template, "AWS::Events::Rule", "Trigger")
    template["Resources"][rule]["Properties"]["EventPattern"]["detail"]["jobName"] += ["x" * 255] * 8

    assert f"{rule}: EventBridge: an event pattern: 2," in refused(template, example_config)


def test_a_roles_policies_over_iams_10240_characters_are_refused(
    template: dict[str, Any], example_config: RefreshConfig
) -> None:
    policy = logical_id(template, "AWS::IAM::Policy", "StartImportRole")
    statements = template["Resources"][policy]["Properties"]["PolicyDocument"]["Statement"]
    statements.append(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": [f"arn:aws:s3:::b/{'k' * 90}{i}" for i in range(100)]}
    )
    role = logical_id(template, "AWS::IAM::Role", "StartImportRole")

    assert f"{role}: IAM: a role's inline policies, together: 1" in refused(template, example_config)


def test_a_function_whose_code_was_never_published_is_refused(
    template: dict[str, Any], example_config: RefreshConfig
) -> None:
    function = logical_id(template, "AWS::Lambda::Function", "DeployVersion")
    template["Resources"][function]["Properties"]["Code"]["S3Key"] = "0000.zip"

    with pytest.raises(MissingAsset, match=rf"{function}: its code s3://cdk-hnb659fds-assets-\S+/0000.zip was never"):
        deploy(template, example_config)


def test_a_function_reads_the_settings_of_the_asset_its_template_names(
    template: dict[str, Any], example_config: RefreshConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the published asset of the template, with a settings file that lacks its campaigns
    function = logical_id(template, "AWS::Lambda::Function", "StartTraining")
    published = code_asset(template, function)
    monkeypatch.setattr(assets, "ASSETS", tmp_path)
    code = template["Resources"][function]["Properties"]["Code"]
    copy_of_it = assets.location(code["S3Bucket"], code["S3Key"])
    shutil.copytree(published, copy_of_it)
    settings = json.loads((copy_of_it / SETTINGS_FILE).read_text())
    del settings["campaigns"]
    (copy_of_it / SETTINGS_FILE).write_text(json.dumps(settings))

    # When the deployed function is invoked
    with LocalRefresh(template, example_config) as refresh:
        response = refresh.aws.client("lambda").invoke(FunctionName=refresh.deployment.ref(function), Payload=b"{}")
        error = json.loads(response["Payload"].read())

    # Then it failed on that very file, which the runtime gave it as its task root
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "InvalidSettings"
    assert error["errorMessage"] == f"{copy_of_it / SETTINGS_FILE}: campaigns: missing"
