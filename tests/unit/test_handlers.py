"""Handler tests: the three task Lambdas against moto's DynamoDB, with Personalize stubbed exactly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import deploy_version
import pytest
import start_import
import start_training
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from infra.config import RefreshConfig
from refresh_common import clock, task_input
from refresh_common import personalize as personalize_client
from refresh_common.errors import (
    AutomationConflict,
    InvalidRunInput,
    NameAttemptsExhausted,
    PersonalizeUnavailable,
    RunNotOwned,
    RunRecordBusy,
)
from refresh_common.run_record import MAX_PREVIOUS_ATTEMPTS, MAX_SUMMARY_REASON, RunRecords
from refresh_common.settings import MetricRule, QualityGate, Settings, TrainingPolicy, load_settings
from tests.conftest import run_table

REGION = "ap-northeast-2"
PREFIX = "arn:aws:personalize:ap-northeast-2:123456789012"
EXECUTION = "arn:aws:states:ap-northeast-2:123456789012:execution:Refresh:run-1"
OTHER_EXECUTION = "arn:aws:states:ap-northeast-2:123456789012:execution:Refresh:run-2"
JOB_NAME = "refresh-shop-recs-interactions-20261129"
JOB_ARN = f"{PREFIX}:dataset-import-job/{JOB_NAME}"
SOLUTION = f"{PREFIX}:solution/shop-user-personalization"
CAMPAIGN = f"{PREFIX}:campaign/shop-home-recommendations"
CAMPAIGN_NAME = "shop-home-recommendations"
VERSION = f"{SOLUTION}/0123abcd"
USER_PERSONALIZATION = "arn:aws:personalize:::recipe/aws-user-personalization"
GLUE_EVENT = {
    "trigger": "glue",
    "job_name": "weekly-user-behaviour-export",
    "job_run_id": "jr_" + "a" * 64,
    "event_time": "2026-11-28T16:30:00Z",  # 01:30 on the 29th in Seoul
}


@pytest.fixture
def settings(example_config: RefreshConfig) -> Settings:
    return load_settings({"REFRESH_SETTINGS": json.dumps(example_config.lambda_settings()), "RUN_TABLE_NAME": "runs"})


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws():
        yield run_table(REGION)


@pytest.fixture
def records(table: Any) -> RunRecords:
    return RunRecords(table, now=lambda: 1_796_000_000.0)


@pytest.fixture
def personalize() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("personalize", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def record(table: Any, base_date: int = 20261129) -> dict[str, Any]:
    return table.get_item(Key={"campaign_name": "shop-home-recommendations", "base_date": base_date})["Item"]


def claim(settings: Settings, records: RunRecords, payload: Any, execution: str = EXECUTION) -> dict[str, Any]:
    return start_import.claim({"action": "claim", "input": payload, "execution_arn": execution}, settings, records)


# Claim -----------------------------------------------------------------------------------------


def test_glue_event_resolves_the_base_date_in_the_configured_time_zone(
    settings: Settings, records: RunRecords, table: Any
) -> None:
    run = claim(settings, records, GLUE_EVENT)
    assert run["duplicate"] is False
    assert run["base_date"] == "20261129"
    assert run["campaigns"] == [{"campaign_name": "shop-home-recommendations", "campaign_arn": CAMPAIGN}]
    assert "polling" not in run  # each phase's Lambda plans its own polls
    item = record(table)
    assert item["run_status"] == "RUNNING"
    assert item["execution_arn"] == EXECUTION
    assert item["glue_job_run_id"] == GLUE_EVENT["job_run_id"]
    assert item["attempt"] == 1
    assert item["started_datetime"] == Decimal(1_796_000_000)


def test_manual_start_uses_its_base_date(settings: Settings, records: RunRecords, table: Any) -> None:
    run = claim(settings, records, {"base_date": "20261101"})
    assert (run["base_date"], run["trigger"]) == ("20261101", "manual")
    assert record(table, 20261101)["trigger"] == "manual"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("not an object", "must be a JSON object"),
        ({}, "must be a Glue success event"),
        ({"base_date": "2026-11-01"}, "base_date must be a string YYYYMMDD"),
        ({"base_date": "20261341"}, "is not a calendar date"),
        ({"base_date": 20261101}, "base_date must be a string YYYYMMDD"),
        ({"base_date": "20261101", "campaign_arn": "arn:aws:personalize:x"}, "unknown field(s)"),
        ({**GLUE_EVENT, "job_name": "someone-elses-job"}, "is not one of the configured Glue jobs"),
        ({**GLUE_EVENT, "job_run_id": "1; drop"}, "job_run_id must look like"),
        ({**GLUE_EVENT, "event_time": "yesterday"}, "event_time must be an ISO-8601 time"),
        ({k: v for k, v in GLUE_EVENT.items() if k != "job_run_id"}, "missing field(s)"),
        ({"base_date": "20261101", "campaigns": "shop"}, "campaigns must be a list of distinct campaign names"),
        ({"base_date": "20261101", "campaigns": []}, "campaigns must be a list of distinct campaign names"),
        ({"base_date": "20261101", "campaigns": ["a", "a"]}, "campaigns must be a list of distinct campaign names"),
        ({"base_date": "20261101", "campaigns": [7]}, "campaigns must be a list of distinct campaign names"),
        ({"base_date": "20261101", "campaigns": ["someone-elses"]}, "are not configured; the configured campaigns are"),
        ({**GLUE_EVENT, "campaigns": ["shop"]}, "unknown field(s)"),
    ],
)
def test_bad_input_fails_fast_and_writes_nothing(
    settings: Settings, records: RunRecords, table: Any, payload: Any, message: str
) -> None:
    with pytest.raises(InvalidRunInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        claim(settings, records, payload)
    assert table.scan()["Items"] == []


def test_a_forced_manual_start_claims_a_completed_day_again_and_says_so(
    settings: Settings, records: RunRecords, table: Any
) -> None:
    claim(settings, records, {"base_date": "20261101"})
    table.update_item(
        Key={"campaign_name": CAMPAIGN_NAME, "base_date": 20261101},
        UpdateExpression="SET run_status = :done",
        ExpressionAttributeValues={":done": "GATED"},
    )
    assert claim(settings, records, {"base_date": "20261101"}, execution=OTHER_EXECUTION)["duplicate"] is True

    forced = claim(settings, records, {"base_date": "20261101", "force": True}, execution=OTHER_EXECUTION)

    assert forced["duplicate"] is False
    item = record(table, 20261101)
    assert (item["attempt"], item["forced"], item["previous_attempts"][0]["run_status"]) == (2, True, "GATED")
    assert records.afresh_since([CAMPAIGN_NAME], "20261101") == float(item["started_datetime"])


def test_duplicate_event_for_a_running_or_succeeded_day_is_skipped(
    settings: Settings, records: RunRecords, table: Any
) -> None:
    claim(settings, records, GLUE_EVENT)
    duplicate = claim(settings, records, GLUE_EVENT, execution=OTHER_EXECUTION)
    assert duplicate["duplicate"] is True
    assert duplicate["skipped"] == {"shop-home-recommendations": "RUNNING"}
    assert duplicate["skipped_campaign_names"] == ["shop-home-recommendations"]
    assert record(table)["execution_arn"] == EXECUTION

    table.update_item(
        Key={"campaign_name": "shop-home-recommendations", "base_date": 20261129},
        UpdateExpression="SET run_status = :s",
        ExpressionAttributeValues={":s": "SUCCEEDED"},
    )
    assert claim(settings, records, GLUE_EVENT, execution=OTHER_EXECUTION)["duplicate"] is True


def test_failed_day_may_be_claimed_again_and_keeps_its_history(
    settings: Settings, records: RunRecords, table: Any
) -> None:
    claim(settings, records, GLUE_EVENT)
    table.update_item(
        Key={"campaign_name": "shop-home-recommendations", "base_date": 20261129},
        UpdateExpression="SET run_status = :s, failure_phase = :p, failure_reason = :r",
        ExpressionAttributeValues={":s": "FAILED", ":p": "TRAINING", ":r": "boom"},
    )
    rerun = claim(settings, records, {"base_date": "20261129"}, execution=OTHER_EXECUTION)
    assert rerun["duplicate"] is False
    item = record(table)
    assert (item["run_status"], item["execution_arn"], item["attempt"]) == ("RUNNING", OTHER_EXECUTION, 2)
    (previous,) = item["previous_attempts"]
    assert previous["execution_arn"] == EXECUTION
    assert (previous["failure_phase"], previous["failure_reason"]) == ("TRAINING", "boom")


def test_a_run_still_running_past_the_execution_timeout_may_be_claimed_again(
    settings: Settings, records: RunRecords, table: Any
) -> None:
    claim(settings, records, GLUE_EVENT)
    key = {"campaign_name": "shop-home-recommendations", "base_date": 20261129}
    # Still within the timeout: the execution may be running, so a second event is a duplicate.
    assert claim(settings, records, GLUE_EVENT, execution=OTHER_EXECUTION)["duplicate"] is True

    started_long_ago = 1_796_000_000 - settings.execution_timeout_seconds - 1
    table.update_item(
        Key=key, UpdateExpression="SET started_datetime = :t", ExpressionAttributeValues={":t": started_long_ago}
    )
    rerun = claim(settings, records, {"base_date": "20261129"}, execution=OTHER_EXECUTION)

    assert rerun["duplicate"] is False
    item = record(table)
    assert (item["execution_arn"], item["attempt"]) == (OTHER_EXECUTION, 2)
    assert item["previous_attempts"][0]["run_status"] == "ABANDONED"


def test_a_retried_claim_of_the_same_execution_keeps_its_claim(
    settings: Settings, records: RunRecords, table: Any
) -> None:
    # The Lambda wrote the claim, then its answer was lost and the state machine called it again.
    claim(settings, records, GLUE_EVENT)
    again = claim(settings, records, GLUE_EVENT)
    assert again["duplicate"] is False
    assert [c["campaign_name"] for c in again["campaigns"]] == ["shop-home-recommendations"]
    assert (record(table)["execution_arn"], record(table)["attempt"]) == (EXECUTION, 1)


def cancelled_transaction(*codes: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
            "CancellationReasons": [{"Code": code} for code in codes],
        },
        "TransactWriteItems",
    )


def test_a_claim_lost_to_another_claim_is_a_duplicate(
    settings: Settings, records: RunRecords, table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lose(**_: Any) -> None:
        raise cancelled_transaction("ConditionalCheckFailed")

    monkeypatch.setattr(table.meta.client, "transact_write_items", lose)
    run = claim(settings, records, GLUE_EVENT)
    assert run["duplicate"] is True
    assert run["skipped"] == {"shop-home-recommendations": "CLAIMED_CONCURRENTLY"}


@pytest.mark.parametrize("reasons", [("TransactionConflict",), ("None", "ThrottlingError")])
def test_a_claim_cancelled_by_a_conflict_or_throttle_is_retried_not_skipped(
    settings: Settings, records: RunRecords, table: Any, monkeypatch: pytest.MonkeyPatch, reasons: tuple[str, ...]
) -> None:
    def cancel(**_: Any) -> None:
        raise cancelled_transaction(*reasons)

    monkeypatch.setattr(table.meta.client, "transact_write_items", cancel)
    with pytest.raises(RunRecordBusy, match=reasons[-1]):
        claim(settings, records, GLUE_EVENT)


def test_a_claim_cancelled_for_another_reason_fails_loudly(
    settings: Settings, records: RunRecords, table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cancel(**_: Any) -> None:
        raise cancelled_transaction("ValidationError")

    monkeypatch.setattr(table.meta.client, "transact_write_items", cancel)
    with pytest.raises(ClientError, match="TransactionCanceledException"):
        claim(settings, records, GLUE_EVENT)


def test_the_attempt_history_stays_small_however_often_a_day_is_run(
    settings: Settings, records: RunRecords, table: Any
) -> None:
    key = {"campaign_name": "shop-home-recommendations", "base_date": 20261129}
    for attempt in range(1, 16):
        execution = f"{EXECUTION}-{attempt}"
        claim(settings, records, {"base_date": "20261129"}, execution=execution)
        table.update_item(
            Key=key,
            UpdateExpression="SET run_status = :s, failure_reason = :r",
            ExpressionAttributeValues={":s": "FAILED", ":r": "x" * 50_000},
        )
    item = record(table)
    assert item["attempt"] == 15
    assert len(item["previous_attempts"]) == MAX_PREVIOUS_ATTEMPTS
    assert item["previous_attempts"][-1]["execution_arn"] == f"{EXECUTION}-14"
    assert all(len(a["failure_reason"]) <= MAX_SUMMARY_REASON for a in item["previous_attempts"])
    assert len(json.dumps(item, default=str)) < 100_000


# Start import ------------------------------------------------------------------------------------


def import_event(settings: Settings, records: RunRecords) -> dict[str, Any]:
    return {"action": "import", "run": claim(settings, records, GLUE_EVENT)}


class AutomatedPersonalize:
    """A solution that trains by itself, and a campaign that does not follow it."""

    def describe_solution(self, solutionArn: str) -> dict[str, Any]:
        return {"solution": {"solutionArn": solutionArn, "performAutoTraining": True}}

    def describe_campaign(self, campaignArn: str) -> dict[str, Any]:
        return {"campaign": {"campaignArn": campaignArn, "campaignConfig": {"itemExplorationConfig": {}}}}


def test_automation_is_refused_by_default_naming_the_fix(settings: Settings, records: RunRecords) -> None:
    with pytest.raises(
        AutomationConflict, match=r"trains by itself \(rate\(7 days\)\): aws personalize update-solution"
    ):
        start_import.guard_automation(import_event(settings, records), settings, records, AutomatedPersonalize(), None)


def test_with_warn_automation_is_recorded_and_alerted_once_however_often_the_step_runs(
    settings: Settings, records: RunRecords, table: Any
) -> None:
    settings = replace(settings, automation_guard="warn", alert_topic_arn="arn:aws:sns:ap-northeast-2:1:alerts")
    event, alerts = import_event(settings, records), RecordedAlerts()

    for _ in range(2):  # a Lambda retried by the state machine
        start_import.guard_automation(event, settings, records, AutomatedPersonalize(), alerts)

    (alert,) = alerts.published
    assert "runs anyway (automation_guard is warn)" in alert["Message"]
    (warning,) = record(table)["warnings"]
    assert warning.startswith("solution shop-user-personalization trains by itself")


def expected_create(job_name: str = JOB_NAME) -> dict[str, Any]:
    return {
        "jobName": job_name,
        "datasetArn": f"{PREFIX}:dataset/shop-recs/INTERACTIONS",
        "dataSource": {"dataLocation": "s3://shop-behaviour-history-123456789012/interactions/base_date=20261129/"},
        "roleArn": "arn:aws:iam::123456789012:role/PersonalizeS3ReadAccess",
        "importMode": "FULL",
    }


def test_start_import_creates_a_deterministically_named_job(
    settings: Settings, records: RunRecords, table: Any, personalize: tuple[Any, Stubber], monkeypatch: Any
) -> None:
    client, stubber = personalize
    monkeypatch.setattr(clock, "now", lambda: 1_796_000_000.0)
    stubber.add_response("create_dataset_import_job", {"datasetImportJobArn": JOB_ARN}, expected_create())
    result = start_import.start_imports(import_event(settings, records), settings, records, client)
    waits = result["import_jobs"][0]["poll"]["waits"]
    assert result["import_jobs"] == [
        {
            "primary": True,
            "dataset_name": "interactions",
            "job_name": JOB_NAME,
            "dataset_import_job_arn": JOB_ARN,
            "status": "CREATE PENDING",
            # No earlier import: polls from 60 s, growing to the longest wait (300 s by default).
            "poll": {"waits": waits, "index": 0, "next": 60, "last": len(waits) - 1},
            # The import's limit (6 h by default), for the poll loop to compare each check with.
            "checked_at": "2026-11-30T00:53:20.000Z",
            "deadline": "2026-11-30T06:53:20.000Z",
            "limit": "6 h",
        }
    ]
    item = record(table)
    assert (item["phase"], item["dataset_import_job_arn"], item["dataset_import_job_status"]) == (
        "IMPORT",
        JOB_ARN,
        "CREATE PENDING",
    )
    assert item["dataset_import_jobs"]["interactions"]["arn"] == JOB_ARN


def test_start_import_reuses_the_job_of_an_earlier_attempt(
    settings: Settings, records: RunRecords, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    stubber.add_client_error(
        "create_dataset_import_job", "ResourceAlreadyExistsException", expected_params=expected_create()
    )
    stubber.add_response(
        "describe_dataset_import_job",
        {"datasetImportJob": {"status": "CREATE IN_PROGRESS"}},
        {"datasetImportJobArn": JOB_ARN},
    )
    result = start_import.start_imports(import_event(settings, records), settings, records, client)
    assert result["import_jobs"][0]["status"] == "CREATE IN_PROGRESS"
    assert result["import_jobs"][0]["dataset_import_job_arn"] == JOB_ARN


def test_start_import_moves_past_a_failed_job_to_the_next_name(
    settings: Settings, records: RunRecords, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    stubber.add_client_error("create_dataset_import_job", "ResourceAlreadyExistsException")
    stubber.add_response("describe_dataset_import_job", {"datasetImportJob": {"status": "CREATE FAILED"}})
    stubber.add_response(
        "create_dataset_import_job", {"datasetImportJobArn": JOB_ARN + "-02"}, expected_create(JOB_NAME + "-02")
    )
    result = start_import.start_imports(import_event(settings, records), settings, records, client)
    assert result["import_jobs"][0]["job_name"] == JOB_NAME + "-02"


@pytest.mark.parametrize(
    "code", ["LimitExceededException", "ResourceInUseException", "InvalidInputException", "ResourceNotFoundException"]
)
def test_start_import_lets_personalize_errors_propagate_by_name(
    settings: Settings, records: RunRecords, personalize: tuple[Any, Stubber], code: str
) -> None:
    client, stubber = personalize
    stubber.add_client_error("create_dataset_import_job", code)
    with pytest.raises(client.exceptions.ClientError) as raised:
        start_import.start_imports(import_event(settings, records), settings, records, client)
    # The class name is the error name the state machine's Retry and Catch match.
    assert type(raised.value).__name__ == code


def test_start_import_gives_up_when_every_name_is_taken_by_failures(
    settings: Settings, records: RunRecords, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    for _ in range(20):
        stubber.add_client_error("create_dataset_import_job", "ResourceAlreadyExistsException")
        stubber.add_response("describe_dataset_import_job", {"datasetImportJob": {"status": "CREATE FAILED"}})
    with pytest.raises(NameAttemptsExhausted):
        start_import.start_imports(import_event(settings, records), settings, records, client)


def test_only_the_claiming_execution_may_write_the_record(
    settings: Settings, records: RunRecords, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    event = import_event(settings, records)
    event["run"]["execution_arn"] = OTHER_EXECUTION
    stubber.add_response("create_dataset_import_job", {"datasetImportJobArn": JOB_ARN})
    with pytest.raises(RunNotOwned):
        start_import.start_imports(event, settings, records, client)


# Start training ----------------------------------------------------------------------------------


def campaign_event(settings: Settings, records: RunRecords, **extra: Any) -> dict[str, Any]:
    run = claim(settings, records, GLUE_EVENT)
    return {
        "campaign_name": "shop-home-recommendations",
        "base_date": run["base_date"],
        "execution_arn": EXECUTION,
        **extra,
    }


def test_start_training_creates_a_full_version_named_for_the_day(
    settings: Settings, records: RunRecords, table: Any, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    stubber.add_response(
        "create_solution_version",
        {"solutionVersionArn": VERSION},
        {"name": "refresh-20261129", "solutionArn": SOLUTION, "trainingMode": "FULL"},
    )
    result = start_training.start_training(campaign_event(settings, records), settings, records, client)
    limit, poll = result.pop("limit"), result.pop("poll")
    # No earlier training: polls from 60 s, growing to the longest wait (300 s by default), covering 24 h.
    assert (poll["index"], poll["next"], poll["waits"][:3], max(poll["waits"])) == (0, 60, [60, 75, 94], 300)
    assert record(table)["training_poll_plan"]["reason"].startswith("no earlier run")
    assert result == {
        "solution_version_arn": VERSION,
        "solution_version_name": "refresh-20261129",
        "status": "CREATE PENDING",
        "training_mode": "FULL",
        "training_mode_reason": "the campaign's training policy is FULL",
    }
    assert record(table)["training_mode_reason"] == result["training_mode_reason"]
    assert limit["limit"] == "24 h"  # the default training limit
    assert limit["checked_at"] < limit["deadline"]
    item = record(table)
    assert (item["phase"], item["solution_version_arn"], item["solution_version_status"]) == (
        "TRAINING",
        VERSION,
        "CREATE PENDING",
    )
    assert item["solution_name"] == "shop-user-personalization"


def test_start_training_goes_on_when_an_import_end_cannot_be_read_for_its_idle_figure(
    settings: Settings, records: RunRecords, table: Any, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    event = campaign_event(settings, records)
    table.update_item(  # the import as the state machine records it once a poll saw it ACTIVE
        Key={"campaign_name": "shop-home-recommendations", "base_date": 20261129},
        UpdateExpression="SET dataset_import_jobs = :jobs",
        ExpressionAttributeValues={
            ":jobs": {
                "interactions": {
                    "arn": f"{PREFIX}:dataset-import-job/j",
                    "status": "ACTIVE",
                    "polls": 3,
                    "updated_at": "2026-11-29T01:00:00Z",
                }
            }
        },
    )
    stubber.add_client_error("describe_dataset_import_job", "AccessDeniedException")
    stubber.add_response("create_solution_version", {"solutionVersionArn": VERSION})

    result = start_training.start_training(event, settings, records, client)

    assert result["solution_version_arn"] == VERSION
    assert "idle_seconds" not in record(table)["dataset_import_jobs"]["interactions"]


def test_start_training_ages_the_last_full_version_by_the_lambdas_clock(
    settings: Settings, records: RunRecords, personalize: tuple[Any, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a FULL version trained years from the wall clock, and the Lambdas' clock a week after it
    trained = datetime(2031, 3, 2, tzinfo=UTC)
    campaign = replace(settings.campaigns[0], training=TrainingPolicy("UPDATE", full_every_days=7))
    settings = replace(settings, campaigns=(campaign,))
    event = campaign_event(settings, records)
    monkeypatch.setattr(clock, "now", lambda: trained.timestamp() + 7 * 86_400)
    client, stubber = personalize
    stubber.add_response("describe_solution", {"solution": {"recipeArn": USER_PERSONALIZATION}})
    stubber.add_response(
        "list_solution_versions",
        {
            "solutionVersions": [
                {
                    "solutionVersionArn": f"{SOLUTION}/full",
                    "status": "ACTIVE",
                    "trainingMode": "FULL",
                    "creationDateTime": trained,
                }
            ]
        },
    )
    stubber.add_response(
        "create_solution_version",
        {"solutionVersionArn": VERSION},
        {"name": "refresh-20261129", "solutionArn": SOLUTION, "trainingMode": "FULL"},
    )

    result = start_training.start_training(event, settings, records, client)

    assert result["training_mode"] == "FULL"
    assert result["training_mode_reason"].startswith("the last FULL version is 7.0 days old")


@pytest.mark.parametrize("code", ["ResourceAlreadyExistsException", "ResourceInUseException"])
def test_start_training_reuses_its_own_version_from_an_earlier_attempt(
    settings: Settings, records: RunRecords, personalize: tuple[Any, Stubber], code: str
) -> None:
    client, stubber = personalize
    stubber.add_client_error("create_solution_version", code)
    stubber.add_response(
        "list_solution_versions",
        {
            "solutionVersions": [
                {"solutionVersionArn": f"{SOLUTION}/old", "creationDateTime": datetime(2026, 11, 22, tzinfo=UTC)},
                {"solutionVersionArn": VERSION, "creationDateTime": datetime(2026, 11, 29, tzinfo=UTC)},
            ]
        },
        {"solutionArn": SOLUTION},
    )
    # Newest first: the version of the earlier attempt is found with one describe.
    stubber.add_response(
        "describe_solution_version",
        {
            "solutionVersion": {
                "name": "refresh-20261129",
                "solutionVersionArn": VERSION,
                "status": "CREATE IN_PROGRESS",
            }
        },
    )
    result = start_training.start_training(campaign_event(settings, records), settings, records, client)
    assert (result["solution_version_arn"], result["status"]) == (VERSION, "CREATE IN_PROGRESS")


def test_start_training_describes_a_bounded_number_of_versions_looking_for_its_own(
    settings: Settings, records: RunRecords, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    stubber.add_client_error("create_solution_version", "ResourceAlreadyExistsException")
    many = [
        {"solutionVersionArn": f"{SOLUTION}/v{i:04d}", "creationDateTime": datetime(2026, 1, 1, tzinfo=UTC)}
        for i in range(500)
    ]
    stubber.add_response("list_solution_versions", {"solutionVersions": many})
    for _ in range(start_training.MAX_VERSIONS_DESCRIBED):
        stubber.add_response("describe_solution_version", {"solutionVersion": {"name": "someone-else"}})

    with pytest.raises(client.exceptions.ResourceAlreadyExistsException):
        start_training.start_training(campaign_event(settings, records), settings, records, client)


def test_start_training_backs_off_when_another_version_is_training(
    settings: Settings, records: RunRecords, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    stubber.add_client_error("create_solution_version", "ResourceInUseException")
    stubber.add_response("list_solution_versions", {"solutionVersions": []})
    with pytest.raises(client.exceptions.ResourceInUseException):
        start_training.start_training(campaign_event(settings, records), settings, records, client)


def test_start_training_refuses_an_unconfigured_campaign(
    settings: Settings, records: RunRecords, personalize: tuple[Any, Stubber]
) -> None:
    client, _ = personalize
    event = campaign_event(settings, records)
    event["campaign_name"] = "someone-elses-campaign"
    with pytest.raises(InvalidRunInput, match="is not one of the configured campaigns"):
        start_training.start_training(event, settings, records, client)


# Deploy version ----------------------------------------------------------------------------------


def campaign(latest: dict[str, Any] | None = None) -> dict[str, Any]:
    described: dict[str, Any] = {
        "campaignArn": CAMPAIGN,
        "solutionVersionArn": f"{SOLUTION}/old",
        "minProvisionedTPS": 5,
        "campaignConfig": {"itemExplorationConfig": {"explorationWeight": "0.3"}},
        "status": "ACTIVE",
    }
    if latest:
        described["latestCampaignUpdate"] = latest
    return {"campaign": described}


def metrics(stubber: Stubber, new: dict[str, float], serving: dict[str, float]) -> None:
    """GetSolutionMetrics of the new version, then of the version the campaign serves."""
    stubber.add_response("get_solution_metrics", {"metrics": new}, {"solutionVersionArn": VERSION})
    stubber.add_response("get_solution_metrics", {"metrics": serving}, {"solutionVersionArn": f"{SOLUTION}/old"})


def test_deploy_keeps_the_campaigns_tps_and_config(
    settings: Settings, records: RunRecords, table: Any, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    stubber.add_response("describe_campaign", campaign(), {"campaignArn": CAMPAIGN})
    metrics(stubber, {"coverage": 0.4}, {"coverage": 0.5})
    stubber.add_response(
        "update_campaign",
        {"campaignArn": CAMPAIGN},
        {
            "campaignArn": CAMPAIGN,
            "solutionVersionArn": VERSION,
            "minProvisionedTPS": 5,
            "campaignConfig": {"itemExplorationConfig": {"explorationWeight": "0.3"}},
        },
    )
    result = deploy_version.deploy_version(
        campaign_event(settings, records, solution_version_arn=VERSION), settings, records, client
    )
    assert result.pop("limit")["limit"] == "3 h"  # the default deployment limit
    assert result.pop("poll")["next"] == 60
    assert result == {
        "solution_version_arn": VERSION,
        "status": "CREATE PENDING",
        "gated": False,
        "gate_decision": "deploy",
        "gate_reason": "no quality gate configured",
        "metrics": {"coverage": 0.4},
        "serving_metrics": {"coverage": 0.5},
    }
    item = record(table)
    assert (item["phase"], item["campaign_update_status"]) == ("DEPLOYMENT", "CREATE PENDING")
    # Without a gate every version is deployed, and both versions' metrics are kept.
    assert (item["solution_version_metrics"], item["serving_version_metrics"]) == (
        {"coverage": Decimal("0.4")},
        {"coverage": Decimal("0.5")},
    )
    assert "quality_gate" not in item


def gated(settings: Settings, **gate: Any) -> Settings:
    rules = (MetricRule("normalized_discounted_cumulative_gain_at_25", max_drop_percent=2),)
    campaign = replace(settings.campaigns[0], quality_gate=QualityGate(rules, **gate))
    return replace(settings, campaigns=(campaign,))


def test_deploy_holds_back_a_version_the_gate_refuses_and_records_it_gated(
    settings: Settings, records: RunRecords, table: Any, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    settings = gated(settings)
    stubber.add_response("describe_campaign", campaign())
    ndcg = "normalized_discounted_cumulative_gain_at_25"
    metrics(stubber, {ndcg: 0.27, "coverage": 0.4}, {ndcg: 0.30, "coverage": 0.4})

    result = deploy_version.deploy_version(
        campaign_event(settings, records, solution_version_arn=VERSION), settings, records, client
    )

    stubber.assert_no_pending_responses()  # and no UpdateCampaign was made: the stubber would refuse it
    assert (result["gated"], result["gate_decision"], result["status"]) == (True, "hold", "GATED")
    assert result["gate_reason"] == f"{ndcg} 0.3 -> 0.27 (-10.0 %, at most -2 %)"
    item = record(table)
    assert (item["run_status"], item["phase"]) == ("GATED", "DONE")
    assert item["quality_gate"] == {"decision": "hold", "reason": result["gate_reason"]}
    assert item["serving_version_metrics"][ndcg] == Decimal("0.3")


@pytest.mark.parametrize(("without_metrics", "held"), [("deploy", False), ("hold", True)])
def test_deploy_decides_a_version_without_metrics_by_the_gate_rule(
    settings: Settings,
    records: RunRecords,
    personalize: tuple[Any, Stubber],
    without_metrics: str,
    held: bool,
) -> None:
    client, stubber = personalize
    settings = gated(settings, without_metrics=without_metrics)
    stubber.add_response("describe_campaign", campaign())
    metrics(stubber, {}, {"normalized_discounted_cumulative_gain_at_25": 0.3})
    if not held:
        stubber.add_response("update_campaign", {"campaignArn": CAMPAIGN})

    result = deploy_version.deploy_version(
        campaign_event(settings, records, solution_version_arn=VERSION), settings, records, client
    )

    assert result["gated"] is held


def test_deploy_reuses_an_update_to_the_same_version_already_under_way(
    settings: Settings, records: RunRecords, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    stubber.add_response("describe_campaign", campaign({"solutionVersionArn": VERSION, "status": "CREATE IN_PROGRESS"}))
    result = deploy_version.deploy_version(
        campaign_event(settings, records, solution_version_arn=VERSION), settings, records, client
    )
    assert result["status"] == "CREATE IN_PROGRESS"
    # The gate was judged by the attempt that started the update.
    assert (result["gate_decision"], result["metrics"]) == ("deploy", {})


def test_deploy_surfaces_resource_in_use_for_the_state_machine_to_retry(
    settings: Settings, records: RunRecords, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    stubber.add_response(
        "describe_campaign", campaign({"solutionVersionArn": f"{SOLUTION}/other", "status": "CREATE IN_PROGRESS"})
    )
    metrics(stubber, {}, {})
    stubber.add_client_error("update_campaign", "ResourceInUseException")
    with pytest.raises(client.exceptions.ResourceInUseException):
        deploy_version.deploy_version(
            campaign_event(settings, records, solution_version_arn=VERSION), settings, records, client
        )


def test_deploy_refuses_a_version_of_another_solution(
    settings: Settings, records: RunRecords, personalize: tuple[Any, Stubber]
) -> None:
    client, _ = personalize
    event = campaign_event(settings, records, solution_version_arn=f"{PREFIX}:solution/other/0123abcd")
    with pytest.raises(InvalidRunInput, match="is not a version of"):
        deploy_version.deploy_version(event, settings, records, client)


# Personalize's transient errors --------------------------------------------------------------------


def test_the_lambdas_client_retries_throttles_itself_a_few_times() -> None:
    # Built outside the cache: the cached client is the Lambdas', created under the embedded AWS.
    retries = personalize_client.client.__wrapped__(REGION).meta.config.retries
    assert retries["mode"] == "standard"
    assert retries["total_max_attempts"] > 1


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        ("ThrottlingException", 400, True),
        ("InternalFailure", 500, True),
        ("ServiceUnavailable", 503, True),
        ("LimitExceededException", 400, False),  # retried by name, in minutes
        ("InvalidInputException", 400, False),
    ],
)
def test_a_throttle_or_5xx_that_outlives_the_sdk_retries_is_raised_for_the_state_machine(
    settings: Settings, records: RunRecords, personalize: tuple[Any, Stubber], code: str, status: int, retryable: bool
) -> None:
    client, stubber = personalize
    stubber.add_client_error("describe_campaign", code, http_status_code=status)
    event = {**campaign_event(settings, records), "solution_version_arn": VERSION}
    expected = PersonalizeUnavailable if retryable else ClientError
    with pytest.raises(expected), personalize_client.unavailable_as_retryable():
        deploy_version.deploy_version(event, settings, records, client)


@pytest.mark.parametrize("name", ["run.2026-11-29", "a+b=c@d!e", "manual_(back-fill)", "ü-run"])
def test_every_valid_execution_name_is_accepted(settings: Settings, records: RunRecords, name: str) -> None:
    event = campaign_event(settings, records)
    event["execution_arn"] = f"arn:aws:states:ap-northeast-2:123456789012:execution:Refresh:{name}"
    assert task_input.campaign_task(event, settings).execution_arn.endswith(name)


@pytest.mark.parametrize("name", ["has space", "a/b", "a:b", "x" * 81, ""])
def test_an_invalid_execution_arn_is_refused(settings: Settings, records: RunRecords, name: str) -> None:
    event = campaign_event(settings, records)
    event["execution_arn"] = f"arn:aws:states:ap-northeast-2:123456789012:execution:Refresh:{name}"
    with pytest.raises(InvalidRunInput, match="execution_arn"):
        task_input.campaign_task(event, settings)


# Close: executions that ended without their own Catch ------------------------------------------------


class RecordedAlerts:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, **message: Any) -> None:
        self.published.append(message)


def status_change(status: str, payload: Any = GLUE_EVENT, **extra: Any) -> dict[str, Any]:
    detail = {"executionArn": EXECUTION, "status": status, "input": json.dumps(payload), **extra}
    return {"action": "close", "execution": detail}


@pytest.mark.parametrize(
    ("status", "run_status", "error"),
    [("TIMED_OUT", "TIMED_OUT", "ExecutionTimedOut"), ("ABORTED", "ABORTED", "ExecutionAborted")],
)
def test_close_gives_a_running_record_its_final_status_and_alerts_once(
    settings: Settings, records: RunRecords, table: Any, status: str, run_status: str, error: str
) -> None:
    claim(settings, records, GLUE_EVENT)
    alerts = RecordedAlerts()

    result = start_import.close(status_change(status), settings, records, alerts)
    again = start_import.close(status_change(status), settings, records, alerts)

    assert result["closed"] == ["shop-home-recommendations"]
    assert again["closed"] == []
    item = record(table)
    assert (item["run_status"], item["failure_phase"], item["failure_error"]) == (run_status, "IMPORT", error)
    (alert,) = alerts.published
    assert "shop-home-recommendations (in IMPORT)" in alert["Message"]
    # ...and the day may be claimed again at once.
    assert claim(settings, records, {"base_date": "20261129"}, execution=OTHER_EXECUTION)["duplicate"] is False


def test_close_keeps_the_executions_own_error_and_cause(settings: Settings, records: RunRecords, table: Any) -> None:
    claim(settings, records, GLUE_EVENT)
    start_import.close(
        status_change("FAILED", error="States.Runtime", cause="history quota"), settings, records, RecordedAlerts()
    )
    item = record(table)
    assert (item["run_status"], item["failure_error"], item["failure_reason"]) == (
        "FAILED",
        "States.Runtime",
        "history quota",
    )


def test_close_during_training_says_the_version_may_still_train_and_how_to_stop_it(
    settings: Settings, records: RunRecords
) -> None:
    claim(settings, records, GLUE_EVENT)
    version = f"{SOLUTION}/0a1b2c3d"
    records.record_training_started(
        "shop-home-recommendations", "20261129", EXECUTION, version_arn=version, status="CREATE IN_PROGRESS"
    )
    alerts = RecordedAlerts()

    start_import.close(status_change("ABORTED"), settings, records, alerts)

    (alert,) = alerts.published
    assert "shop-home-recommendations (in TRAINING)" in alert["Message"]
    assert f"stop-solution-version-creation --solution-version-arn {version}" in alert["Message"]


@pytest.mark.parametrize(
    ("error", "alerts_sent"),
    [
        ("TrainingFailed", 0),
        ("RunRecordNotWritten", 0),
        ("States.Runtime", 1),
        ("States.DataLimitExceeded", 1),
        (None, 1),
    ],
)
def test_close_alerts_only_when_the_definition_has_not(
    settings: Settings, records: RunRecords, table: Any, error: str | None, alerts_sent: int
) -> None:
    # The definition's own Fail states alert before they end (they may not raise States.*), even when
    # the record write failed: the close then writes the record and stays quiet.
    claim(settings, records, GLUE_EVENT)
    alerts = RecordedAlerts()

    start_import.close(status_change("FAILED", **({"error": error} if error else {})), settings, records, alerts)

    assert record(table)["run_status"] == "FAILED"
    assert len(alerts.published) == alerts_sent


def test_close_leaves_a_recorded_run_and_other_executions_runs_alone(
    settings: Settings, records: RunRecords, table: Any
) -> None:
    claim(settings, records, GLUE_EVENT, execution=OTHER_EXECUTION)
    alerts = RecordedAlerts()

    assert start_import.close(status_change("FAILED"), settings, records, alerts)["closed"] == []
    assert record(table)["run_status"] == "RUNNING"
    assert alerts.published == []


def test_close_of_an_execution_whose_input_was_rejected_touches_nothing(
    settings: Settings, records: RunRecords, table: Any
) -> None:
    alerts = RecordedAlerts()
    assert start_import.close(status_change("FAILED", {"bogus": 1}), settings, records, alerts)["closed"] == []
    assert table.scan()["Items"] == []
    assert alerts.published == []
