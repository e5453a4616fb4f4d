"""The operator CLI without --local: resources found from the stack's outputs, calls made through the standard
credential chain, here on the embedded AWS (moto answers every boto3 call in the process)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from infra.config import RefreshConfig, parse_config
from local_engine.authorization import Where, decide, iam_action, requests_for, statements_of
from local_engine.refresh import LocalRefresh
from local_engine.synth import synthesize
from operations import pipeline as pipeline_module
from operations.cli import main
from operations.pipeline import OperatorError, StackResources, stack_outputs
from tests.conftest import configuration_in

STACK = "ShopRefresh"
REGION = "eu-west-1"


@pytest.fixture(scope="module")
def config() -> RefreshConfig:
    return parse_config(configuration_in("444455556666", REGION, time_zone="Europe/Berlin"))


@pytest.fixture(scope="module")
def template(config: RefreshConfig) -> dict[str, Any]:
    return dict(synthesize(config).to_json())


@pytest.fixture
def deployed(
    template: dict[str, Any], config: RefreshConfig, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalRefresh]:
    """The stack deployed on the embedded AWS; DescribeStacks answers with its outputs."""
    with LocalRefresh(template, config) as refresh:
        outputs = {name: refresh.deployment.output(name) for name in refresh.template["Outputs"]}

        def described(cloudformation: Any, stack_name: str) -> dict[str, str]:
            assert cloudformation.meta.region_name == REGION
            if stack_name != STACK:
                raise OperatorError(f"no stack {stack_name}")
            return outputs

        monkeypatch.setattr("operations.cli.stack_outputs", described)
        logging.disable(logging.CRITICAL)  # the engine logs each error a state handles; the CLI's output is tested
        try:
            yield refresh
        finally:
            logging.disable(logging.NOTSET)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--stack", STACK, "--region", REGION])
    out, err = capsys.readouterr()
    return code, out, err


def test_start_on_aws_claims_the_day_and_runs_shows_it(
    deployed: LocalRefresh, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "runs")[1].strip() == "No runs match."

    code, out, err = cli(capsys, "start", "--base-date", "20261120")

    assert (code, err) == (0, "")
    assert out.startswith(f"Started arn:aws:states:{REGION}:444455556666:execution:")
    assert "shop-home-recommendations 20261120: " in out  # the claim landed before the command returned
    arn = out.split()[1]
    assert deployed.wait(arn)["status"] == "SUCCEEDED"
    code, out, _ = cli(capsys, "runs", "--json")
    ((run,),) = [json.loads(out)]
    assert (run["base_date"], run["status"], run["trigger"]) == ("20261120", "SUCCEEDED", "manual")


def test_a_stack_without_the_cli_outputs_is_named_with_what_to_do(deployed: LocalRefresh) -> None:
    outputs = {name: deployed.deployment.output(name) for name in deployed.template["Outputs"]}
    del outputs["RunFunctionName"]
    with pytest.raises(OperatorError, match="stack old has no output RunFunctionName: deploy this version"):
        StackResources.from_outputs("old", REGION, outputs)


def test_stack_outputs_reads_describe_stacks_and_names_a_missing_stack() -> None:
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    with Stubber(cloudformation) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": STACK,
                        "CreationTime": "2026-11-01T00:00:00Z",
                        "StackStatus": "UPDATE_COMPLETE",
                        "Outputs": [{"OutputKey": "TimeZone", "OutputValue": "Europe/Berlin"}],
                    }
                ]
            },
            {"StackName": STACK},
        )
        stub.add_client_error(
            "describe_stacks",
            service_error_code="ValidationError",
            service_message="Stack with id Nope does not exist",
            expected_params={"StackName": "Nope"},
        )
        assert stack_outputs(cloudformation, STACK) == {"TimeZone": "Europe/Berlin"}
        with pytest.raises(OperatorError, match="no stack Nope in this account and region"):
            pipeline_module.stack_outputs(cloudformation, "Nope")


def test_retry_of_a_day_still_running_needs_stop_then_stops_it_and_re_runs_the_day(
    deployed: LocalRefresh, capsys: pytest.CaptureFixture[str]
) -> None:
    campaign = deployed.config.campaigns[0].name
    with deployed.clock.hold():  # simulated time stands still: the run stays in its first wait
        stuck = deployed.start_manual({"base_date": "20261120"})
        _wait_for(lambda: any(r["execution_arn"] == stuck for r in deployed.run_records()))

        code, _, err = cli(capsys, "retry", campaign, "20261120")
        assert code == 1
        assert "is still running" in err and "add --stop to stop it and re-run the day" in err

        code, out, err = cli(capsys, "retry", campaign, "20261120", "--stop")

    assert (code, err) == (0, "")
    assert f"Stopped {stuck}" in out
    assert deployed.wait(stuck)["status"] == "ABORTED"
    rerun = out.split("Re-running ", 1)[1].split(": ", 1)[1].split()[0]
    assert deployed.wait(rerun)["status"] == "SUCCEEDED"
    record = deployed.run_record(campaign, 20261120)
    assert (record["run_status"], record["attempt"], record["execution_arn"]) == ("SUCCEEDED", 2, rerun)
    assert record["previous_attempts"][0]["run_status"] == "ABORTED"
    assert record["previous_attempts"][0]["failure_error"] == "StoppedByOperator"


def _wait_for(condition: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.01)


def test_the_operator_policy_allows_every_call_the_cli_makes(
    deployed: LocalRefresh, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str, dict[str, Any]]] = []

    class RecordingSession(boto3.session.Session):
        """The CLI's own session, which notes every call its clients make (not the in-process Lambdas')."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.events.register(
                "before-parameter-build", lambda params, model, **_: calls.append(_call(model, params))
            )

    monkeypatch.setattr("operations.cli.boto3", SimpleNamespace(session=SimpleNamespace(Session=RecordingSession)))
    campaign = deployed.config.campaigns[0].name
    code, out, _ = cli(capsys, "start", "--base-date", "20261120")
    assert code == 0
    started = out.split()[1]
    # The run ends before the rest: `reconcile` reads what the campaign serves only once no run is RUNNING.
    assert deployed.wait(started)["status"] == "SUCCEEDED"
    for argv in (["runs"], ["show", campaign, "20261120"], ["reconcile", "--fix"], ["dlq", "--replay"]):
        assert cli(capsys, *argv)[0] == 0, argv
    assert {"states:StartExecution", "states:DescribeExecution", "dynamodb:Query", "dynamodb:GetItem",
            "states:GetExecutionHistory", "personalize:DescribeCampaign", "sqs:ReceiveMessage"} <= {
        iam_action(service, operation) for service, operation, _ in calls}  # fmt: skip
    # Made by the commands of the tests above (a stop, a closed run, a replayed letter), and before any call here
    # (the stack's outputs are read by a stand-in), with the resources they name.
    queue = deployed.deployment.output("DeadLetterQueueUrl")
    calls += [
        ("stepfunctions", "StopExecution", {"executionArn": started}),
        ("lambda", "Invoke", {"FunctionName": deployed.deployment.output("RunFunctionName")}),
        ("sqs", "DeleteMessage", {"QueueUrl": queue, "ReceiptHandle": "r"}),
        ("sqs", "ChangeMessageVisibility", {"QueueUrl": queue, "ReceiptHandle": "r", "VisibilityTimeout": 0}),
        ("cloudformation", "DescribeStacks", {"StackName": deployed.deployment.stack_id}),
    ]

    statements = statements_of(_operator_policy(deployed))
    where = Where("aws", REGION, deployed.config.account)
    for service, operation, params in calls:
        for request in requests_for(service, operation, params, where):
            assert decide(statements, request) is None, (service, operation, params)


def _operator_policy(deployed: LocalRefresh) -> list[dict[str, Any]]:
    """The operators' managed policy, its tokens resolved as the stack deploys them."""
    return [
        deployed.deployment.resolved_policy(resource["Properties"]["PolicyDocument"])
        for resource in deployed.template["Resources"].values()
        if resource["Type"] == "AWS::IAM::ManagedPolicy"
    ]


def _call(model: Any, params: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    return model.service_model.service_name, model.name, dict(params)
