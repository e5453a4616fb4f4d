"""The Personalize client the task Lambdas share, and how they read its errors."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# Statuses of a job that will never become ACTIVE: a re-run must use a new name.
DEAD_STATUSES = frozenset({"CREATE FAILED", "CREATE STOPPING", "CREATE STOPPED"})
IN_FLIGHT_STATUSES = frozenset({"CREATE PENDING", "CREATE IN_PROGRESS"})


@cache
def client(region: str) -> Any:
    # One attempt: the state machine retries LimitExceeded and ResourceInUse with backoff in minutes,
    # where the SDK's standard mode would spend seconds retrying a quota that frees up in minutes.
    return boto3.client(
        "personalize", region_name=region, config=Config(retries={"mode": "standard", "total_max_attempts": 1})
    )


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
