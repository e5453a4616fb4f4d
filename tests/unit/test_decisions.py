"""The refresh's decisions: the training mode, and the quality gate, each with its reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from refresh_common.data import DataSnapshot
from refresh_common.decisions import ImportPlan, import_plan, quality_gate, training_mode
from refresh_common.errors import ImportRefused, QualityGateMisconfigured
from refresh_common.settings import MetricRule, QualityGate, TrainingPolicy

NOW = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
USER_PERSONALIZATION = "arn:aws:personalize:::recipe/aws-user-personalization"
V2 = "arn:aws:personalize:::recipe/aws-user-personalization-v2"
NDCG = "normalized_discounted_cumulative_gain_at_25"


def version(days_ago: float, mode: str = "FULL", status: str = "ACTIVE", name: str = "v") -> dict[str, Any]:
    return {
        "solutionVersionArn": f"arn:aws:personalize:ap-northeast-2:123456789012:solution/s/{name}",
        "status": status,
        "trainingMode": mode,
        "creationDateTime": NOW - timedelta(days=days_ago),
    }


WEEKLY = TrainingPolicy("UPDATE", full_every_days=7)


def test_full_policy_always_trains_full() -> None:
    assert training_mode(TrainingPolicy(), V2, [], NOW).choice == "FULL"


def test_update_falls_back_to_full_on_a_recipe_that_cannot_update() -> None:
    decision = training_mode(WEEKLY, V2, [version(1)], NOW)
    assert decision.choice == "FULL"
    assert V2 in decision.reason


def test_update_needs_an_active_full_version_first() -> None:
    versions = [version(1, status="CREATE FAILED"), version(2, mode="UPDATE")]
    decision = training_mode(WEEKLY, USER_PERSONALIZATION, versions, NOW)
    assert (decision.choice, decision.reason) == ("FULL", "the solution has no ACTIVE FULL version to UPDATE")


def test_update_on_top_of_the_newest_full_version() -> None:
    versions = [version(5, name="old-full"), version(2, name="new-full"), version(1, mode="UPDATE")]
    decision = training_mode(WEEKLY, USER_PERSONALIZATION, versions, NOW)
    assert decision.choice == "UPDATE"
    assert decision.reason.endswith("solution/s/new-full")


@pytest.mark.parametrize(("days_ago", "choice"), [(6.4, "UPDATE"), (6.6, "FULL"), (9, "FULL")])
def test_a_full_training_is_due_every_n_days_give_or_take_half_a_day(days_ago: float, choice: str) -> None:
    decision = training_mode(WEEKLY, USER_PERSONALIZATION, [version(days_ago)], NOW)
    assert decision.choice == choice


@pytest.mark.parametrize(("updates", "choice"), [(1, "UPDATE"), (2, "FULL")])
def test_a_full_training_is_due_every_n_trainings(updates: int, choice: str) -> None:
    versions = [version(10)] + [version(9 - i, mode="UPDATE") for i in range(updates)]
    versions.append(version(11, mode="UPDATE"))  # before the last FULL one: not counted
    decision = training_mode(TrainingPolicy("UPDATE", full_every_runs=3), USER_PERSONALIZATION, versions, NOW)
    assert decision.choice == choice


GATE = QualityGate((MetricRule(NDCG, max_drop_percent=2), MetricRule("coverage", min_value=0.2)))


def test_gate_deploys_a_version_within_every_rule() -> None:
    decision = quality_gate(GATE, {NDCG: 0.299, "coverage": 0.3}, {NDCG: 0.3, "coverage": 0.5})
    assert decision.choice == "deploy"
    assert decision.reason == f"{NDCG} 0.3 -> 0.299 (-0.3 %, at most -2 %); coverage 0.3"


def test_gate_holds_a_version_that_drops_too_far_or_falls_under_a_floor() -> None:
    decision = quality_gate(GATE, {NDCG: 0.25, "coverage": 0.1}, {NDCG: 0.3, "coverage": 0.5})
    assert decision.choice == "hold"
    assert decision.reason == f"{NDCG} 0.3 -> 0.25 (-16.7 %, at most -2 %); coverage 0.1 is under its floor 0.2"


def test_gate_deploys_a_version_exactly_at_its_limits() -> None:
    # "at most 2 %" and "a floor of 0.2": a drop of exactly 2 % and a value of exactly 0.2 are within them, however
    # the subtraction rounds (0.5 - 0.49 is 0.010000000000000009 in binary floating point).
    decision = quality_gate(GATE, {NDCG: 0.49, "coverage": 0.2}, {NDCG: 0.5, "coverage": 0.5})
    assert decision.choice == "deploy", decision.reason
    assert quality_gate(GATE, {NDCG: 0.4899, "coverage": 0.2}, {NDCG: 0.5, "coverage": 0.5}).choice == "hold"


def test_gate_without_a_baseline_applies_only_the_floor() -> None:
    assert quality_gate(GATE, {NDCG: 0.01, "coverage": 0.3}, {}).choice == "deploy"


@pytest.mark.parametrize("without_metrics", ["deploy", "hold"])
def test_a_version_with_no_metrics_is_decided_by_rule(without_metrics: str) -> None:
    gate = QualityGate(GATE.rules, without_metrics)
    decision = quality_gate(gate, {}, {NDCG: 0.3})
    assert decision.choice == without_metrics
    assert "reports no metrics" in decision.reason


def test_a_metric_the_versions_do_not_report_is_a_configuration_error() -> None:
    with pytest.raises(QualityGateMisconfigured, match=f"do not report {NDCG}; they report coverage, precision"):
        quality_gate(GATE, {"coverage": 0.3, "precision": 0.1}, {})


def test_a_full_version_the_gate_held_back_is_no_base_for_an_update() -> None:
    versions = [version(8, name="good-full"), version(1, name="held-back-full")]
    held_back = {versions[1]["solutionVersionArn"]}

    decision = training_mode(WEEKLY, USER_PERSONALIZATION, versions, NOW, held_back)

    # The newest FULL version that passed is 8 days old: FULL is due again, not an UPDATE on the worse one.
    assert decision.choice == "FULL"
    assert training_mode(WEEKLY, USER_PERSONALIZATION, versions, NOW).reason.endswith("held-back-full")


# Import plans ---------------------------------------------------------------------------------------

DATA = DataSnapshot(objects=3, bytes=250 * 10**6, fingerprint="abc")


def plan_of(mode: str = "FULL", data: DataSnapshot | None = DATA, **kwargs: Any) -> ImportPlan:
    options = {"imported": None, "has_active_import": True, "force": False} | kwargs
    return import_plan("interactions", mode, data, **options)


def test_data_with_the_fingerprint_of_the_last_import_is_skipped_unless_forced() -> None:
    assert plan_of(imported="abc").action == "skip"
    forced = plan_of(imported="abc", force=True)
    assert (forced.action, forced.mode) == ("import", "FULL")
    assert "(forced)" in forced.reason


def test_incremental_falls_back_to_full_until_the_dataset_has_had_an_active_import() -> None:
    first = plan_of("INCREMENTAL", has_active_import=False)
    assert (first.mode, first.reason) == (
        "FULL",
        "no earlier ACTIVE import into the dataset, which INCREMENTAL needs: FULL",
    )
    assert plan_of("INCREMENTAL").mode == "INCREMENTAL"


@pytest.mark.parametrize(
    ("mode", "data", "refusal"),
    [
        ("FULL", DataSnapshot(0, 0, "e"), "no data under the location"),
        ("FULL", DataSnapshot(9, 101 * 10**9, "big"), "over Personalize's 100 GB limit"),
        ("INCREMENTAL", DataSnapshot(2, 2 * 10**9, "2gb"), "over Personalize's 1 GB limit for an INCREMENTAL import"),
    ],
)
def test_what_personalize_would_refuse_is_refused_before_any_job(mode: str, data: DataSnapshot, refusal: str) -> None:
    with pytest.raises(ImportRefused, match=refusal):
        plan_of(mode, data)


def test_an_unread_location_is_imported_as_configured() -> None:
    assert (plan_of("INCREMENTAL", None).mode, plan_of("FULL", None).action) == ("INCREMENTAL", "import")
