"""What the polls cost, in the run record: the polls each phase made, and how long each job's end waited for
the poll that saw it (its idle overhead). Every duration is simulated time, so the plan says exactly when each
poll happens, and each figure can be worked out beforehand."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

import pytest

from infra.config import RefreshConfig
from infra.workflow import POLL_LOOPS
from infra.workflow.history import events_per_poll
from local_engine.refresh import LocalRefresh
from refresh_common.polling import PollBounds, plan

CAMPAIGN = "shop-home-recommendations"
BASE_DATE = 20261129
PENDING = timedelta(seconds=60)  # the emulator's CREATE PENDING, before a job's own work
DURATIONS = {"import": timedelta(minutes=40), "training": timedelta(hours=5), "deployment": timedelta(minutes=20)}
# The example configuration's polling and limits, as the planner gets them.
BOUNDS = {
    "import": PollBounds(dense_seconds=60, max_seconds=300, limit_seconds=6 * 3600),
    "training": PollBounds(dense_seconds=60, max_seconds=300, limit_seconds=24 * 3600),
    "deployment": PollBounds(dense_seconds=60, max_seconds=60, limit_seconds=3 * 3600),
}
TOLERANCE = 1  # second: a poll and the record write after it may be a moment apart


@pytest.fixture
def refresh(example_template: Any, example_config: RefreshConfig) -> Iterator[LocalRefresh]:
    with LocalRefresh(example_template.to_json(), example_config) as local:
        for phase, duration in DURATIONS.items():
            local.emulator.set_duration(phase, duration)
        yield local


def run_glue_event(refresh: LocalRefresh) -> dict[str, Any]:
    (arn,) = refresh.put_glue_event()
    return refresh.wait(arn)


def entered(refresh: LocalRefresh, execution_arn: str, state: str) -> int:
    return sum(e.get("stateEnteredEventDetails", {}).get("name") == state for e in refresh.history(execution_arn))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def expected_idle(phase: str, earlier: list[float], polls: int) -> tuple[float, int]:
    """(idle, the wait before the poll that saw the end) by the plan: its polls happen at the running sums of
    its waits from the job's start, and the job ends after CREATE PENDING and its work."""
    waits = plan(earlier, BOUNDS[phase]).waits
    seen = list(accumulate(waits))[polls - 1]
    return seen - (PENDING + DURATIONS[phase]).total_seconds(), waits[polls - 1]


def personalize_ends(refresh: LocalRefresh, record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    client = refresh.client("personalize")
    return {
        "import": client.describe_dataset_import_job(
            datasetImportJobArn=record["dataset_import_jobs"]["interactions"]["arn"]
        )["datasetImportJob"],
        "training": client.describe_solution_version(solutionVersionArn=record["solution_version_arn"])[
            "solutionVersion"
        ],
        "deployment": client.describe_campaign(campaignArn=record["campaign_arn"])["campaign"]["latestCampaignUpdate"],
    }


def test_each_phase_records_its_polls_and_how_long_its_end_waited_for_them(refresh: LocalRefresh) -> None:
    execution = run_glue_event(refresh)

    assert execution["status"] == "SUCCEEDED"
    record = refresh.run_record(CAMPAIGN, BASE_DATE)
    imported = record["dataset_import_jobs"]["interactions"]
    polls = {
        "import": imported["polls"],
        "training": record["solution_version_polls"],
        "deployment": record["campaign_update_polls"],
    }
    # The polls recorded are the describe calls the state machine made.
    assert polls == {
        "import": entered(refresh, execution["executionArn"], "Describe import job"),
        "training": entered(refresh, execution["executionArn"], "Describe solution version"),
        "deployment": entered(refresh, execution["executionArn"], "Describe campaign"),
    }
    # The ends recorded are Personalize's own.
    ends = personalize_ends(refresh, record)
    for phase, end in ends.items():
        assert end["lastUpdatedDateTime"] - end["creationDateTime"] == PENDING + DURATIONS[phase], phase
    assert at(imported["completed_at"]) == ends["import"]["lastUpdatedDateTime"]
    assert at(record["solution_version_completed_at"]) == ends["training"]["lastUpdatedDateTime"]
    assert at(record["campaign_update_completed_at"]) == ends["deployment"]["lastUpdatedDateTime"]
    idle = {
        "import": imported["idle_seconds"],
        "training": record["solution_version_idle_seconds"],
        # No Lambda runs after the deployment: its idle overhead is read off the two times.
        "deployment": (
            at(record["campaign_update_updated_at"]) - at(record["campaign_update_completed_at"])
        ).total_seconds(),
    }
    assert record["import_idle_seconds"] == imported["idle_seconds"]  # one dataset: the phase's is its import's
    # The first run has no history: its waits grow from 60 s to each phase's longest, and each end is seen at
    # the first poll after it, as the plan places them.
    for phase in DURATIONS:
        figure, last_wait = expected_idle(phase, [], polls[phase])
        assert idle[phase] == pytest.approx(figure, abs=TOLERANCE), phase
        assert 0 <= idle[phase] < last_wait, phase
    assert sum(idle.values()) > 0


def test_a_rerun_records_no_idle_for_what_an_earlier_attempt_left_active(refresh: LocalRefresh) -> None:
    refresh.emulator.faults.fail_job("deployment", "Campaign update failed: internal error")
    failed = run_glue_event(refresh)
    assert failed["error"] == "DeploymentFailed"

    rerun = refresh.wait(refresh.start_manual({"base_date": str(BASE_DATE)}))

    assert rerun["status"] == "SUCCEEDED"
    record = refresh.run_record(CAMPAIGN, BASE_DATE)
    imported = record["dataset_import_jobs"]["interactions"]
    # The import and the training were ACTIVE before this run looked: no poll, no idle time of its own.
    assert (imported["polls"], record["solution_version_polls"]) == (0, 0)
    assert "idle_seconds" not in imported and "import_idle_seconds" not in record
    assert "solution_version_idle_seconds" not in record
    # The campaign update is this run's, polled until ACTIVE.
    assert record["campaign_update_polls"] == entered(refresh, rerun["executionArn"], "Describe campaign") > 0
    end = personalize_ends(refresh, record)["deployment"]["lastUpdatedDateTime"]
    assert at(record["campaign_update_completed_at"]) == end
    assert 0 <= (at(record["campaign_update_updated_at"]) - end).total_seconds() <= 60


def test_two_datasets_record_each_imports_idle_and_the_phases(
    two_of_each_template: Any, two_of_each_config: RefreshConfig
) -> None:
    with LocalRefresh(two_of_each_template.to_json(), two_of_each_config) as refresh:
        execution = run_glue_event(refresh)

        assert execution["status"] == "SUCCEEDED"
        for record in refresh.run_records():
            entries = record["dataset_import_jobs"]
            assert set(entries) == {"interactions", "items"}
            for entry in entries.values():
                assert entry["polls"] > 0
                assert entry["idle_seconds"] == pytest.approx(
                    (at(entry["updated_at"]) - at(entry["completed_at"])).total_seconds(), abs=0.1
                )
            # The training waited for the last import: from its end to the poll that saw the last of them.
            last_end = max(at(e["completed_at"]) for e in entries.values())
            last_seen = max(at(e["updated_at"]) for e in entries.values())
            assert record["import_idle_seconds"] == pytest.approx((last_seen - last_end).total_seconds(), abs=0.1)


@pytest.mark.parametrize("phase", ["import", "training", "deployment"])
def test_a_poll_that_sees_no_change_writes_the_events_the_history_budget_counts(
    refresh: LocalRefresh, phase: str
) -> None:
    """infra/history_budget.py takes a poll's events from the built definition; the execution writes as many."""
    loop = POLL_LOOPS[phase]
    history = refresh.history(run_glue_event(refresh)["executionArn"])
    waits = [i for i, e in enumerate(history) if e.get("stateEnteredEventDetails", {}).get("name") == loop.wait]
    assert len(waits) > 2  # polled more than once, mostly without a change

    assert min(later - earlier for earlier, later in itertools.pairwise(waits)) == events_per_poll(phase)
