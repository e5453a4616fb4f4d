"""The start import Lambda's `import` action against moto's DynamoDB, with Personalize stubbed exactly: the automation
guard, and one deterministically named import job per dataset."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import start_import
from botocore.stub import Stubber

from refresh_common import clock
from refresh_common.claims import RunClaims
from refresh_common.errors import AutomationConflict, ImportRoomExhausted, NameAttemptsExhausted, RunNotOwned
from refresh_common.naming import child_execution_name
from refresh_common.run_record import RunRecords
from refresh_common.settings import Settings
from tests.unit.handlers.shared import (
    GLUE_EVENT,
    JOB_ARN,
    JOB_NAME,
    OTHER_EXECUTION,
    PREFIX,
    RecordedAlerts,
    claim,
    record,
)


def import_event(settings: Settings, run_claims: RunClaims) -> dict[str, Any]:
    return {"action": "import", "run": claim(settings, run_claims, GLUE_EVENT)}


class AutomatedPersonalize:
    """A solution that trains by itself, and a campaign that does not follow it."""

    def describe_solution(self, solutionArn: str) -> dict[str, Any]:
        return {"solution": {"solutionArn": solutionArn, "performAutoTraining": True}}

    def describe_campaign(self, campaignArn: str) -> dict[str, Any]:
        return {"campaign": {"campaignArn": campaignArn, "campaignConfig": {"itemExplorationConfig": {}}}}


def test_automation_is_refused_by_default_naming_the_fix(
    settings: Settings, records: RunRecords, run_claims: RunClaims
) -> None:
    with pytest.raises(
        AutomationConflict, match=r"trains by itself \(rate\(7 days\)\): aws personalize update-solution"
    ):
        start_import.guard_automation(
            import_event(settings, run_claims), settings, records, AutomatedPersonalize(), None
        )


def test_with_warn_automation_is_recorded_and_alerted_once_however_often_the_step_runs(
    settings: Settings, records: RunRecords, run_claims: RunClaims, table: Any
) -> None:
    settings = replace(settings, automation_guard="warn", alert_topic_arn="arn:aws:sns:ap-northeast-2:1:alerts")
    event, alerts = import_event(settings, run_claims), RecordedAlerts()

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
    settings: Settings,
    records: RunRecords,
    run_claims: RunClaims,
    table: Any,
    personalize: tuple[Any, Stubber],
    monkeypatch: Any,
) -> None:
    client, stubber = personalize
    monkeypatch.setattr(clock, "now", lambda: 1_796_000_000.0)
    stubber.add_response("create_dataset_import_job", {"datasetImportJobArn": JOB_ARN}, expected_create())
    result = start_import.start_imports(import_event(settings, run_claims), settings, records, client)
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
            # The import's own execution: the job's name, made unique to this refresh execution.
            "execution_name": child_execution_name(
                JOB_NAME, import_event(settings, run_claims)["run"]["execution_arn"]
            ),
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
    settings: Settings, records: RunRecords, run_claims: RunClaims, personalize: tuple[Any, Stubber]
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
    result = start_import.start_imports(import_event(settings, run_claims), settings, records, client)
    assert result["import_jobs"][0]["status"] == "CREATE IN_PROGRESS"
    assert result["import_jobs"][0]["dataset_import_job_arn"] == JOB_ARN


def test_an_import_personalize_has_no_room_for_waits_for_its_own_execution_to_create_it(
    settings: Settings, records: RunRecords, run_claims: RunClaims, table: Any, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    stubber.add_client_error(
        "create_dataset_import_job",
        "LimitExceededException",
        "More than 5 resources with PENDING or IN_PROGRESS status.",
        expected_params=expected_create(),
    )
    event = import_event(settings, run_claims)
    result = start_import.start_imports(event, settings, records, client)
    (job,) = result["import_jobs"]
    assert (job["status"], job["import_mode"], job["job_name"]) == ("WAITING_FOR_ROOM", "FULL", JOB_NAME)
    assert record(table)["dataset_import_jobs"]["interactions"]["status"] == "WAITING_FOR_ROOM"

    # Its execution asks again: still no room, then room.
    waiting = {**event, "action": "import_dataset", "dataset_name": "interactions", "import_mode": "FULL"}
    stubber.add_client_error("create_dataset_import_job", "LimitExceededException", expected_params=expected_create())
    with pytest.raises(ImportRoomExhausted):
        start_import.start_waiting_import({**waiting, "primary": True}, settings, records, client)
    stubber.add_response("create_dataset_import_job", {"datasetImportJobArn": JOB_ARN}, expected_create())
    created = start_import.start_waiting_import({**waiting, "primary": True}, settings, records, client)
    assert (created["primary"], created["status"], created["dataset_import_job_arn"]) == (
        True,
        "CREATE PENDING",
        JOB_ARN,
    )
    assert created["poll"]["index"] == 0
    entry = record(table)["dataset_import_jobs"]["interactions"]
    assert (entry["status"], entry["arn"], entry["job_name"]) == ("CREATE PENDING", JOB_ARN, JOB_NAME)
    assert entry["decision"] == "import"  # what Start import planned is kept


def test_start_import_moves_past_a_failed_job_to_the_next_name(
    settings: Settings, records: RunRecords, run_claims: RunClaims, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    stubber.add_client_error("create_dataset_import_job", "ResourceAlreadyExistsException")
    stubber.add_response("describe_dataset_import_job", {"datasetImportJob": {"status": "CREATE FAILED"}})
    stubber.add_response(
        "create_dataset_import_job", {"datasetImportJobArn": JOB_ARN + "-02"}, expected_create(JOB_NAME + "-02")
    )
    result = start_import.start_imports(import_event(settings, run_claims), settings, records, client)
    assert result["import_jobs"][0]["job_name"] == JOB_NAME + "-02"


@pytest.mark.parametrize("code", ["ResourceInUseException", "InvalidInputException", "ResourceNotFoundException"])
def test_start_import_lets_personalize_errors_propagate_by_name(
    settings: Settings, records: RunRecords, run_claims: RunClaims, personalize: tuple[Any, Stubber], code: str
) -> None:
    client, stubber = personalize
    stubber.add_client_error("create_dataset_import_job", code)
    with pytest.raises(client.exceptions.ClientError) as raised:
        start_import.start_imports(import_event(settings, run_claims), settings, records, client)
    # The class name is the error name the state machine's Retry and Catch match.
    assert type(raised.value).__name__ == code


def test_start_import_gives_up_when_every_name_is_taken_by_failures(
    settings: Settings, records: RunRecords, run_claims: RunClaims, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    for _ in range(20):
        stubber.add_client_error("create_dataset_import_job", "ResourceAlreadyExistsException")
        stubber.add_response("describe_dataset_import_job", {"datasetImportJob": {"status": "CREATE FAILED"}})
    with pytest.raises(NameAttemptsExhausted):
        start_import.start_imports(import_event(settings, run_claims), settings, records, client)


def test_only_the_claiming_execution_may_write_the_record(
    settings: Settings, records: RunRecords, run_claims: RunClaims, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    event = import_event(settings, run_claims)
    event["run"]["execution_arn"] = OTHER_EXECUTION
    stubber.add_response("create_dataset_import_job", {"datasetImportJobArn": JOB_ARN})
    with pytest.raises(RunNotOwned):
        start_import.start_imports(event, settings, records, client)
