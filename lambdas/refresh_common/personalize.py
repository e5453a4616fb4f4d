"""The Personalize client the task Lambdas share, and how they read its errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from .errors import PersonalizeUnavailable

# Statuses of a job that will never become ACTIVE: a re-run must use a new name.
DEAD_STATUSES = frozenset({"CREATE FAILED", "CREATE STOPPING", "CREATE STOPPED"})
IN_FLIGHT_STATUSES = frozenset({"CREATE PENDING", "CREATE IN_PROGRESS"})


def reusable(resource: Mapping[str, Any], *, afresh_since: float | None) -> bool:
    """Whether a job found under the day's name can be taken up by this run: it is not dead and, when the
    run starts afresh (a forced re-run, begun at `afresh_since`), this run created it."""
    if resource.get("status") in DEAD_STATUSES:
        return False
    created = resource.get("creationDateTime")
    return afresh_since is None or (isinstance(created, datetime) and created.timestamp() >= afresh_since)


# Codes that mean "try again later" but that Personalize's model does not define, so botocore raises
# them as a plain ClientError (AWS's common errors: throttling, internal failure, unavailability).
_TRANSIENT_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "InternalFailure", "ServiceUnavailable"}
)


@cache
def client(region: str) -> Any:
    # botocore's standard mode retries throttles and 5xx answers a few times within seconds (the
    # creates are safe to repeat: each uses a deterministic name, and a repeat finds the job the
    # first attempt made). What still fails is raised as PersonalizeUnavailable, which the state
    # machine retries in minutes, like LimitExceeded and ResourceInUse.
    return boto3.client(
        "personalize", region_name=region, config=Config(retries={"mode": "standard", "max_attempts": 4})
    )


def creating_client(region: str) -> Any:
    """The client the creates are made with (CreateDatasetImportJob, CreateSolutionVersion): without the SDK's
    retries. Their LimitExceededException is a quota of jobs in progress, which frees in minutes to hours: the
    state machine asks again then (retries.ROOM), where the SDK's backoff of seconds would only spend the
    function's time; a throttle is raised as PersonalizeUnavailable, retried in minutes as well."""
    return boto3.client(
        "personalize", region_name=region, config=Config(retries={"mode": "standard", "total_max_attempts": 1})
    )


def solution_versions(client: Any, solution_arn: str) -> list[dict[str, Any]]:
    """Every ListSolutionVersions summary of the solution, all pages."""
    pages = client.get_paginator("list_solution_versions").paginate(solutionArn=solution_arn)
    return [summary for page in pages for summary in page["solutionVersions"]]


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_transient(exc: ClientError) -> bool:
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return error_code(exc) in _TRANSIENT_CODES or status >= 500


@contextmanager
def unavailable_as_retryable() -> Iterator[None]:
    """Turn a throttle or 5xx that outlived the SDK's retries into the error the state machine retries."""
    try:
        yield
    except ClientError as exc:
        if is_transient(exc):
            raise PersonalizeUnavailable(f"Personalize is unavailable: {exc}") from exc
        raise
