"""Defects that only an engine as strict as AWS shows, each run through the synthesized state machine:
optional fields that Personalize or Step Functions may omit, transient errors, the names AWS gives
errors, and execution names AWS allows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from infra.config import RefreshConfig
from local_engine.refresh import LocalRefresh

CAMPAIGN = "shop-home-recommendations"
BASE_DATE = 20261129


@pytest.fixture(scope="module")
def example_json(example_template: Any) -> dict[str, Any]:
    return example_template.to_json()


@pytest.fixture
def refresh(example_json: dict[str, Any], example_config: RefreshConfig) -> Iterator[LocalRefresh]:
    with LocalRefresh(example_json, example_config) as local:
        yield local


def run_glue_event(refresh: LocalRefresh) -> dict[str, Any]:
    (arn,) = refresh.put_glue_event()
    return refresh.wait(arn)


def task_errors(refresh: LocalRefresh, execution_arn: str) -> list[str]:
    return [e["taskFailedEventDetails"]["error"] for e in refresh.history(execution_arn) if e["type"] == "TaskFailed"]


@pytest.mark.parametrize(
    ("kind", "phase", "error", "reason"),
    [
        ("import", "IMPORT", "ImportJobFailed", "Personalize gave no failureReason"),
        ("training", "TRAINING", "TrainingFailed", "Personalize gave no failureReason"),
        ("deployment", "DEPLOYMENT", "DeploymentFailed", "Personalize gave no failureReason"),
    ],
)
def test_a_job_that_fails_without_a_reason_is_recorded_and_alerted(
    refresh: LocalRefresh, kind: Any, phase: str, error: str, reason: str
) -> None:
    refresh.emulator.faults.fail_job(kind, None)

    execution = run_glue_event(refresh)

    # Not States.Runtime: the execution ended through its own failure path.
    assert execution["status"] == "FAILED"
    assert execution["error"] == error
    record = refresh.run_record(CAMPAIGN, BASE_DATE)
    assert (record["run_status"], record["failure_phase"], record["failure_error"]) == ("FAILED", phase, error)
    assert reason in record["failure_reason"]
    ((subject, message),) = refresh.alerts()
    assert subject == "Personalize refresh failed"
    assert reason in message


def test_a_throttle_that_outlives_the_lambdas_own_retries_is_retried_by_the_state_machine(
    refresh: LocalRefresh,
) -> None:
    # ThrottlingException is not in Personalize's model. A create is asked without the SDK's retries
    # (personalize.creating_client): the Lambda raises PersonalizeUnavailable at once, and the state machine
    # backs off and calls again, as often as it takes.
    refresh.emulator.faults.raise_error("CreateSolutionVersion", "ThrottlingException", times=2)

    execution = run_glue_event(refresh)

    assert execution["status"] == "SUCCEEDED"
    assert task_errors(refresh, execution["executionArn"]) == ["PersonalizeUnavailable"] * 2
    assert refresh.emulator.count("CreateSolutionVersion") == 3
    versions = refresh.aws.client("personalize").list_solution_versions(
        solutionArn=refresh.config.campaigns[0].solution_arn
    )["solutionVersions"]
    assert len(versions) == 2  # the one the campaign served, and this day's: created once


def test_a_throttled_poll_is_retried_under_the_name_aws_gives_it(refresh: LocalRefresh) -> None:
    refresh.emulator.faults.raise_error("DescribeSolutionVersion", "ThrottlingException", times=2)

    execution = run_glue_event(refresh)

    assert execution["status"] == "SUCCEEDED"
    assert task_errors(refresh, execution["executionArn"]) == ["Personalize.PersonalizeException"] * 2


def test_a_throttled_run_record_write_is_retried_under_the_name_aws_gives_it(refresh: LocalRefresh) -> None:
    training_status_write = "SET solution_version_status = :status"
    for code in ("ProvisionedThroughputExceededException", "RequestLimitExceeded", "InternalServerError"):
        refresh.aws.faults.fail("dynamodb", "UpdateItem", code, body_contains=training_status_write)

    execution = run_glue_event(refresh)

    assert execution["status"] == "SUCCEEDED"
    assert task_errors(refresh, execution["executionArn"]) == [
        "DynamoDB.ProvisionedThroughputExceededException",
        "DynamoDB.RequestLimitExceededException",
        "DynamoDB.InternalServerErrorException",
    ]
    assert refresh.run_record(CAMPAIGN, BASE_DATE)["solution_version_status"] == "ACTIVE"


@pytest.mark.parametrize("name", ["back-fill.20261129", "rerun+2=ops@team!"])
def test_an_execution_with_any_valid_name_refreshes_the_campaign(refresh: LocalRefresh, name: str) -> None:
    execution_arn = refresh.aws.client("stepfunctions").start_execution(
        stateMachineArn=refresh.deployment.state_machine_arn,
        name=name,
        input=json.dumps({"base_date": str(BASE_DATE)}),
    )["executionArn"]

    execution = refresh.wait(execution_arn)

    assert execution["status"] == "SUCCEEDED"
    assert refresh.run_record(CAMPAIGN, BASE_DATE)["run_status"] == "SUCCEEDED"


def test_a_failure_that_cannot_be_recorded_says_so_and_the_end_still_closes_the_record(
    refresh: LocalRefresh,
) -> None:
    refresh.emulator.faults.fail_job("training", "Not enough interactions")
    # DynamoDB refuses the failure write on every try the state machine makes (1 + 5 retries).
    refresh.aws.faults.fail(
        "dynamodb", "UpdateItem", "InternalServerError", times=6, body_contains="SET run_status = :failed"
    )

    execution = run_glue_event(refresh)

    assert execution["status"] == "FAILED"
    alerts = refresh.alerts()
    (campaign_alert,) = [message for subject, message in alerts if "failed in phase TRAINING" in message]
    assert "the run record could not be written (DynamoDB.InternalServerErrorException)" in campaign_alert
    # The execution's end event closes what the state machine could not write: the record agrees with it.
    record = refresh.run_record(CAMPAIGN, BASE_DATE)
    assert (record["run_status"], record["failure_phase"]) == ("FAILED", "TRAINING")
