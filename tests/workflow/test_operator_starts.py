"""Manual starts an operator makes (what the CLI's `start` and `retry` send): one campaign of several, and a
forced refresh of a day that already completed, which creates its own jobs instead of taking up the day's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from infra.config import RefreshConfig
from local_engine.refresh import LocalRefresh

BASE_DATE = 20261129


@pytest.fixture
def refresh(two_of_each_template: Any, two_of_each_config: RefreshConfig) -> Iterator[LocalRefresh]:
    with LocalRefresh(two_of_each_template.to_json(), two_of_each_config) as local:
        local.emulator.set_duration("training", timedelta(hours=2))
        yield local


def names(config: RefreshConfig) -> list[str]:
    return [campaign.name for campaign in config.campaigns]


def calls(refresh: LocalRefresh, operation: str) -> list[dict[str, Any]]:
    return [call.params for call in refresh.personalize_calls if call.operation == operation and not call.error_code]


def test_a_manual_start_for_one_campaign_claims_and_refreshes_only_that_one(refresh: LocalRefresh) -> None:
    first, second = names(refresh.config)

    execution = refresh.wait(refresh.start_manual({"base_date": str(BASE_DATE), "campaigns": [second]}))

    assert execution["status"] == "SUCCEEDED"
    assert [(r["campaign_name"], r["run_status"]) for r in refresh.run_records()] == [(second, "SUCCEEDED")]
    (update,) = calls(refresh, "UpdateCampaign")
    assert update["campaignArn"].endswith(f"campaign/{second}")
    assert first != second


def test_a_manual_start_naming_an_unknown_campaign_fails_at_once_and_writes_nothing(refresh: LocalRefresh) -> None:
    execution = refresh.wait(refresh.start_manual({"base_date": str(BASE_DATE), "campaigns": ["no-such-campaign"]}))

    assert execution["status"] == "FAILED"
    assert execution["error"] == "InvalidRunInput"
    assert "no-such-campaign" in execution["cause"]
    assert refresh.run_records() == []
    assert calls(refresh, "CreateDatasetImportJob") == []


def test_a_forced_start_refreshes_a_succeeded_day_afresh_with_new_jobs(refresh: LocalRefresh) -> None:
    first, _ = names(refresh.config)
    assert refresh.wait(refresh.start_manual({"base_date": str(BASE_DATE), "campaigns": [first]}))["status"] == (
        "SUCCEEDED"
    )
    before = refresh.run_record(first, BASE_DATE)

    again = refresh.wait(refresh.start_manual({"base_date": str(BASE_DATE), "campaigns": [first]}))
    assert again["status"] == "SUCCEEDED"
    assert refresh.run_record(first, BASE_DATE)["execution_arn"] == before["execution_arn"]  # a duplicate: untouched

    forced = refresh.wait(refresh.start_manual({"base_date": str(BASE_DATE), "campaigns": [first], "force": True}))

    assert forced["status"] == "SUCCEEDED"
    record = refresh.run_record(first, BASE_DATE)
    assert (record["run_status"], record["attempt"], record["forced"]) == ("SUCCEEDED", 2, True)
    assert record["previous_attempts"][0]["run_status"] == "SUCCEEDED"
    assert record["solution_version_arn"] != before["solution_version_arn"]
    assert refresh.serving_version(first) == record["solution_version_arn"]
    import_names = [params["jobName"] for params in calls(refresh, "CreateDatasetImportJob")]
    datasets = len(refresh.config.datasets)
    assert len(import_names) == 2 * datasets
    assert import_names[datasets:] == [f"{name}-02" for name in import_names[:datasets]]
    version_names = [params["name"] for params in calls(refresh, "CreateSolutionVersion")]
    assert version_names == [f"refresh-{BASE_DATE}", f"refresh-{BASE_DATE}-02"]
