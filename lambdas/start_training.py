"""Start training: create the day's solution version (trainingMode FULL) for one campaign's solution.

A re-run reuses the version an earlier attempt created under the same deterministic name,
unless that version failed or was stopped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from refresh_common import personalize
from refresh_common.errors import NameAttemptsExhausted
from refresh_common.logs import run_logger
from refresh_common.naming import solution_version_names
from refresh_common.run_record import RunRecords, run_table
from refresh_common.settings import CampaignSettings, Settings, load_settings
from refresh_common.task_input import campaign_task

# Versions described at most while looking for the one an earlier attempt created: a re-run comes
# days, not hundreds of versions, after the attempt it repeats.
MAX_VERSIONS_DESCRIBED = 30
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = load_settings()
    with personalize.unavailable_as_retryable():
        return start_training(
            event, settings, RunRecords(run_table(settings.table_name)), personalize.client(settings.region)
        )


def start_training(event: dict[str, Any], settings: Settings, records: RunRecords, client: Any) -> dict[str, Any]:
    task = campaign_task(event, settings)
    log = run_logger(__name__, execution_arn=task.execution_arn, base_date=task.base_date)
    name, arn, status = _create_or_reuse(client, settings, task.campaign, task.base_date)
    records.record_training_started(
        task.campaign.campaign_name, task.base_date, task.execution_arn, version_arn=arn, status=status
    )
    log.info("training started", extra={"solution_version_arn": arn, "status": status})
    return {"solution_version_arn": arn, "solution_version_name": name, "status": status}


def _create_or_reuse(
    client: Any, settings: Settings, campaign: CampaignSettings, base_date: str
) -> tuple[str, str, str]:
    for name in solution_version_names(settings.job_name_prefix, base_date):
        try:
            arn = client.create_solution_version(name=name, solutionArn=campaign.solution_arn, trainingMode="FULL")[
                "solutionVersionArn"
            ]
            return name, arn, "CREATE PENDING"
        except ClientError as exc:
            if personalize.error_code(exc) not in ("ResourceAlreadyExistsException", "ResourceInUseException"):
                raise
            existing = _find_version(client, campaign.solution_arn, name)
            if existing is None:
                # In use by a version that is not ours: let the state machine back off and retry.
                raise
        if existing["status"] not in personalize.DEAD_STATUSES:
            return name, existing["solutionVersionArn"], existing["status"]
    raise NameAttemptsExhausted(f"every solution version name for {campaign.solution_name} on {base_date} is taken")


def _find_version(client: Any, solution_arn: str, name: str) -> dict[str, Any] | None:
    """The solution's version called `name`. Summaries carry no name, so versions are described one
    by one: newest first (the list's order is not documented), and at most MAX_VERSIONS_DESCRIBED."""
    summaries = [
        summary
        for page in client.get_paginator("list_solution_versions").paginate(solutionArn=solution_arn)
        for summary in page["solutionVersions"]
    ]
    summaries.sort(key=lambda summary: summary.get("creationDateTime") or _LONG_AGO, reverse=True)
    for summary in summaries[:MAX_VERSIONS_DESCRIBED]:
        version = client.describe_solution_version(solutionVersionArn=summary["solutionVersionArn"])
        if version["solutionVersion"].get("name") == name:
            return dict(version["solutionVersion"])
    return None
