"""Workflow tests of the stage events: what a refresh puts on the default bus, in order, for a consumer's rules,
on the local engine with the real handlers and the Personalize emulator."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from moto.events.models import EventPattern

from infra.config import RefreshConfig, parse_config
from infra.constants import EVENT_DETAIL_TYPE
from local_engine.refresh import LocalRefresh
from local_engine.synth import synthesize
from tests.conftest import ROOT, example_raw

CAMPAIGN = "shop-home-recommendations"
NEW_VERSION_NAME = "refresh-20261129"
NDCG = "normalized_discounted_cumulative_gain_at_25"
SUCCESS = [
    ("IMPORT", "RUNNING", "refresh"),
    ("IMPORT", "CREATE PENDING", "import"),
    ("IMPORT", "ACTIVE", "continue"),
    ("TRAINING", "CREATE PENDING", "FULL"),
    ("TRAINING", "ACTIVE", "continue"),
    ("DEPLOYMENT", "CREATE PENDING", "deploy"),
    ("DONE", "SUCCEEDED", "serve"),
    ("DONE", "SUCCEEDED", "end"),
]


@pytest.fixture(scope="module")
def example_json(example_template: Any) -> dict[str, Any]:
    return example_template.to_json()


@pytest.fixture
def refresh(example_json: dict[str, Any], example_config: RefreshConfig) -> Iterator[LocalRefresh]:
    with LocalRefresh(example_json, example_config) as local:
        yield local


@pytest.fixture(scope="module")
def gated_config() -> RefreshConfig:
    raw = copy.deepcopy(example_raw())
    raw["campaigns"][0]["quality_gate"] = {"rules": [{"metric": NDCG, "max_drop_percent": 2}]}
    return parse_config(raw)


@pytest.fixture
def gated(gated_config: RefreshConfig) -> Iterator[LocalRefresh]:
    with LocalRefresh(synthesize(gated_config).to_json(), gated_config) as local:
        yield local


def run(refresh: LocalRefresh) -> dict[str, Any]:
    (arn,) = refresh.put_glue_event()
    return refresh.wait(arn)


def stages(refresh: LocalRefresh) -> list[tuple[str, str, str]]:
    return [(e["detail"]["phase"], e["detail"]["status"], e["detail"]["decision"]) for e in refresh.stage_events()]


def documented_rule_pattern() -> str:
    """The consumer's rule pattern docs/STAGE_EVENTS.md gives (tests/docs/test_stage_events_doc.py checks that it
    matches a deployment)."""
    page = (ROOT / "docs" / "STAGE_EVENTS.md").read_text(encoding="utf-8")
    return re.findall(r"```json\n(.*?)```", page, re.DOTALL)[-1]


def test_a_refresh_announces_every_phase_change_in_order(refresh: LocalRefresh) -> None:
    execution = run(refresh)

    assert execution["status"] == "SUCCEEDED"
    assert stages(refresh) == SUCCESS
    events = refresh.stage_events()
    record = refresh.run_record(CAMPAIGN, 20261129)
    run_executions = {
        execution["executionArn"],
        *refresh.children(refresh.execution_history(execution["executionArn"])),
    }
    for event in events:
        assert event["detail-type"] == EVENT_DETAIL_TYPE
        assert event["detail"]["base_date"] == "20261129"
        assert event["detail"]["execution_arn"] == execution["executionArn"]
        assert event["detail"]["campaigns"] == [CAMPAIGN]
        # The events integration adds the state machine and the execution that put it to every entry's resources:
        # the refresh's, or the import's or campaign's execution it started; the detail names the run's.
        machine, put_by = event["resources"]
        assert put_by in run_executions
        assert put_by.split(":")[6] == machine.split(":")[6]
    import_started, deployed = events[1]["detail"], events[6]["detail"]
    assert import_started["dataset_import_job_arn"] == record["dataset_import_job_arn"]
    assert deployed["solution_version_arn"] == record["deployed_solution_version_arn"]
    assert deployed["campaign_arn"] == record["campaign_arn"]
    assert deployed["training_mode"] == "FULL"
    assert deployed["metrics"]["solution_version"] == pytest.approx(record["solution_version_metrics"])
    assert events[-1]["detail"]["outcome"] == [
        {"campaign_name": CAMPAIGN, "run_status": "SUCCEEDED", "solution_version_arn": record["solution_version_arn"]}
    ]


def test_the_history_budget_counts_every_stage_event_of_a_run(refresh: LocalRefresh) -> None:
    """infra/history_budget.py: at most 2 per run, 2 per dataset and 4 per campaign."""
    run(refresh)
    assert len(refresh.stage_events()) == 2 + 2 * len(refresh.config.datasets) + 4 * len(refresh.config.campaigns)


def test_a_failed_training_is_announced_with_its_reason(refresh: LocalRefresh) -> None:
    refresh.emulator.faults.fail_job("training", "Training data too sparse")

    assert run(refresh)["status"] == "FAILED"

    assert stages(refresh) == [
        *SUCCESS[:4],
        ("DONE", "FAILED", "keep"),
        ("DONE", "FAILED", "end"),
    ]
    campaign_end, run_end = (e["detail"] for e in refresh.stage_events()[-2:])
    assert (campaign_end["failure_phase"], campaign_end["error"]) == ("TRAINING", "TrainingFailed")
    assert "Training data too sparse" in campaign_end["reason"]
    assert run_end["error"] == "TrainingFailed" and "Training data too sparse" in run_end["reason"]
    assert [c["run_status"] for c in run_end["outcome"]] == ["FAILED"]


def test_a_failed_import_ends_the_run_with_one_event(refresh: LocalRefresh) -> None:
    refresh.emulator.faults.fail_job("import", "S3 object not readable")

    assert run(refresh)["status"] == "FAILED"

    assert stages(refresh) == [*SUCCESS[:2], ("DONE", "FAILED", "end")]
    run_end = refresh.stage_events()[-1]["detail"]
    assert (run_end["failure_phase"], run_end["error"]) == ("IMPORT", "ImportJobFailed")
    assert "S3 object not readable" in run_end["reason"]


def test_a_gated_run_announces_the_hold_with_the_gate_and_both_metrics(gated: LocalRefresh) -> None:
    served = gated.serving_version(CAMPAIGN)
    served_metrics = gated.emulator.metrics_of(served)
    gated.emulator.set_metrics(NEW_VERSION_NAME, {**served_metrics, NDCG: served_metrics[NDCG] * 0.9})

    assert run(gated)["status"] == "SUCCEEDED"

    assert stages(gated) == [
        *SUCCESS[:5],
        ("DEPLOYMENT", "GATED", "hold"),
        ("DONE", "GATED", "hold"),
        ("DONE", "SUCCEEDED", "end"),
    ]
    decision, held_back, run_end = (e["detail"] for e in gated.stage_events()[-3:])
    record = gated.run_record(CAMPAIGN, 20261129)
    assert decision["reason"] == held_back["reason"] == record["quality_gate"]["reason"]
    assert held_back["metrics"]["serving_version"][NDCG] == pytest.approx(served_metrics[NDCG])
    assert held_back["metrics"]["solution_version"][NDCG] == pytest.approx(served_metrics[NDCG] * 0.9)
    assert [c["run_status"] for c in run_end["outcome"]] == ["GATED"]
    assert not EventPattern.load(documented_rule_pattern()).matches_event(gated.stage_events()[-2])


def test_a_duplicate_event_is_announced_skipped(refresh: LocalRefresh) -> None:
    event = refresh.glue_event()
    (first,) = refresh.put_glue_event(event)
    refresh.wait(first)
    (second,) = refresh.put_glue_event(event)

    assert refresh.wait(second)["status"] == "SUCCEEDED"

    skipped = refresh.stage_events()[-1]["detail"]
    assert (skipped["phase"], skipped["status"], skipped["decision"]) == ("DONE", "SKIPPED", "skip")
    assert (skipped["campaigns"], skipped["skipped"]) == ([CAMPAIGN], {CAMPAIGN: "SUCCEEDED"})


@pytest.mark.parametrize("fault", ["ThrottlingException", "AccessDeniedException", "FailedEntryCount"])
def test_events_that_cannot_be_put_never_fail_the_refresh(refresh: LocalRefresh, fault: str) -> None:
    # Only the stage events: the Glue event that starts the run goes through.
    only_stage_events = json.dumps(EVENT_DETAIL_TYPE)
    if fault == "FailedEntryCount":
        failed = {"ErrorCode": "InternalFailure", "ErrorMessage": "Injected"}
        refresh.aws.faults.answer(
            "events",
            "PutEvents",
            {"FailedEntryCount": 1, "Entries": [failed]},
            times=1000,
            body_contains=only_stage_events,
        )
    else:
        refresh.aws.faults.fail("events", "PutEvents", fault, times=1000, body_contains=only_stage_events)

    execution = run(refresh)

    assert execution["status"] == "SUCCEEDED"
    assert refresh.run_record(CAMPAIGN, 20261129)["run_status"] == "SUCCEEDED"
    assert refresh.stage_events() == []
    assert refresh.serving_version(CAMPAIGN) != refresh.campaign_versions[CAMPAIGN]
    errors = {
        e["taskFailedEventDetails"]["error"]
        for e in refresh.history(execution["executionArn"])
        if e["type"] == "TaskFailed"
    }
    assert errors == {"EventBridge.FailedEntry" if fault == "FailedEntryCount" else f"EventBridge.{fault}"}
