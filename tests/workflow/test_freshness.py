"""The freshness check on the local engine: the deployed function reads the records a real refresh wrote and
publishes what the staleness alarm reads, in the simulated time the refresh ran in."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from local_engine.refresh import LocalRefresh

CAMPAIGN = "shop-home-recommendations"
DAY = 24 * 3600
# What an EventBridge schedule delivers to its target (the check reads nothing of it).
SCHEDULED_EVENT = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


def run_check(refresh: LocalRefresh) -> dict[str, Any]:
    (name,) = [
        refresh.deployment.ref(logical_id)
        for logical_id, resource in refresh.template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function" and "Freshness" in logical_id
    ]
    response = refresh.aws.client("lambda").invoke(FunctionName=name, Payload=json.dumps(SCHEDULED_EVENT))
    assert "FunctionError" not in response, response["Payload"].read()
    return dict(json.loads(response["Payload"].read()))


def published(refresh: LocalRefresh, metric: str, **dimensions: str) -> float:
    now = refresh.clock.now()
    datapoints = refresh.aws.client("cloudwatch").get_metric_statistics(
        Namespace="PersonalizeRefresh",
        MetricName=metric,
        Dimensions=[{"Name": key, "Value": value} for key, value in dimensions.items()],
        StartTime=now - timedelta(seconds=30),
        EndTime=now + timedelta(seconds=30),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    (point,) = datapoints
    return float(point["Maximum"])


def test_a_refresh_resets_the_metric_and_nine_silent_days_take_it_over_the_threshold(refresh: LocalRefresh) -> None:
    # Given a weekly refresh that succeeded
    (execution_arn,) = refresh.put_glue_event()
    assert refresh.wait(execution_arn)["status"] == "SUCCEEDED"

    # When the hourly check runs just after it, the campaign is fresh
    assert run_check(refresh)["campaigns"][CAMPAIGN] < 0.01
    phases = {
        phase: published(refresh, "PhaseDuration", Campaign=CAMPAIGN, Phase=phase)
        for phase in ("IMPORT", "TRAINING", "DEPLOYMENT")
    }
    assert all(seconds > 0 for seconds in phases.values()), phases

    # Then, nine days later with nothing run since, it is over the 8 days the alarm allows
    refresh.clock.advance(9 * DAY)
    assert run_check(refresh)["campaigns"][CAMPAIGN] == pytest.approx(9, abs=0.01)
    assert published(refresh, "DaysSinceLastRefresh", Campaign=CAMPAIGN) > refresh.config.stale_after_days
    assert published(refresh, "DaysSinceLastRun", Campaign=CAMPAIGN) == pytest.approx(9, abs=0.5)
