"""The freshness check against moto's DynamoDB and CloudWatch: the metric the staleness alarm reads grows
with every day without a successful refresh, however long the silence, and only a SUCCEEDED run resets it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import check_freshness
import pytest
from moto import mock_aws

from refresh_common import clock, run_record
from refresh_common.environment import FRESHNESS_SETTINGS_FILE
from refresh_common.errors import InvalidSettings
from tests.conftest import code_package, run_table

REGION = "ap-northeast-2"
NAMESPACE = "PersonalizeRefresh"
CAMPAIGN = "shop-home-recommendations"
OTHER = "shop-similar-items"
DAY = 24 * 3600
NOW = datetime(2026, 12, 20, 9, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def table(aws: None) -> Any:
    return run_table(REGION)


@pytest.fixture
def cloudwatch(aws: None) -> Any:
    return boto3.client("cloudwatch", region_name=REGION)


def settings(*campaigns: str, stale_after_days: float = 8) -> check_freshness.FreshnessSettings:
    return check_freshness.FreshnessSettings("runs", NAMESPACE, campaigns or (CAMPAIGN,), stale_after_days)


def iso(epoch: float) -> str:
    return clock.iso(epoch)


def put_run(table: Any, status: str, *, ended: float, campaign: str = CAMPAIGN, took: float = 3 * 3600) -> None:
    """A run record as the pipeline leaves it: claimed `took` seconds before it `ended`."""
    started = ended - took
    base_date = int(datetime.fromtimestamp(started, tz=UTC).strftime("%Y%m%d"))
    item: dict[str, Any] = {
        "campaign_name": campaign,
        "base_date": base_date,
        "run_status": status,
        "started_at": iso(started),
        "ended_at": iso(ended),
        "updated_at": iso(ended),
    }
    if status == "SUCCEEDED":
        item |= {
            "dataset_import_jobs": {
                "interactions": {
                    "status": "ACTIVE",
                    "started_datetime": int(started),
                    "updated_at": iso(started + 1800),
                },
                "items": {"status": "ACTIVE", "started_datetime": int(started), "updated_at": iso(started + 600)},
            },
            "solution_version_datetime": int(started + 1800),
            "solution_version_status": "ACTIVE",
            "solution_version_updated_at": iso(started + 1800 + 7200),
            "campaign_update_datetime": int(started + 1800 + 7200),
            "campaign_update_status": "ACTIVE",
            "campaign_update_updated_at": iso(ended),
        }
    table.put_item(Item=item)


def metric(cloudwatch: Any, name: str, *dimensions: tuple[str, str], at: float = NOW) -> float:
    """The value of a metric the check published at `at`."""
    response = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=name,
        Dimensions=[{"Name": key, "Value": value} for key, value in dimensions],
        StartTime=datetime.fromtimestamp(at, tz=UTC),
        EndTime=datetime.fromtimestamp(at + 60, tz=UTC),
        Period=60,
        Statistics=["Maximum"],
    )
    (point,) = response["Datapoints"]
    return float(point["Maximum"])


def days_since_refresh(cloudwatch: Any, campaign: str = CAMPAIGN, at: float = NOW) -> float:
    return metric(cloudwatch, check_freshness.DAYS_SINCE_REFRESH, ("Campaign", campaign), at=at)


@pytest.mark.parametrize("silent_days", [8.5, 10, 30])
def test_days_of_silence_after_a_success_exceed_the_threshold(table: Any, cloudwatch: Any, silent_days: float) -> None:
    # Given a refresh that succeeded, then nothing at all (no run, no event, no metric from the pipeline)
    put_run(table, "SUCCEEDED", ended=NOW - silent_days * DAY)

    # When the scheduled check runs
    check_freshness.check(settings(), table, cloudwatch, now=NOW)

    # Then the metric the alarm reads is the silence itself, above the 8 days allowed
    assert days_since_refresh(cloudwatch) == pytest.approx(silent_days)
    assert days_since_refresh(cloudwatch) > 8


def test_a_week_of_silence_exceeds_a_threshold_below_a_week(table: Any, cloudwatch: Any) -> None:
    put_run(table, "SUCCEEDED", ended=NOW - 7 * DAY - 60)

    check_freshness.check(settings(stale_after_days=6), table, cloudwatch, now=NOW)

    assert 7 < days_since_refresh(cloudwatch) < 7.001


def test_hourly_checks_cross_the_threshold_eight_days_after_the_last_refresh(table: Any, cloudwatch: Any) -> None:
    # The alarm compares each hour's datapoint with the threshold: no window of days is ever needed.
    refreshed = NOW - 10 * DAY
    put_run(table, "SUCCEEDED", ended=refreshed)
    hours = range(1, 10 * 24 + 1)
    for hour in hours:
        check_freshness.check(settings(), table, cloudwatch, now=refreshed + hour * 3600)

    over = [hour for hour in hours if days_since_refresh(cloudwatch, at=refreshed + hour * 3600) > 8]
    assert over[0] == 8 * 24 + 1 and over == list(range(8 * 24 + 1, 10 * 24 + 1))


def test_a_recent_success_keeps_the_metric_under_the_threshold(table: Any, cloudwatch: Any) -> None:
    put_run(table, "SUCCEEDED", ended=NOW - 8 * DAY)
    put_run(table, "FAILED", ended=NOW - 7 * DAY)
    put_run(table, "SUCCEEDED", ended=NOW - 6 * 3600)

    check_freshness.check(settings(), table, cloudwatch, now=NOW)

    assert days_since_refresh(cloudwatch) == pytest.approx(0.25)


def test_a_campaign_with_only_failed_runs_is_stale_from_its_first_run(table: Any, cloudwatch: Any) -> None:
    for days_ago in (10, 3, 1):
        put_run(table, "FAILED", ended=NOW - days_ago * DAY, took=3600)

    check_freshness.check(settings(), table, cloudwatch, now=NOW)

    assert days_since_refresh(cloudwatch) == pytest.approx(10 + 1 / 24)
    assert metric(cloudwatch, check_freshness.DAYS_SINCE_RUN, ("Campaign", CAMPAIGN)) == pytest.approx(1 + 1 / 24)


@pytest.mark.parametrize("status", ["GATED", "SKIPPED", "TIMED_OUT", "ABORTED", "RUNNING"])
def test_a_run_that_deployed_nothing_is_not_a_refresh(table: Any, cloudwatch: Any, status: str) -> None:
    put_run(table, "SUCCEEDED", ended=NOW - 10 * DAY)
    put_run(table, status, ended=NOW - 3600)

    check_freshness.check(settings(), table, cloudwatch, now=NOW)

    assert days_since_refresh(cloudwatch) == pytest.approx(10)
    assert metric(cloudwatch, check_freshness.DAYS_SINCE_RUN, ("Campaign", CAMPAIGN)) < 1


def test_a_campaign_that_never_ran_counts_from_the_run_tables_creation(table: Any, cloudwatch: Any) -> None:
    created = table.creation_date_time.timestamp()

    check_freshness.check(settings(), table, cloudwatch, now=created + 9 * DAY)

    assert days_since_refresh(cloudwatch, at=created + 9 * DAY) == pytest.approx(9, abs=0.01)


def test_each_campaign_is_measured_on_its_own(table: Any, cloudwatch: Any) -> None:
    put_run(table, "SUCCEEDED", ended=NOW - DAY)
    put_run(table, "SUCCEEDED", ended=NOW - 12 * DAY, campaign=OTHER)
    put_run(table, "GATED", ended=NOW - DAY, campaign=OTHER)

    result = check_freshness.check(settings(CAMPAIGN, OTHER), table, cloudwatch, now=NOW)

    assert result == {"namespace": NAMESPACE, "campaigns": {CAMPAIGN: 1.0, OTHER: 12.0}}
    assert days_since_refresh(cloudwatch, OTHER) == pytest.approx(12)


def test_the_last_refreshs_phase_durations_are_published_per_campaign_and_phase(table: Any, cloudwatch: Any) -> None:
    put_run(table, "SUCCEEDED", ended=NOW - DAY, took=3 * 3600)

    check_freshness.check(settings(), table, cloudwatch, now=NOW)

    durations = {
        phase: metric(cloudwatch, check_freshness.PHASE_DURATION, ("Campaign", CAMPAIGN), ("Phase", phase))
        for phase in ("IMPORT", "TRAINING", "DEPLOYMENT")
    }
    # the longest dataset import, the training, and the campaign update, as put_run recorded them
    assert durations == {"IMPORT": 1800, "TRAINING": 7200, "DEPLOYMENT": 1800}


def test_the_newest_success_is_found_behind_many_later_failures(table: Any, cloudwatch: Any) -> None:
    put_run(table, "SUCCEEDED", ended=NOW - 60 * DAY)
    for days_ago in range(1, 50):
        put_run(table, "FAILED", ended=NOW - days_ago * DAY, took=600)

    check_freshness.check(settings(), table, cloudwatch, now=NOW)

    assert days_since_refresh(cloudwatch) == pytest.approx(60)


def test_the_handler_reads_its_settings_and_publishes(
    table: Any, cloudwatch: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    put_run(table, "SUCCEEDED", ended=NOW - 2 * DAY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    settings = {"namespace": NAMESPACE, "campaigns": [CAMPAIGN], "stale_after_days": 8}
    for name, value in code_package(tmp_path, {FRESHNESS_SETTINGS_FILE: settings}, RUN_TABLE_NAME="runs").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(clock, "now", lambda: NOW)
    run_record._dynamodb.cache_clear()
    check_freshness._cloudwatch.cache_clear()

    assert check_freshness.handler({"source": "aws.events"}, None)["campaigns"] == {CAMPAIGN: 2.0}
    assert days_since_refresh(cloudwatch) == pytest.approx(2)


@pytest.mark.parametrize(
    ("document", "table_name", "named"),
    [
        (None, "runs", "no such settings file"),
        ("not json", "runs", "not valid JSON"),
        ({"namespace": NAMESPACE, "campaigns": [CAMPAIGN]}, "runs", "stale_after_days: missing"),
        ({"namespace": NAMESPACE, "campaigns": [], "stale_after_days": 8}, "runs", "campaigns: names no campaign"),
        ({"namespace": NAMESPACE, "campaigns": [CAMPAIGN], "stale_after_days": 8}, None, "RUN_TABLE_NAME"),
    ],
)
def test_invalid_settings_fail_at_the_edge_naming_what_is_wrong(
    tmp_path: Path, document: Any, table_name: str | None, named: str
) -> None:
    environ = code_package(tmp_path, {FRESHNESS_SETTINGS_FILE: document} if document is not None else {})
    if table_name:
        environ["RUN_TABLE_NAME"] = table_name
    with pytest.raises(InvalidSettings, match=named):
        check_freshness.load_settings(environ)


def test_silence_is_measured_in_days_of_the_clock_not_of_base_dates(table: Any, cloudwatch: Any) -> None:
    # A re-run on the 20th of the 1st's data: the campaign was refreshed 1 day ago, whatever the base date.
    started = NOW - DAY - 3600
    table.put_item(
        Item={
            "campaign_name": CAMPAIGN,
            "base_date": 20261201,
            "run_status": "SUCCEEDED",
            "started_at": iso(started),
            "ended_at": iso(NOW - DAY),
        }
    )

    check_freshness.check(settings(), table, cloudwatch, now=NOW)

    assert days_since_refresh(cloudwatch) == pytest.approx(1)
