"""What the handler tests share: the example configuration's names, a claimed run, and an alert topic that keeps
what it is sent."""

from __future__ import annotations

from typing import Any

from refresh_common import claims
from refresh_common.claims import RunClaims
from refresh_common.settings import Settings

REGION = "ap-northeast-2"
PREFIX = "arn:aws:personalize:ap-northeast-2:123456789012"
EXECUTION = "arn:aws:states:ap-northeast-2:123456789012:execution:Refresh:run-1"
OTHER_EXECUTION = "arn:aws:states:ap-northeast-2:123456789012:execution:Refresh:run-2"
JOB_NAME = "refresh-shop-recs-interactions-20261129"
JOB_ARN = f"{PREFIX}:dataset-import-job/{JOB_NAME}"
SOLUTION = f"{PREFIX}:solution/shop-user-personalization"
CAMPAIGN = f"{PREFIX}:campaign/shop-home-recommendations"
CAMPAIGN_NAME = "shop-home-recommendations"
VERSION = f"{SOLUTION}/0123abcd"
USER_PERSONALIZATION = "arn:aws:personalize:::recipe/aws-user-personalization"
GLUE_EVENT = {
    "trigger": "glue",
    "job_name": "weekly-user-behaviour-export",
    "job_run_id": "jr_" + "a" * 64,
    "event_time": "2026-11-28T16:30:00Z",  # 01:30 on the 29th in Seoul
}


def record(table: Any, base_date: int = 20261129) -> dict[str, Any]:
    return table.get_item(Key={"campaign_name": "shop-home-recommendations", "base_date": base_date})["Item"]


def claim(settings: Settings, run_claims: RunClaims, payload: Any, execution: str = EXECUTION) -> dict[str, Any]:
    return claims.claim({"action": "claim", "input": payload, "execution_arn": execution}, settings, run_claims)


def campaign_event(settings: Settings, run_claims: RunClaims, **extra: Any) -> dict[str, Any]:
    run = claim(settings, run_claims, GLUE_EVENT)
    return {
        "campaign_name": "shop-home-recommendations",
        "base_date": run["base_date"],
        "execution_arn": EXECUTION,
        **extra,
    }


class RecordedAlerts:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, **message: Any) -> None:
        self.published.append(message)
