"""Reading back what a refresh left behind: Personalize jobs per day, what each campaign serves, the run
table. Shared by the fault matrix and the soak; every read goes through the harness's side of the log so
it is never mistaken for a call the pipeline made."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from infra.config import RefreshConfig
from local_engine.refresh import LocalRefresh

from .calls import CallLog

# Statuses after which a job never becomes ACTIVE: only then may the same day get another job.
DEAD = frozenset({"CREATE FAILED", "CREATE STOPPED"})


@dataclass(frozen=True)
class Job:
    """One import job or solution version, as Personalize describes it."""

    owner: str  # dataset or solution it belongs to
    name: str
    status: str
    created: datetime
    updated: datetime


def day_of(job_name: str) -> int | None:
    """The base date in a deterministic job name (`...-YYYYMMDD` or `...-YYYYMMDD-NN`)."""
    match = re.search(r"-(\d{8})(?:-\d{2})?$", job_name)
    return int(match.group(1)) if match else None


def import_jobs(refresh: LocalRefresh, log: CallLog) -> list[Job]:
    client = refresh.aws.client("personalize")
    jobs = []
    with log.by_harness():
        for dataset in refresh.config.datasets:
            for summary in client.list_dataset_import_jobs(datasetArn=dataset.dataset_arn)["datasetImportJobs"]:
                jobs.append(
                    Job(
                        dataset.name,
                        summary["jobName"],
                        summary["status"],
                        summary["creationDateTime"],
                        summary["lastUpdatedDateTime"],
                    )
                )
    return jobs


def solution_versions(refresh: LocalRefresh, log: CallLog) -> list[Job]:
    """Every named version (the pipeline's; the one a campaign was created with has no name)."""
    client = refresh.aws.client("personalize")
    versions = []
    solutions = {campaign.solution_arn: campaign.solution_name for campaign in refresh.config.campaigns}
    with log.by_harness():
        for solution_arn, solution_name in solutions.items():  # campaigns may share a solution: each once
            listed = client.list_solution_versions(solutionArn=solution_arn)["solutionVersions"]
            for summary in listed:
                version = client.describe_solution_version(solutionVersionArn=summary["solutionVersionArn"])
                described = version["solutionVersion"]
                if described.get("name"):
                    versions.append(
                        Job(
                            solution_name,
                            described["name"],
                            described["status"],
                            described["creationDateTime"],
                            described["lastUpdatedDateTime"],
                        )
                    )
    return versions


def created_twice(jobs: list[Job]) -> list[str]:
    """Jobs created for an owner and day while an earlier job of that owner and day could still succeed."""
    problems = []
    by_day: dict[tuple[str, int | None], list[Job]] = {}
    for job in jobs:
        by_day.setdefault((job.owner, day_of(job.name)), []).append(job)
    for (owner, day), same_day in sorted(by_day.items(), key=lambda item: str(item[0])):
        ordered = sorted(same_day, key=lambda j: j.created)
        for earlier, later in pairwise(ordered):
            if earlier.status not in DEAD or earlier.updated > later.created:
                problems.append(
                    f"{owner} on {day}: {later.name} created while {earlier.name} was not failed or stopped"
                )
    return problems


def serving(refresh: LocalRefresh, log: CallLog) -> dict[str, str]:
    """Each campaign's solution version ARN, as DescribeCampaign reports it."""
    client = refresh.aws.client("personalize")
    with log.by_harness():
        return {
            campaign.name: str(
                client.describe_campaign(campaignArn=campaign.campaign_arn)["campaign"]["solutionVersionArn"]
            )
            for campaign in refresh.config.campaigns
        }


def version_name(refresh: LocalRefresh, log: CallLog, version_arn: str) -> str:
    with log.by_harness():
        described = refresh.aws.client("personalize").describe_solution_version(solutionVersionArn=version_arn)
    return str(described["solutionVersion"].get("name", ""))


def records_by_key(refresh: LocalRefresh) -> dict[tuple[str, int], dict[str, Any]]:
    return {(r["campaign_name"], int(r["base_date"])): r for r in refresh.run_records()}


def campaign_names(config: RefreshConfig) -> list[str]:
    return [campaign.name for campaign in config.campaigns]
