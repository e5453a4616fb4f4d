"""Freshness check: how long each campaign has gone without a successful refresh, as CloudWatch metrics.

A CloudWatch alarm reads a bounded window of its metric (at most 7 days), and a pipeline that stops
running publishes nothing at all, so a week of silence cannot be alarmed on from the pipeline's own
metrics. A schedule runs this check instead. It reads each campaign's records in the run table, newest
first, and publishes per campaign:
- DaysSinceLastRefresh: days since its newest SUCCEEDED run ended (the staleness alarm's metric). A
  GATED or SKIPPED run is not a refresh: the campaign still serves the version it had. A campaign that
  never succeeded counts from its first run's start, or with no run at all from the run table's creation
  (the stack's first deployment);
- DaysSinceLastRun: days since its newest run of any status started (or the same fallback);
- PhaseDuration (one per phase): how long the import, training and deployment of that newest successful
  refresh took, so the dashboard shows each refresh's phases as a step.

A check that fails or stops running publishes nothing, which the staleness alarm treats as breaching.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key

from refresh_common import clock
from refresh_common.environment import FRESHNESS_SETTINGS_FILE
from refresh_common.errors import InvalidSettings
from refresh_common.run_record import run_table
from refresh_common.schema import SPAN_ATTRIBUTES, SUCCEEDED, Attr, phase_seconds
from refresh_common.settings_file import read_settings_file, table_name

# The metric contract the stack's alarms and dashboard read (infra/constants.py names the same).
DAYS_SINCE_REFRESH = "DaysSinceLastRefresh"
DAYS_SINCE_RUN = "DaysSinceLastRun"
PHASE_DURATION = "PhaseDuration"
CAMPAIGN_DIMENSION = "Campaign"
PHASE_DIMENSION = "Phase"
DAY = 24 * 3600  # seconds
# What the check reads of each record: its status and times, and what phase_seconds needs.
_PROJECTION = ", ".join(
    (
        Attr.BASE_DATE,
        Attr.RUN_STATUS,
        Attr.STARTED_AT,
        Attr.ENDED_AT,
        Attr.UPDATED_AT,
        Attr.TRAINING_MODE,
        *SPAN_ATTRIBUTES,
    )
)
_METRICS_PER_CALL = 20  # PutMetricData takes more, but 20 is the limit every API version has had

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)


@dataclass(frozen=True)
class FreshnessSettings:
    table_name: str
    namespace: str
    campaigns: tuple[str, ...]
    stale_after_days: float


@dataclass(frozen=True)
class Freshness:
    """What the check found for one campaign."""

    campaign_name: str
    days_since_refresh: float
    days_since_run: float
    refreshed_at: str | None  # ISO-8601 end of the newest SUCCEEDED run; None if it never succeeded
    last_run: str | None  # "BASE_DATE STATUS" of the newest run; None if it never ran
    phases: dict[str, float] = field(default_factory=dict)  # seconds each phase of that refresh took


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = load_settings()
    table = run_table(settings.table_name)
    return check(settings, table, _cloudwatch(), now=clock.now())


def check(settings: FreshnessSettings, table: Any, cloudwatch: Any, *, now: float) -> dict[str, Any]:
    """Measure every configured campaign, publish the metrics, log one line per campaign."""

    @cache
    def watched_since() -> float:
        # The table is created with the stack's first deployment: the earliest a campaign could be refreshed.
        return float(table.creation_date_time.timestamp())

    found = [freshness(table, name, now=now, watched_since=watched_since) for name in settings.campaigns]
    publish(cloudwatch, settings.namespace, found, now=now)
    for result in found:
        stale = result.days_since_refresh > settings.stale_after_days
        logger.log(
            logging.WARNING if stale else logging.INFO,
            "campaign stale: no successful refresh within stale_after_days" if stale else "campaign fresh",
            extra={
                "campaign_name": result.campaign_name,
                "days_since_refresh": round(result.days_since_refresh, 3),
                "refreshed_at": result.refreshed_at,
                "last_run": result.last_run,
                "stale_after_days": settings.stale_after_days,
            },
        )
    return {
        "namespace": settings.namespace,
        "campaigns": {r.campaign_name: round(r.days_since_refresh, 3) for r in found},
    }


def freshness(table: Any, campaign_name: str, *, now: float, watched_since: Callable[[], float]) -> Freshness:
    """Read the campaign's records newest first, up to its newest SUCCEEDED one."""
    newest: dict[str, Any] | None = None
    earliest: dict[str, Any] | None = None
    for record in _records_newest_first(table, campaign_name):
        newest = newest or record
        earliest = record
        if record.get("run_status") == SUCCEEDED:
            ended = _epoch(record.get("ended_at") or record.get("updated_at") or record["started_at"])
            return Freshness(
                campaign_name,
                days_since_refresh=_days(now, ended),
                days_since_run=_days(now, _epoch(newest["started_at"])),
                refreshed_at=clock.iso(ended),
                last_run=_describe(newest),
                phases=phase_seconds(record),
            )
    since = _epoch(earliest["started_at"]) if earliest else watched_since()
    return Freshness(
        campaign_name,
        days_since_refresh=_days(now, since),
        days_since_run=_days(now, _epoch(newest["started_at"]) if newest else since),
        refreshed_at=None,
        last_run=_describe(newest) if newest else None,
    )


def publish(cloudwatch: Any, namespace: str, found: Sequence[Freshness], *, now: float) -> None:
    timestamp = datetime.fromtimestamp(now, tz=UTC)
    data: list[dict[str, Any]] = []
    for result in found:
        campaign = {"Name": CAMPAIGN_DIMENSION, "Value": result.campaign_name}
        for name, value in ((DAYS_SINCE_REFRESH, result.days_since_refresh), (DAYS_SINCE_RUN, result.days_since_run)):
            data.append({"MetricName": name, "Dimensions": [campaign], "Timestamp": timestamp, "Value": value})
        for phase, seconds in result.phases.items():
            data.append(
                {
                    "MetricName": PHASE_DURATION,
                    "Dimensions": [campaign, {"Name": PHASE_DIMENSION, "Value": phase}],
                    "Timestamp": timestamp,
                    "Value": seconds,
                    "Unit": "Seconds",
                }
            )
    for start in range(0, len(data), _METRICS_PER_CALL):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + _METRICS_PER_CALL])


def load_settings(environ: Mapping[str, str] = os.environ) -> FreshnessSettings:
    """The code package's FRESHNESS_SETTINGS_FILE and the run table the environment names."""
    document = read_settings_file(FRESHNESS_SETTINGS_FILE, environ)
    document.only("namespace", "campaigns", "stale_after_days")
    settings = FreshnessSettings(
        table_name=table_name(environ),
        namespace=document.text("namespace"),
        campaigns=document.texts("campaigns"),
        stale_after_days=document.number("stale_after_days"),
    )
    if not settings.campaigns:
        raise InvalidSettings(f"{document.source}: campaigns: names no campaign")
    return settings


def _records_newest_first(table: Any, campaign_name: str) -> Iterator[dict[str, Any]]:
    query: dict[str, Any] = {
        "KeyConditionExpression": Key("campaign_name").eq(campaign_name),
        "ScanIndexForward": False,
        "ProjectionExpression": _PROJECTION,
    }
    while True:
        page = table.query(**query)
        yield from page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _describe(record: Mapping[str, Any]) -> str:
    return f"{record['base_date']} {record.get('run_status', 'UNKNOWN')}"


def _epoch(iso: Any) -> float:
    return datetime.fromisoformat(str(iso)).timestamp()


def _days(now: float, since: float) -> float:
    return max(0.0, now - since) / DAY


@cache
def _cloudwatch() -> Any:
    return boto3.client("cloudwatch")
