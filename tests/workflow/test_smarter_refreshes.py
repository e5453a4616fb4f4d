"""Workflow tests of the refresh's decisions: the training mode and the quality gate, each recorded with
its reason, on the local engine with the real handlers and the Personalize emulator."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from infra.config import RefreshConfig, parse_config
from local_engine.refresh import LocalRefresh
from local_engine.synth import synthesize
from tests.conftest import example_raw

CAMPAIGN = "shop-home-recommendations"
BASE_DATE = 20261129
NEW_VERSION_NAME = "refresh-20261129"
NDCG = "normalized_discounted_cumulative_gain_at_25"
USER_PERSONALIZATION = "arn:aws:personalize:::recipe/aws-user-personalization"


def _gated_update_daily() -> dict[str, Any]:
    raw = copy.deepcopy(example_raw())
    raw["campaigns"][0]["training"] = {"mode": "UPDATE", "full_every_days": 7}
    raw["campaigns"][0]["quality_gate"] = {"rules": [{"metric": NDCG, "max_drop_percent": 2}]}
    return raw


@pytest.fixture(scope="module")
def config() -> RefreshConfig:
    return parse_config(_gated_update_daily())


@pytest.fixture(scope="module")
def template(config: RefreshConfig) -> dict[str, Any]:
    return synthesize(config).to_json()


@pytest.fixture
def refresh(template: dict[str, Any], config: RefreshConfig) -> Iterator[LocalRefresh]:
    """The example's solution on the User-Personalization-v2 recipe, which cannot UPDATE."""
    with LocalRefresh(template, config) as local:
        yield local


@pytest.fixture
def updatable(template: dict[str, Any], config: RefreshConfig) -> Iterator[LocalRefresh]:
    """The same, on the User-Personalization recipe, which can."""
    solutions = {config.campaigns[0].solution_arn: {"recipe_arn": USER_PERSONALIZATION}}
    with LocalRefresh(template, config, solutions=solutions) as local:
        yield local


def run(refresh: LocalRefresh) -> dict[str, Any]:
    (arn,) = refresh.put_glue_event()
    return refresh.wait(arn)


def created_versions(refresh: LocalRefresh) -> list[dict[str, Any]]:
    return [call.params for call in refresh.personalize_calls if call.operation == "CreateSolutionVersion"]


def updates(refresh: LocalRefresh) -> int:
    return sum(1 for call in refresh.personalize_calls if call.operation == "UpdateCampaign")


def test_a_version_worse_than_the_served_one_is_held_back_gated_and_alerted(refresh: LocalRefresh) -> None:
    served = refresh.serving_version(CAMPAIGN)
    served_metrics = refresh.emulator.metrics_of(served)
    refresh.emulator.set_metrics(NEW_VERSION_NAME, {**served_metrics, NDCG: served_metrics[NDCG] * 0.9})

    execution = run(refresh)

    assert execution["status"] == "SUCCEEDED"  # holding a worse model back is the pipeline working
    record = refresh.run_record(CAMPAIGN, BASE_DATE)
    assert (record["run_status"], record["phase"], record["quality_gate"]["decision"]) == ("GATED", "DONE", "hold")
    assert "(-10.0 %, at most -2 %)" in record["quality_gate"]["reason"]
    assert record["solution_version_metrics"][NDCG] == pytest.approx(served_metrics[NDCG] * 0.9)
    assert record["serving_version_metrics"][NDCG] == pytest.approx(served_metrics[NDCG])
    assert refresh.serving_version(CAMPAIGN) == served
    assert updates(refresh) == 0
    ((subject, message),) = refresh.alerts()
    assert subject == "Personalize refresh held back a new version"
    assert record["quality_gate"]["reason"] in message and record["solution_version_arn"] in message


def test_a_version_within_the_gate_is_deployed_and_both_metrics_kept(refresh: LocalRefresh) -> None:
    served_metrics = refresh.emulator.metrics_of(refresh.serving_version(CAMPAIGN))
    refresh.emulator.set_metrics(NEW_VERSION_NAME, {**served_metrics, NDCG: served_metrics[NDCG] * 0.99})

    assert run(refresh)["status"] == "SUCCEEDED"

    record = refresh.run_record(CAMPAIGN, BASE_DATE)
    assert (record["run_status"], record["quality_gate"]["decision"]) == ("SUCCEEDED", "deploy")
    assert refresh.serving_version(CAMPAIGN) == record["solution_version_arn"]
    assert refresh.alerts() == []


def test_update_on_a_recipe_that_cannot_falls_back_to_full_with_the_reason(refresh: LocalRefresh) -> None:
    assert run(refresh)["status"] == "SUCCEEDED"

    (created,) = created_versions(refresh)
    assert created["trainingMode"] == "FULL"
    record = refresh.run_record(CAMPAIGN, BASE_DATE)
    assert record["training_mode"] == "FULL"
    assert "aws-user-personalization-v2 cannot UPDATE" in record["training_mode_reason"]


def test_update_trains_on_top_of_the_full_version_and_deploys_without_metrics_by_rule(
    updatable: LocalRefresh,
) -> None:
    served = updatable.serving_version(CAMPAIGN)

    assert run(updatable)["status"] == "SUCCEEDED"

    (created,) = created_versions(updatable)
    assert created["trainingMode"] == "UPDATE"
    record = updatable.run_record(CAMPAIGN, BASE_DATE)
    assert (record["training_mode"], record["training_mode_reason"]) == (
        "UPDATE",
        f"UPDATE on top of the FULL version {served}",
    )
    # An UPDATE version reports no metrics: deployed, as without_metrics says by default.
    assert record["solution_version_metrics"] == {}
    assert record["quality_gate"]["decision"] == "deploy"
    assert updatable.serving_version(CAMPAIGN) == record["solution_version_arn"] != served


def test_a_gate_on_a_metric_the_solution_does_not_report_fails_before_training(refresh: LocalRefresh) -> None:
    refresh.emulator.set_metrics(refresh.serving_version(CAMPAIGN), {"coverage": 0.3, "precision": 0.1})

    execution = run(refresh)

    assert execution["status"] == "FAILED"
    assert created_versions(refresh) == []
    record = refresh.run_record(CAMPAIGN, BASE_DATE)
    assert (record["run_status"], record["failure_phase"], record["failure_error"]) == (
        "FAILED",
        "TRAINING",
        "QualityGateMisconfigured",
    )
    assert f"do not report {NDCG}; they report coverage, precision" in record["failure_reason"]
    ((subject, _),) = refresh.alerts()
    assert subject == "Personalize refresh failed"


# Personalize's own automation ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def warn_config() -> RefreshConfig:
    return parse_config({**_gated_update_daily(), "automation_guard": "warn"})


@pytest.fixture(scope="module")
def warn_template(warn_config: RefreshConfig) -> dict[str, Any]:
    return synthesize(warn_config).to_json()


def automated(config: RefreshConfig) -> dict[str, Any]:
    """A solution that trains by itself every 3 days, and a campaign that follows its latest version."""
    campaign = config.campaigns[0]
    return {
        "solutions": {campaign.solution_arn: {"perform_auto_training": True, "auto_training_days": 3}},
        "campaigns": {campaign.campaign_arn: {"campaign_config": {"syncWithLatestSolutionVersion": True}}},
    }


def test_a_run_beside_personalize_automation_is_refused_by_default_with_the_fix(
    template: dict[str, Any], config: RefreshConfig
) -> None:
    with LocalRefresh(template, config, **automated(config)) as refresh:
        execution = run(refresh)

        assert execution["status"] == "FAILED"
        assert [c.operation for c in refresh.personalize_calls if c.operation.startswith("Create")] == []
        record = refresh.run_record(CAMPAIGN, BASE_DATE)
        assert (record["run_status"], record["failure_error"]) == ("FAILED", "AutomationConflict")
        campaign = config.campaigns[0]
        assert "trains by itself (rate(3 days))" in record["failure_reason"]
        assert (
            f"update-solution --solution-arn {campaign.solution_arn} --no-perform-auto-training"
            in (record["failure_reason"])
        )
        assert "--campaign-config 'syncWithLatestSolutionVersion=false'" in record["failure_reason"]
        assert "--min-provisioned-tps 2 " in record["failure_reason"]  # the campaign's, kept
        ((subject, message),) = refresh.alerts()
        assert subject == "Personalize refresh failed" and "AutomationConflict" in message


def test_with_warn_the_run_goes_on_recorded_and_alerted_and_deploys_the_latest_version(
    warn_template: dict[str, Any], warn_config: RefreshConfig
) -> None:
    with LocalRefresh(warn_template, warn_config, **automated(warn_config)) as refresh:
        execution = run(refresh)

        assert execution["status"] == "SUCCEEDED"
        record = refresh.run_record(CAMPAIGN, BASE_DATE)
        assert len(record["warnings"]) == 2
        # The campaign follows its solution: it takes SOLUTION/$LATEST, never an explicit version.
        (update,) = [c.params for c in refresh.personalize_calls if c.operation == "UpdateCampaign"]
        assert update["solutionVersionArn"] == f"{warn_config.campaigns[0].solution_arn}/$LATEST"
        assert update["campaignConfig"] == {"syncWithLatestSolutionVersion": True}
        assert refresh.serving_version(CAMPAIGN) == record["solution_version_arn"]
        subjects = [subject for subject, _ in refresh.alerts()]
        assert subjects == ["Personalize refresh runs beside Personalize's own automation"]


# What changed in the data ------------------------------------------------------------------------

BUCKET = "shop-behaviour-history-123456789012"
NEXT_DAY = "20261130"


def put_interactions(refresh: LocalRefresh, base_date: str | int, rows: int, *, seed: int = 0) -> None:
    s3 = refresh.aws.client("s3")
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"})
    body = "USER_ID,ITEM_ID,TIMESTAMP\n" + "".join(
        f"u{i % 97},i{(i * 7 + seed) % 501},{1764300000 + i}\n" for i in range(rows)
    )
    s3.put_object(Bucket=BUCKET, Key=f"interactions/base_date={base_date}/part-00000.csv", Body=body.encode())


def start(refresh: LocalRefresh, **payload: Any) -> dict[str, Any]:
    return refresh.wait(refresh.start_manual(payload))


def imports_created(refresh: LocalRefresh) -> list[dict[str, Any]]:
    return [call.params for call in refresh.personalize_calls if call.operation == "CreateDatasetImportJob"]


def test_a_day_whose_data_did_not_change_is_skipped_and_force_overrides_it(refresh: LocalRefresh) -> None:
    put_interactions(refresh, BASE_DATE, 1_500)
    put_interactions(refresh, NEXT_DAY, 1_500)  # the same objects under the next day's prefix
    refresh.emulator.set_metrics(NEW_VERSION_NAME, refresh.emulator.metrics_of(refresh.serving_version(CAMPAIGN)))
    assert run(refresh)["status"] == "SUCCEEDED"
    first = refresh.run_record(CAMPAIGN, BASE_DATE)
    entry = first["dataset_import_jobs"]["interactions"]
    assert (entry["decision"], entry["import_mode"], entry["objects"]) == ("import", "FULL", 1)
    served = refresh.serving_version(CAMPAIGN)

    assert start(refresh, base_date=NEXT_DAY)["status"] == "SUCCEEDED"

    skipped = refresh.run_record(CAMPAIGN, int(NEXT_DAY))
    assert (skipped["run_status"], skipped["phase"]) == ("SKIPPED", "DONE")
    assert skipped["skip_reason"].startswith("interactions: data unchanged since the last import (1 objects")
    assert skipped["dataset_import_jobs"]["interactions"]["fingerprint"] == entry["fingerprint"]
    assert len(imports_created(refresh)) == 1 and len(created_versions(refresh)) == 1
    assert refresh.serving_version(CAMPAIGN) == served
    assert refresh.alerts() == []
    (announced,) = [e["detail"] for e in refresh.stage_events() if e["detail"]["status"] == "SKIPPED"]
    assert (announced["phase"], announced["decision"], announced["reason"]) == ("DONE", "skip", skipped["skip_reason"])

    assert start(refresh, base_date=NEXT_DAY, force=True)["status"] == "SUCCEEDED"

    forced = refresh.run_record(CAMPAIGN, int(NEXT_DAY))
    assert forced["run_status"] in ("SUCCEEDED", "GATED")
    assert "(forced)" in forced["dataset_import_jobs"]["interactions"]["reason"]
    assert len(imports_created(refresh)) == 2 and len(created_versions(refresh)) == 2


def test_changed_data_is_imported_and_trained(refresh: LocalRefresh) -> None:
    put_interactions(refresh, BASE_DATE, 1_500)
    put_interactions(refresh, NEXT_DAY, 1_600, seed=3)
    run(refresh)

    start(refresh, base_date=NEXT_DAY)

    record = refresh.run_record(CAMPAIGN, int(NEXT_DAY))
    assert record["run_status"] != "SKIPPED"
    assert record["dataset_import_jobs"]["interactions"]["decision"] == "import"
    assert len(imports_created(refresh)) == 2


def test_an_empty_data_location_is_refused_before_any_job(refresh: LocalRefresh) -> None:
    s3 = refresh.aws.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"})

    assert run(refresh)["status"] == "FAILED"

    record = refresh.run_record(CAMPAIGN, BASE_DATE)
    assert (record["run_status"], record["failure_phase"], record["failure_error"]) == (
        "FAILED",
        "IMPORT",
        "ImportRefused",
    )
    assert "interactions: no data under the location" in record["failure_reason"]
    assert imports_created(refresh) == []


@pytest.fixture(scope="module")
def incremental_config() -> RefreshConfig:
    raw = copy.deepcopy(example_raw())
    raw["datasets"][0]["import_mode"] = "INCREMENTAL"
    return parse_config(raw)


@pytest.fixture(scope="module")
def incremental_template(incremental_config: RefreshConfig) -> dict[str, Any]:
    return synthesize(incremental_config).to_json()


def test_incremental_starts_with_a_full_import_then_appends(
    incremental_template: dict[str, Any], incremental_config: RefreshConfig
) -> None:
    with LocalRefresh(incremental_template, incremental_config) as refresh:
        put_interactions(refresh, BASE_DATE, 1_500)
        put_interactions(refresh, NEXT_DAY, 1_200, seed=5)

        run(refresh)
        start(refresh, base_date=NEXT_DAY)

        first, second = imports_created(refresh)
        assert (first["importMode"], second["importMode"]) == ("FULL", "INCREMENTAL")
        reasons = [
            refresh.run_record(CAMPAIGN, day)["dataset_import_jobs"]["interactions"]["reason"]
            for day in (BASE_DATE, int(NEXT_DAY))
        ]
        assert reasons[0] == "no earlier ACTIVE import into the dataset, which INCREMENTAL needs: FULL"
        assert reasons[1].startswith("INCREMENTAL as configured (1 objects")
