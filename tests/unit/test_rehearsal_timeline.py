"""The rehearsal's timeline reads statuses and retries from what the code writes, whatever the states are called."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from local_engine.refresh import PersonalizeCall, RecordWrite
from rehearsal.timeline import answer_entries, record_entries, retry_entries

T0 = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
EXECUTION = "arn:aws:states:eu-west-1:444455556666:execution:sm:run-1"


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def record(campaign: str, **attributes: Any) -> dict[str, Any]:
    return {
        "campaign_name": campaign,
        "base_date": 20261128,
        "execution_arn": EXECUTION,
        "run_status": "RUNNING",
        **attributes,
    }


def texts(entries: list[Any]) -> list[tuple[datetime, str, str, timedelta | None]]:
    return [(e.at, e.subject, e.text, e.took) for e in entries]


def test_status_changes_per_dataset_once_and_per_campaign_including_new_kinds() -> None:
    job = {"job_name": "nightly-g-items-20261128", "arn": "arn:job/1", "status": "CREATE PENDING"}
    writes = [
        RecordWrite(at(0), record("home")),
        RecordWrite(at(0), record("similar")),
        RecordWrite(at(0), record("home", dataset_import_jobs={"items": job})),
        RecordWrite(at(0), record("similar", dataset_import_jobs={"items": job})),
        RecordWrite(at(50), record("home", dataset_import_jobs={"items": {**job, "status": "ACTIVE"}})),
        RecordWrite(at(50), record("similar", dataset_import_jobs={"items": {**job, "status": "ACTIVE"}})),
        # attributes and statuses the report does not know yet are shown as they are written
        RecordWrite(at(60), record("home", quality_gate_status="BELOW_THRESHOLD")),
        RecordWrite(at(61), record("home", quality_gate_status="BELOW_THRESHOLD", run_status="SKIPPED")),
        RecordWrite(at(62), record("other", execution_arn="arn:another-execution")),
    ]

    assert texts(record_entries(EXECUTION, writes)) == [
        (at(0), "home", "claimed base date 20261128", None),
        (at(0), "similar", "claimed base date 20261128", None),
        (at(0), "dataset items", "import CREATE PENDING: nightly-g-items-20261128", None),
        (at(50), "dataset items", "import ACTIVE", timedelta(minutes=50)),
        (at(60), "home", "quality_gate BELOW_THRESHOLD", None),
        (at(61), "home", "run SKIPPED", None),
    ]


def test_a_job_reused_from_an_earlier_attempt_is_said_to_be() -> None:
    version = "arn:aws:personalize:eu-west-1:444455556666:solution/s/0a1b2c3d"
    writes = [
        RecordWrite(at(0), record("home", attempt=2)),
        RecordWrite(at(1), record("home", solution_version_arn=version, solution_version_status="ACTIVE")),
    ]

    assert texts(record_entries(EXECUTION, writes))[1] == (
        at(1),
        "home",
        "training ACTIVE: version 0a1b2c3d (reused: an earlier attempt already got this far)",
        None,
    )


def event(event_id: int, previous: int, minutes: float, kind: str, **details: Any) -> dict[str, Any]:
    body = {"timestamp": T0 + timedelta(minutes=minutes), "type": kind, "id": event_id, "previousEventId": previous}
    if details:
        # Every kind of state shares stateEnteredEventDetails / stateExitedEventDetails.
        key = "stateEntered" if kind.endswith("StateEntered") else "stateExited" if kind.endswith("Exited") else kind
        body[f"{key[0].lower()}{key[1:]}EventDetails"] = details
    return body


def test_retries_are_found_by_their_events_not_by_state_names() -> None:
    cause = json.dumps(
        {
            "errorMessage": "An error occurred (LimitExceededException) when calling the CreateSolutionVersion "
            "operation (reached max retries: 0): Rate exceeded",
            "errorType": "LimitExceededException",
        }
    )
    history = [
        event(1, 0, 0, "ExecutionStarted"),
        event(2, 1, 0, "TaskStateEntered", name="Any name at all", input=json.dumps({"campaign_name": "home"})),
        event(3, 2, 0, "TaskScheduled"),
        event(4, 3, 0, "TaskFailed", error="LimitExceededException", cause=cause),
        event(5, 4, 1.5, "TaskScheduled"),
        event(6, 5, 1.5, "TaskFailed", error="Boom", cause="caught, not retried"),
        event(7, 6, 1.5, "TaskStateExited", name="Any name at all"),
    ]

    assert texts(retry_entries(history)) == [
        (
            at(0),
            "home",
            "CreateSolutionVersion failed with LimitExceededException: Rate exceeded; retried after 0:01:30",
            None,
        )
    ]


def test_errors_answered_and_then_retried_unchanged_are_shown_with_who_retried() -> None:
    solution = "arn:aws:personalize:eu-west-1:444455556666:solution/s"
    create = {"solutionArn": solution, "trainingMode": "FULL"}
    calls = [
        PersonalizeCall(at(0), "CreateSolutionVersion", create, "LimitExceededException", "Rate exceeded"),
        PersonalizeCall(at(0), "CreateSolutionVersion", create),
        PersonalizeCall(at(5), "UpdateCampaign", {"campaignArn": "c"}, "ResourceInUseException", "Being updated"),
        PersonalizeCall(at(6), "UpdateCampaign", {"campaignArn": "c"}),
        # neither retried as such: handled by the Lambda, or a describe the state machine retries itself
        PersonalizeCall(at(7), "CreateDatasetImportJob", {"jobName": "j"}, "ResourceAlreadyExistsException", "taken"),
        PersonalizeCall(at(8), "DescribeCampaign", {"campaignArn": "c"}, "LimitExceededException", "Rate exceeded"),
        PersonalizeCall(at(8), "DescribeCampaign", {"campaignArn": "c"}),
    ]

    assert texts(answer_entries(calls, {solution: "home"}, at(0), at(10))) == [
        (
            at(0),
            "home",
            "CreateSolutionVersion answered LimitExceededException: Rate exceeded; asked again at once",
            None,
        ),
        (
            at(5),
            "execution",
            "UpdateCampaign answered ResourceInUseException: Being updated; called again after 0:01:00",
            None,
        ),
    ]
    assert answer_entries(calls, {}, at(1), None)[0].at == at(5), "only what happened during the execution"
