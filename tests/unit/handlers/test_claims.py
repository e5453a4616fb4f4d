"""Claim, close and sweep (refresh_common.claims, the start import Lambda's `claim`, `close` and `sweep` actions)
against moto's DynamoDB: who may claim a day's run, what a duplicate touches, and how a run its execution left
RUNNING is closed, from the execution's status change event or from the hourly sweep."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from refresh_common import claims
from refresh_common.claims import MAX_PREVIOUS_ATTEMPTS, MAX_SUMMARY_REASON, RunClaims
from refresh_common.errors import InvalidRunInput, RunRecordBusy
from refresh_common.run_record import RunRecords
from refresh_common.settings import Settings
from tests.unit.handlers.conftest import stubbed
from tests.unit.handlers.shared import (
    CAMPAIGN,
    CAMPAIGN_NAME,
    EXECUTION,
    GLUE_EVENT,
    OTHER_EXECUTION,
    SOLUTION,
    RecordedAlerts,
    claim,
    record,
)


def test_glue_event_resolves_the_base_date_in_the_configured_time_zone(
    settings: Settings, run_claims: RunClaims, table: Any
) -> None:
    run = claim(settings, run_claims, GLUE_EVENT)
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


def test_manual_start_uses_its_base_date(settings: Settings, run_claims: RunClaims, table: Any) -> None:
    run = claim(settings, run_claims, {"base_date": "20261101"})
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
        ({"base_date": "20261101", "force": "false"}, "force must be true or false, got 'false'"),
        ({"base_date": "20261101", "force": 1}, "force must be true or false, got 1"),
        ({"base_date": "20261101", "campaigns": "shop"}, "campaigns must be a list of distinct campaign names"),
        ({"base_date": "20261101", "campaigns": []}, "campaigns must be a list of distinct campaign names"),
        ({"base_date": "20261101", "campaigns": ["a", "a"]}, "campaigns must be a list of distinct campaign names"),
        ({"base_date": "20261101", "campaigns": [7]}, "campaigns must be a list of distinct campaign names"),
        ({"base_date": "20261101", "campaigns": ["someone-elses"]}, "are not configured; the configured campaigns are"),
        ({**GLUE_EVENT, "campaigns": ["shop"]}, "unknown field(s)"),
    ],
)
def test_bad_input_fails_fast_and_writes_nothing(
    settings: Settings, run_claims: RunClaims, table: Any, payload: Any, message: str
) -> None:
    with pytest.raises(InvalidRunInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        claim(settings, run_claims, payload)
    assert table.scan()["Items"] == []


def test_a_forced_manual_start_claims_a_completed_day_again_and_says_so(
    settings: Settings, records: RunRecords, run_claims: RunClaims, table: Any
) -> None:
    claim(settings, run_claims, {"base_date": "20261101"})
    table.update_item(
        Key={"campaign_name": CAMPAIGN_NAME, "base_date": 20261101},
        UpdateExpression="SET run_status = :done",
        ExpressionAttributeValues={":done": "GATED"},
    )
    assert claim(settings, run_claims, {"base_date": "20261101"}, execution=OTHER_EXECUTION)["duplicate"] is True

    forced = claim(settings, run_claims, {"base_date": "20261101", "force": True}, execution=OTHER_EXECUTION)

    assert forced["duplicate"] is False
    item = record(table, 20261101)
    assert (item["attempt"], item["forced"], item["previous_attempts"][0]["run_status"]) == (2, True, "GATED")
    assert records.afresh_since([CAMPAIGN_NAME], "20261101", forced=True) == float(item["started_datetime"])
    assert records.afresh_since([CAMPAIGN_NAME], "20261101", forced=False) is None  # the run says: nothing read


def test_duplicate_event_for_a_running_or_succeeded_day_is_skipped(
    settings: Settings, run_claims: RunClaims, table: Any
) -> None:
    claim(settings, run_claims, GLUE_EVENT)
    duplicate = claim(settings, run_claims, GLUE_EVENT, execution=OTHER_EXECUTION)
    assert duplicate["duplicate"] is True
    assert duplicate["skipped"] == {"shop-home-recommendations": "RUNNING"}
    assert duplicate["skipped_campaign_names"] == ["shop-home-recommendations"]
    assert record(table)["execution_arn"] == EXECUTION

    table.update_item(
        Key={"campaign_name": "shop-home-recommendations", "base_date": 20261129},
        UpdateExpression="SET run_status = :s",
        ExpressionAttributeValues={":s": "SUCCEEDED"},
    )
    assert claim(settings, run_claims, GLUE_EVENT, execution=OTHER_EXECUTION)["duplicate"] is True


def test_failed_day_may_be_claimed_again_and_keeps_its_history(
    settings: Settings, run_claims: RunClaims, table: Any
) -> None:
    claim(settings, run_claims, GLUE_EVENT)
    table.update_item(
        Key={"campaign_name": "shop-home-recommendations", "base_date": 20261129},
        UpdateExpression="SET run_status = :s, failure_phase = :p, failure_reason = :r",
        ExpressionAttributeValues={":s": "FAILED", ":p": "TRAINING", ":r": "boom"},
    )
    rerun = claim(settings, run_claims, {"base_date": "20261129"}, execution=OTHER_EXECUTION)
    assert rerun["duplicate"] is False
    item = record(table)
    assert (item["run_status"], item["execution_arn"], item["attempt"]) == ("RUNNING", OTHER_EXECUTION, 2)
    (previous,) = item["previous_attempts"]
    assert previous["execution_arn"] == EXECUTION
    assert (previous["failure_phase"], previous["failure_reason"]) == ("TRAINING", "boom")


def test_a_run_still_running_past_the_execution_timeout_may_be_claimed_again(
    settings: Settings, run_claims: RunClaims, table: Any
) -> None:
    claim(settings, run_claims, GLUE_EVENT)
    key = {"campaign_name": "shop-home-recommendations", "base_date": 20261129}
    # Still within the timeout: the execution may be running, so a second event is a duplicate.
    assert claim(settings, run_claims, GLUE_EVENT, execution=OTHER_EXECUTION)["duplicate"] is True
    # Still within it a day and more later, past every phase's own limit: the execution may be training.
    started_a_minute_short = 1_796_000_000 - settings.execution_timeout_seconds + 60
    table.update_item(
        Key=key, UpdateExpression="SET started_datetime = :t", ExpressionAttributeValues={":t": started_a_minute_short}
    )
    assert claim(settings, run_claims, GLUE_EVENT, execution=OTHER_EXECUTION)["duplicate"] is True

    started_long_ago = 1_796_000_000 - settings.execution_timeout_seconds - 1
    table.update_item(
        Key=key, UpdateExpression="SET started_datetime = :t", ExpressionAttributeValues={":t": started_long_ago}
    )
    rerun = claim(settings, run_claims, {"base_date": "20261129"}, execution=OTHER_EXECUTION)

    assert rerun["duplicate"] is False
    item = record(table)
    assert (item["execution_arn"], item["attempt"]) == (OTHER_EXECUTION, 2)
    assert item["previous_attempts"][0]["run_status"] == "ABANDONED"


def test_a_retried_claim_of_the_same_execution_keeps_its_claim(
    settings: Settings, run_claims: RunClaims, table: Any
) -> None:
    # The Lambda wrote the claim, then its answer was lost and the state machine called it again.
    claim(settings, run_claims, GLUE_EVENT)
    again = claim(settings, run_claims, GLUE_EVENT)
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
    settings: Settings, run_claims: RunClaims, table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lose(**_: Any) -> None:
        raise cancelled_transaction("ConditionalCheckFailed")

    monkeypatch.setattr(table.meta.client, "transact_write_items", lose)
    run = claim(settings, run_claims, GLUE_EVENT)
    assert run["duplicate"] is True
    assert run["skipped"] == {"shop-home-recommendations": "CLAIMED_CONCURRENTLY"}


@pytest.mark.parametrize("reasons", [("TransactionConflict",), ("None", "ThrottlingError")])
def test_a_claim_cancelled_by_a_conflict_or_throttle_is_retried_not_skipped(
    settings: Settings, run_claims: RunClaims, table: Any, monkeypatch: pytest.MonkeyPatch, reasons: tuple[str, ...]
) -> None:
    def cancel(**_: Any) -> None:
        raise cancelled_transaction(*reasons)

    monkeypatch.setattr(table.meta.client, "transact_write_items", cancel)
    with pytest.raises(RunRecordBusy, match=reasons[-1]):
        claim(settings, run_claims, GLUE_EVENT)


def test_a_claim_cancelled_for_another_reason_fails_loudly(
    settings: Settings, run_claims: RunClaims, table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cancel(**_: Any) -> None:
        raise cancelled_transaction("ValidationError")

    monkeypatch.setattr(table.meta.client, "transact_write_items", cancel)
    with pytest.raises(ClientError, match="TransactionCanceledException"):
        claim(settings, run_claims, GLUE_EVENT)


def test_the_attempt_history_stays_small_however_often_a_day_is_run(
    settings: Settings, run_claims: RunClaims, table: Any
) -> None:
    key = {"campaign_name": "shop-home-recommendations", "base_date": 20261129}
    for attempt in range(1, 16):
        execution = f"{EXECUTION}-{attempt}"
        claim(settings, run_claims, {"base_date": "20261129"}, execution=execution)
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


def status_change(status: str, payload: Any = GLUE_EVENT, **extra: Any) -> dict[str, Any]:
    detail = {"executionArn": EXECUTION, "status": status, "input": json.dumps(payload), **extra}
    return {"action": "close", "execution": detail}


@pytest.mark.parametrize(
    ("status", "run_status", "error"),
    [("TIMED_OUT", "TIMED_OUT", "ExecutionTimedOut"), ("ABORTED", "ABORTED", "ExecutionAborted")],
)
def test_close_gives_a_running_record_its_final_status_and_alerts_once(
    settings: Settings, run_claims: RunClaims, table: Any, status: str, run_status: str, error: str
) -> None:
    claim(settings, run_claims, GLUE_EVENT)
    alerts = RecordedAlerts()

    result = claims.close(status_change(status), settings, run_claims, alerts)
    again = claims.close(status_change(status), settings, run_claims, alerts)

    assert result["closed"] == ["shop-home-recommendations"]
    assert again["closed"] == []
    item = record(table)
    assert (item["run_status"], item["failure_phase"], item["failure_error"]) == (run_status, "IMPORT", error)
    (alert,) = alerts.published
    assert "shop-home-recommendations (in IMPORT)" in alert["Message"]
    # ...and the day may be claimed again at once.
    assert claim(settings, run_claims, {"base_date": "20261129"}, execution=OTHER_EXECUTION)["duplicate"] is False


def test_close_keeps_the_executions_own_error_and_cause(settings: Settings, run_claims: RunClaims, table: Any) -> None:
    claim(settings, run_claims, GLUE_EVENT)
    claims.close(
        status_change("FAILED", error="States.Runtime", cause="history quota"), settings, run_claims, RecordedAlerts()
    )
    item = record(table)
    assert (item["run_status"], item["failure_error"], item["failure_reason"]) == (
        "FAILED",
        "States.Runtime",
        "history quota",
    )


def test_close_during_training_says_the_version_may_still_train_and_how_to_stop_it(
    settings: Settings, records: RunRecords, run_claims: RunClaims
) -> None:
    claim(settings, run_claims, GLUE_EVENT)
    version = f"{SOLUTION}/0a1b2c3d"
    records.record_training_started(
        "shop-home-recommendations", "20261129", EXECUTION, version_arn=version, status="CREATE IN_PROGRESS"
    )
    alerts = RecordedAlerts()

    claims.close(status_change("ABORTED"), settings, run_claims, alerts)

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
    settings: Settings, run_claims: RunClaims, table: Any, error: str | None, alerts_sent: int
) -> None:
    # The definition's own Fail states alert before they end (they may not raise States.*), even when
    # the record write failed: the close then writes the record and stays quiet.
    claim(settings, run_claims, GLUE_EVENT)
    alerts = RecordedAlerts()

    claims.close(status_change("FAILED", **({"error": error} if error else {})), settings, run_claims, alerts)

    assert record(table)["run_status"] == "FAILED"
    assert len(alerts.published) == alerts_sent


def test_close_leaves_a_recorded_run_and_other_executions_runs_alone(
    settings: Settings, run_claims: RunClaims, table: Any
) -> None:
    claim(settings, run_claims, GLUE_EVENT, execution=OTHER_EXECUTION)
    alerts = RecordedAlerts()

    assert claims.close(status_change("FAILED"), settings, run_claims, alerts)["closed"] == []
    assert record(table)["run_status"] == "RUNNING"
    assert alerts.published == []


def test_close_of_an_execution_whose_input_was_rejected_touches_nothing(
    settings: Settings, run_claims: RunClaims, table: Any
) -> None:
    alerts = RecordedAlerts()
    assert claims.close(status_change("FAILED", {"bogus": 1}), settings, run_claims, alerts)["closed"] == []
    assert table.scan()["Items"] == []
    assert alerts.published == []


@pytest.fixture
def stepfunctions() -> Iterator[tuple[Any, Stubber]]:
    yield from stubbed("stepfunctions")


def described(status: str, execution: str = EXECUTION, **extra: Any) -> dict[str, Any]:
    """DescribeExecution's answer for an execution started by the Glue event."""
    return {
        "executionArn": execution,
        "stateMachineArn": execution.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0],
        "status": status,
        "startDate": datetime(2026, 11, 28, 16, 30, tzinfo=UTC),
        "input": json.dumps(GLUE_EVENT),
        **extra,
    }


def test_sweep_closes_a_run_whose_execution_ended_as_its_status_change_event_would(
    settings: Settings, run_claims: RunClaims, table: Any, stepfunctions: tuple[Any, Stubber]
) -> None:
    # Given a run whose execution was stopped, and whose status change event never arrived
    claim(settings, run_claims, GLUE_EVENT)
    client, stubber = stepfunctions
    stopped = described("ABORTED", error="StoppedByOperator", cause="wrong data")
    stubber.add_response("describe_execution", stopped, {"executionArn": EXECUTION})
    alerts = RecordedAlerts()

    # When the sweep runs, twice
    swept = claims.sweep(settings, run_claims, client, alerts)
    again = claims.sweep(settings, run_claims, client, alerts)

    # Then the record is closed as `close` closes it, and alerted once; the second sweep finds nothing running
    assert swept["closed"] == [
        {"execution_arn": EXECUTION, "closed": [CAMPAIGN_NAME], "base_date": "20261129", "run_status": "ABORTED"}
    ]
    assert again == {"running": 0, "closed": []}
    item = record(table)
    assert (item["run_status"], item["failure_phase"], item["failure_error"], item["failure_reason"]) == (
        "ABORTED",
        "IMPORT",
        "StoppedByOperator",
        "wrong data",
    )
    (alert,) = alerts.published
    assert alert["Subject"] == "Personalize refresh was stopped"


@pytest.mark.parametrize("status", ["RUNNING", "SUCCEEDED", None])
def test_sweep_leaves_a_run_whose_execution_runs_succeeded_or_is_gone(
    settings: Settings, run_claims: RunClaims, table: Any, stepfunctions: tuple[Any, Stubber], status: str | None
) -> None:
    claim(settings, run_claims, GLUE_EVENT)
    client, stubber = stepfunctions
    if status is None:
        stubber.add_client_error(
            "describe_execution", "ExecutionDoesNotExist", expected_params={"executionArn": EXECUTION}
        )
    else:
        stubber.add_response("describe_execution", described(status), {"executionArn": EXECUTION})
    alerts = RecordedAlerts()

    assert claims.sweep(settings, run_claims, client, alerts) == {"running": 1, "closed": []}
    assert record(table)["run_status"] == "RUNNING"
    assert alerts.published == []


def test_sweep_describes_each_ended_execution_once_and_only_running_records(
    settings: Settings, run_claims: RunClaims, table: Any, stepfunctions: tuple[Any, Stubber]
) -> None:
    # A completed day, and a day whose execution timed out
    claim(settings, run_claims, {"base_date": "20261122"}, execution=OTHER_EXECUTION)
    table.update_item(
        Key={"campaign_name": CAMPAIGN_NAME, "base_date": 20261122},
        UpdateExpression="SET run_status = :s",
        ExpressionAttributeValues={":s": "SUCCEEDED"},
    )
    claim(settings, run_claims, GLUE_EVENT)
    client, stubber = stepfunctions
    stubber.add_response("describe_execution", described("TIMED_OUT"), {"executionArn": EXECUTION})

    swept = claims.sweep(settings, run_claims, client, RecordedAlerts())

    assert swept["running"] == 1
    assert record(table)["run_status"] == "TIMED_OUT"
    assert record(table, 20261122)["run_status"] == "SUCCEEDED"
