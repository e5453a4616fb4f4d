"""Deterministic Personalize job names, so that a re-run finds what an earlier attempt created, and the names of
the executions a refresh starts."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

# A failed job keeps its name forever; a re-run of the same day moves to the next suffix.
MAX_ATTEMPTS = 20


def _attempts(base: str) -> Iterator[str]:
    yield base
    for attempt in range(2, MAX_ATTEMPTS + 1):
        yield f"{base}-{attempt:02d}"


def import_job_names(prefix: str, dataset_group: str, dataset_name: str, base_date: str) -> Iterator[str]:
    """Candidate names of a dataset's import job for one base date, in the order to try them."""
    return _attempts(f"{prefix}-{dataset_group}-{dataset_name}-{base_date}")


def solution_version_names(prefix: str, base_date: str) -> Iterator[str]:
    """Candidate names of a solution's new version for one base date (unique within a solution)."""
    return _attempts(f"{prefix}-{base_date}")


def import_job_arn(dataset_arn: str, job_name: str) -> str:
    """Import job ARNs are derived from the name, in the dataset's account and region."""
    partition, region, account = dataset_arn.split(":")[1], dataset_arn.split(":")[3], dataset_arn.split(":")[4]
    return f"arn:{partition}:personalize:{region}:{account}:dataset-import-job/{job_name}"


# Step Functions: an execution's name is at most 80 characters of letters, digits, '-' and '_', unique among the
# state machine's executions for 90 days.
EXECUTION_NAME_LENGTH = 80
_DIGEST_LENGTH = 12


def child_execution_name(readable: str, parent_execution_arn: str) -> str:
    """The name of an execution the refresh starts: `readable` (what it refreshes, for which day) as the console
    lists it, made unique to the refresh execution that starts it (a re-run of the day starts new ones), yet the
    same for every try of that refresh's call."""
    digest = hashlib.sha256(f"{parent_execution_arn}/{readable}".encode()).hexdigest()[:_DIGEST_LENGTH]
    room = EXECUTION_NAME_LENGTH - _DIGEST_LENGTH - 1
    return f"{re.sub(r'[^A-Za-z0-9_-]', '-', readable)[:room]}-{digest}"
