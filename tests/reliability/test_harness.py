"""The pieces the matrix is judged by: the call log, jobs created twice, the facts compared."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local_engine.personalize import PersonalizeEmulator, PersonalizeError
from reliability.calls import CallLog
from reliability.outcomes import (
    Alerts,
    Asked,
    Expected,
    Observation,
    RecordOutcome,
    RecordSeen,
    differences,
    expected_facts,
    observed_facts,
)
from reliability.readback import Job, created_twice

DATASET = "arn:aws:personalize:ap-northeast-2:123456789012:dataset/shop-recs/INTERACTIONS"
T0 = datetime(2026, 11, 28, 16, tzinfo=UTC)


# The call log ---------------------------------------------------------------------------------------------


def test_a_hook_fires_just_before_the_nth_call_and_harness_calls_are_neither_counted_nor_hooked() -> None:
    emulator = PersonalizeEmulator(lambda: T0)
    emulator.add_dataset(DATASET)
    log = CallLog(emulator)
    fired: list[dict[str, Any]] = []
    with log.installed():
        log.on_call("DescribeDataset", 2, fired.append)
        with log.by_harness():
            emulator.call("DescribeDataset", {"datasetArn": DATASET})
        emulator.call("DescribeDataset", {"datasetArn": DATASET})
        assert fired == []
        emulator.call("DescribeDataset", {"datasetArn": DATASET})

    assert fired == [{"datasetArn": DATASET}]
    assert log.count("DescribeDataset") == 2


def test_the_log_records_how_each_call_ended() -> None:
    emulator = PersonalizeEmulator(lambda: T0)
    log = CallLog(emulator)
    with log.installed(), pytest.raises(PersonalizeError):
        emulator.call("DescribeDataset", {"datasetArn": DATASET})

    assert log.count("DescribeDataset", "ResourceNotFoundException") == 1
    assert log.count("DescribeDataset", "ok") == 0


# Jobs created twice ---------------------------------------------------------------------------------------


def _job(name: str, status: str, created_minutes: int, updated_minutes: int) -> Job:
    return Job(
        "interactions", name, status, T0 + timedelta(minutes=created_minutes), T0 + timedelta(minutes=updated_minutes)
    )


def test_a_second_job_for_a_day_is_allowed_only_after_the_first_failed() -> None:
    failed_then_retried = [_job("r-20261129", "CREATE FAILED", 0, 10), _job("r-20261129-02", "ACTIVE", 20, 30)]
    two_live = [_job("r-20261129", "ACTIVE", 0, 30), _job("r-20261129-02", "ACTIVE", 5, 35)]
    retried_before_it_failed = [_job("r-20261129", "CREATE FAILED", 0, 40), _job("r-20261129-02", "ACTIVE", 20, 50)]

    assert created_twice(failed_then_retried) == []
    assert len(created_twice(two_live)) == 1
    assert len(created_twice(retried_before_it_failed)) == 1
    assert created_twice([_job("r-20261129", "ACTIVE", 0, 30), _job("r-20261130", "ACTIVE", 5, 35)]) == []


# The facts compared -----------------------------------------------------------------------------------------


def _observation(**changes: Any) -> Observation:
    seen = RecordSeen("FAILED", "TRAINING", "TRAINING", "TrainingFailed", "Solution version x failed: too sparse")
    observation = Observation(
        executions=(("FAILED", "TrainingFailed"),),
        records=(("home", seen),),
        alerts=(("Personalize refresh failed", "failed in TRAINING. Error: TrainingFailed 20261129"),),
        asked=(("CreateDatasetImportJob", 1), ("CreateSolutionVersion", 1), ("UpdateCampaign", 0)),
        day_jobs=(1, 1),
        created_twice=(),
        serving=(("home", "previous"),),
        others_unchanged=True,
        day_unchanged=True,
    )
    return replace(observation, **changes)


EXPECTED = Expected(
    executions=("FAILED/TrainingFailed",),
    record=RecordOutcome("FAILED", "TRAINING", "TrainingFailed", "too sparse"),
    alerts=Alerts(1, "Personalize refresh failed", ("TrainingFailed", "20261129")),
    asked=Asked(imports=1, trainings=1, updates=0),
    serving="previous",
)


def _diff(observation: Observation) -> list[str]:
    return [
        a
        for a, _, _ in differences(
            expected_facts(EXPECTED, ["home"], 1), observed_facts(observation, EXPECTED, ["home"])
        )
    ]


def test_matching_facts_make_no_difference() -> None:
    assert _diff(_observation()) == []


@pytest.mark.parametrize(
    ("changes", "aspect"),
    [
        ({"executions": (("SUCCEEDED", None),)}, "execution"),
        ({"records": (("home", RecordSeen("RUNNING", "TRAINING", None, None, None)),)}, "record"),
        (
            {"records": (("home", RecordSeen("FAILED", "TRAINING", "TRAINING", "TrainingFailed", "other reason")),)},
            "record",
        ),
        ({"alerts": ()}, "alerts"),
        ({"alerts": (("Personalize refresh failed", "no error name"),)}, "alerts"),
        ({"asked": (("CreateDatasetImportJob", 2), ("CreateSolutionVersion", 1), ("UpdateCampaign", 0))}, "asked"),
        ({"created_twice": ("interactions on 20261129: ...",)}, "jobs"),
        ({"serving": (("home", "new"),)}, "serving"),
        ({"others_unchanged": False}, "other days"),
    ],
)
def test_each_differing_fact_is_reported(changes: dict[str, Any], aspect: str) -> None:
    assert _diff(_observation(**changes)) == [aspect]
