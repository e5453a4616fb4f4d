"""The invariants every refresh must keep, whatever went wrong during it (the soak checks them after each).

1. No Personalize job was created twice for one dataset and day, or one solution and day.
2. Each campaign serves either what it served before the refresh or this refresh's ACTIVE version.
3. Each record's final status agrees with its execution's end, and nothing is RUNNING after its
   execution ended.
4. Each failed, stopped or timed-out run was alerted exactly once.
5. No record of another day changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from refresh_common.schema import RUNNING, SUCCEEDED

from .readback import Job, created_twice, day_of

ENDED_BADLY = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
Key = tuple[str, int]  # (campaign_name, base_date)


@dataclass(frozen=True)
class Refreshed:
    """Everything the invariants look at for one refresh, read back before and after it."""

    day: int
    campaigns: Sequence[str]
    executions: Mapping[str, tuple[str, str | None]]  # execution ARN -> (status, error), those it started
    ended: Mapping[str, str]  # execution ARN -> status, for every execution a RUNNING record names
    records_before: Mapping[Key, dict[str, Any]]
    records_after: Mapping[Key, dict[str, Any]]
    serving_before: Mapping[str, str]  # campaign -> version ARN
    serving_after: Mapping[str, str]
    versions: Mapping[str, tuple[str, str]]  # version ARN -> (name, status), every version served
    jobs: Sequence[Job]
    alerts: Sequence[tuple[str, str]]  # published during the refresh


INVARIANTS = (
    "no job created twice for one dataset and day, or one solution and day",
    "each campaign serves its previous version or this refresh's ACTIVE version",
    "each record agrees with its execution's end; nothing RUNNING after its execution ended",
    "each failed, stopped or timed-out run alerted exactly once",
    "no record of another day changed",
)


def violations(refreshed: Refreshed) -> list[str]:
    """Every broken invariant, each as `N. what happened`."""
    return (
        [f"1. {problem}" for problem in created_twice(list(refreshed.jobs))]
        + [f"2. {problem}" for problem in _serving(refreshed)]
        + [f"3. {problem}" for problem in _records_agree(refreshed)]
        + [f"4. {problem}" for problem in _alerted_once(refreshed)]
        + [f"5. {problem}" for problem in _other_days(refreshed)]
    )


def _serving(r: Refreshed) -> list[str]:
    problems = []
    for campaign in r.campaigns:
        before, after = r.serving_before[campaign], r.serving_after[campaign]
        name, status = r.versions.get(after, ("", "?"))
        if status != "ACTIVE":
            problems.append(f"{campaign} serves {after}, which is {status}")
        elif after != before and day_of(name) != r.day:
            problems.append(f"{campaign} serves {name or after}: neither its previous version nor one of {r.day}")
    return problems


def _records_agree(r: Refreshed) -> list[str]:
    problems = []
    for arn, (status, _) in r.executions.items():
        own = [record for record in r.records_after.values() if record.get("execution_arn") == arn]
        statuses = {str(record["run_status"]) for record in own}
        if status == "SUCCEEDED" and statuses - {SUCCEEDED}:
            problems.append(f"execution SUCCEEDED but its records are {sorted(statuses)}")
        if status in ENDED_BADLY and own and not statuses & ENDED_BADLY:
            problems.append(f"execution {status} but its records are {sorted(statuses)}")
    for key, record in r.records_after.items():
        if record["run_status"] == RUNNING and r.ended.get(str(record.get("execution_arn")), "RUNNING") != "RUNNING":
            problems.append(f"{key} is RUNNING though its execution ended {r.ended[str(record['execution_arn'])]}")
    for key, record in r.records_after.items():
        if key[1] == r.day and record != r.records_before.get(key) and record.get("execution_arn") not in r.executions:
            problems.append(f"{key} was changed by an execution this refresh did not start")
    return problems


def _alerted_once(r: Refreshed) -> list[str]:
    problems = []
    for arn, (status, error) in r.executions.items():
        alerts = [message for _, message in r.alerts if arn in message]
        own = [record for record in r.records_after.values() if record.get("execution_arn") == arn]
        failed = [str(record["campaign_name"]) for record in own if record["run_status"] in ENDED_BADLY]
        if status == "SUCCEEDED" and not failed:
            if alerts:
                problems.append(f"a SUCCEEDED execution sent {len(alerts)} alert(s)")
            continue
        if not own:
            # Nothing claimed: a claim that failed is alerted, an input that is not a run is not.
            if status in ENDED_BADLY and error != "InvalidRunInput" and len(alerts) != 1:
                problems.append(f"an execution that ended {status}/{error} unclaimed sent {len(alerts)} alert(s)")
            continue
        # A run whose execution ended badly failed, even where its record still says RUNNING.
        ended = failed or [str(record["campaign_name"]) for record in own]
        for campaign in ended:
            covering = [m for m in alerts if campaign in m or not any(c in m for c in r.campaigns)]
            if len(covering) != 1:
                problems.append(f"{campaign}'s failed run was alerted {len(covering)} times")
        if len(alerts) > len(ended):
            problems.append(f"{len(alerts)} alerts for {len(ended)} failed run(s)")
    return problems


def _other_days(r: Refreshed) -> list[str]:
    problems = []
    for key in sorted(set(r.records_before) | set(r.records_after)):
        if key[1] != r.day and r.records_before.get(key) != r.records_after.get(key):
            problems.append(f"the record {key} changed")
    return problems
