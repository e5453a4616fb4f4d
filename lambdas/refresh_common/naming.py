"""Deterministic Personalize job names, so that a re-run finds what an earlier attempt created."""

from __future__ import annotations

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
