"""The soak's invariants: a healthy refresh keeps them, and each way of breaking one is reported."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reliability.invariants import Refreshed, violations
from reliability.readback import Job

T0 = datetime(2026, 11, 28, 16, tzinfo=UTC)


def _job(name: str, status: str, created_minutes: int, updated_minutes: int) -> Job:
    return Job(
        "interactions", name, status, T0 + timedelta(minutes=created_minutes), T0 + timedelta(minutes=updated_minutes)
    )


OLD, NEW, OTHER = "arn:v/old", "arn:v/new", "arn:v/other"
RUN = "arn:aws:states:x:1:execution:sm:run"


def _refreshed(**changes: Any) -> Refreshed:
    record = {"campaign_name": "home", "base_date": 20261129, "run_status": "SUCCEEDED", "execution_arn": RUN}
    last_week = {"campaign_name": "home", "base_date": 20261122, "run_status": "SUCCEEDED", "execution_arn": "old"}
    healthy = Refreshed(
        day=20261129,
        campaigns=["home"],
        executions={RUN: ("SUCCEEDED", None)},
        ended={},
        records_before={("home", 20261122): last_week},
        records_after={("home", 20261122): last_week, ("home", 20261129): record},
        serving_before={"home": OLD},
        serving_after={"home": NEW},
        versions={NEW: ("refresh-20261129", "ACTIVE"), OLD: ("", "ACTIVE"), OTHER: ("refresh-20261101", "ACTIVE")},
        jobs=[],
        alerts=[],
    )
    return replace(healthy, **changes)


def _failed_record(**fields: Any) -> dict[tuple[str, int], dict[str, Any]]:
    last_week = _refreshed().records_before
    return {
        **last_week,
        ("home", 20261129): {"campaign_name": "home", "base_date": 20261129, "execution_arn": RUN} | fields,
    }


def test_a_healthy_refresh_keeps_every_invariant() -> None:
    assert violations(_refreshed()) == []


@pytest.mark.parametrize(
    ("changes", "number"),
    [
        ({"jobs": [_job("r-20261129", "ACTIVE", 0, 30), _job("r-20261129-02", "ACTIVE", 5, 35)]}, "1."),
        ({"serving_after": {"home": OTHER}}, "2."),
        ({"versions": {NEW: ("refresh-20261129", "CREATE IN_PROGRESS")}}, "2."),
        ({"executions": {RUN: ("FAILED", "TrainingFailed")}}, "3."),
        ({"records_after": _failed_record(run_status="RUNNING"), "ended": {RUN: "FAILED"}}, "3."),
        (
            {
                "executions": {RUN: ("FAILED", "TrainingFailed")},
                "records_after": _failed_record(run_status="FAILED"),
                "serving_after": {"home": OLD},
            },
            "4.",
        ),
        ({"alerts": [("Personalize refresh failed", f"... Execution: {RUN}")]}, "4."),
        (
            {
                "executions": {RUN: ("FAILED", "ClaimFailed")},
                "records_after": _refreshed().records_before,
                "serving_after": {"home": OLD},
            },
            "4.",
        ),
        ({"records_after": {("home", 20261122): {"run_status": "FAILED"}}}, "5."),
    ],
    ids=[
        "job-twice",
        "serves-another-day",
        "serves-inactive",
        "succeeded-disagrees",
        "left-running",
        "not-alerted",
        "alerted-on-success",
        "claim-failure-not-alerted",
        "other-day-changed",
    ],
)
def test_each_broken_invariant_is_reported(changes: dict[str, Any], number: str) -> None:
    found = violations(_refreshed(**changes))

    assert found, "the broken invariant went unnoticed"
    assert any(problem.startswith(number) for problem in found), found


def test_a_failed_run_alerted_once_keeps_every_invariant() -> None:
    failed = _refreshed(
        executions={RUN: ("FAILED", "TrainingFailed")},
        records_after=_failed_record(run_status="FAILED"),
        serving_after={"home": OLD},
        alerts=[("Personalize refresh failed", f"The Personalize refresh of campaign home ... Execution: {RUN}")],
    )

    assert violations(failed) == []
