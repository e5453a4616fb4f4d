"""`reconcile`: run records that disagree with their executions or with Personalize, and their repair.

A record is written by its execution: while it runs, by its states and Lambdas; at an end no Catch saw (a
timeout, a stop), by the run function, from Step Functions' status change event. When that event is lost
(its delivery failed past its retries: see `dlq`), the record stays RUNNING although nothing runs: the
day cannot run again until it is closed. `--fix` closes it as that event would have, and alerts once.
Disagreements no command can settle (a campaign that serves another version than its last refresh
deployed) are reported with what to check.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from refresh_common.schema import RUNNING, SUCCEEDED

from .pipeline import Pipeline

_ENDED_UNRECORDED = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


@dataclass(frozen=True)
class Disagreement:
    campaign: str
    base_date: int
    record_status: str
    execution_status: str
    problem: str
    action: str
    fixable: bool = False
    # What closes the record: the execution's description, as the status change event would carry it.
    execution: dict[str, Any] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        del values["execution"]
        return values


def disagreements(pipeline: Pipeline, *, since: int = 0) -> list[Disagreement]:
    found = []
    for campaign in pipeline.resources.campaign_names:
        records = pipeline.records([campaign], since, 99_999_999)  # newest first
        for record in records:
            found += _with_execution(pipeline, record)
        found += _with_personalize(pipeline, campaign, records)
    return found


def repair(pipeline: Pipeline, item: Disagreement) -> Disagreement:
    if not item.fixable:
        return item
    closed = pipeline.close(item.execution)
    record = pipeline.record(item.campaign, item.base_date) or {}
    if item.campaign not in closed:
        return replace(item, action=f"not closed: the record is now {record.get('run_status')}")
    return replace(item, action=f"fixed: recorded {record.get('run_status')}; the day can run again (`retry`)")


def _with_execution(pipeline: Pipeline, record: dict[str, Any]) -> list[Disagreement]:
    status, arn = str(record.get("run_status")), str(record.get("execution_arn", ""))
    execution = pipeline.execution(arn)
    if execution is None:
        if status != RUNNING:
            return []  # an ended run whose execution aged out of Step Functions' 90 days: nothing to settle
        gone = {
            "executionArn": arn,
            "status": "ABORTED",
            "input": json.dumps({"base_date": str(record["base_date"])}),
            "error": "ExecutionNotFound",
            "cause": f"the execution {arn} that owned the run no longer exists (closed by reconcile)",
        }
        return [_found(record, "NOT FOUND", "the record is RUNNING under an execution that does not exist",
                       "fixable: close it as ABORTED", gone)]  # fmt: skip
    ended = str(execution["status"])
    if status == RUNNING and ended in _ENDED_UNRECORDED:
        return [
            _found(
                record,
                ended,
                f"the execution {ended} but its end was never recorded (its status change event was lost)",
                f"fixable: record it {ended} as the event would have",
                execution,
            )
        ]
    if status == RUNNING and ended == "SUCCEEDED":
        return [_found(record, ended, "the execution SUCCEEDED but the record is RUNNING", "check the execution's "
                       "history (`show`); the record's last write failed")]  # fmt: skip
    if status != RUNNING and ended == "RUNNING":
        return [_found(record, ended, f"the record is {status} but its execution still runs",
                       "stop the execution if it is left over: it no longer owns a record")]  # fmt: skip
    return []


def _with_personalize(pipeline: Pipeline, campaign: str, records: list[dict[str, Any]]) -> list[Disagreement]:
    """The campaign should serve what its newest refresh deployed, unless a run is under way."""
    if any(r.get("run_status") == RUNNING for r in records):
        return []
    deployed = next((r for r in records if r.get("run_status") == SUCCEEDED), None)
    if deployed is None or not deployed.get("deployed_solution_version_arn"):
        return []
    serving = pipeline.serving_version(str(deployed["campaign_arn"]))
    if serving == deployed["deployed_solution_version_arn"]:
        return []
    return [
        _found(
            deployed,
            "-",
            f"the campaign serves {serving}, not {deployed['deployed_solution_version_arn']} that its last refresh "
            "deployed",
            "someone updated the campaign outside the pipeline? `start --force` deploys a fresh version",
        )
    ]


def _found(
    record: dict[str, Any],
    execution_status: str,
    problem: str,
    action: str,
    execution: dict[str, Any] | None = None,
) -> Disagreement:
    return Disagreement(
        campaign=str(record["campaign_name"]),
        base_date=int(record["base_date"]),
        record_status=str(record.get("run_status")),
        execution_status=execution_status,
        problem=problem,
        action=action,
        fixable=execution is not None,
        execution=dict(execution or {}),
    )
