"""The run record: one DynamoDB item per (campaign_name, base_date), the refresh history.

The Lambdas write it when they claim a run (claims) and when they start a phase; the state
machine mirrors every later status change. A record is only written by the execution
that claimed it, and a re-run keeps the attempts before it in `previous_attempts`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from . import clock
from .decisions import Decision, ImportPlan
from .errors import RunNotOwned
from .polling import Idle, phase_idle
from .schema import (
    ACTIVE,
    COMPLETED,
    DEPLOYMENT,
    DONE,
    GATED,
    IMPORT,
    SKIPPED,
    TRAINING,
    phase_durations,
)

# Records read back, newest first, when looking for the last import of a dataset.
HISTORY_DEPTH = 30


@dataclass
class History:
    """What earlier runs imported: per dataset, the fingerprint of its latest import (ACTIVE or skipped)
    and its day; per campaign, the fingerprints its latest completed run saw."""

    imported: dict[str, str] = field(default_factory=dict)
    imported_on: dict[str, int] = field(default_factory=dict)
    completed: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportJobStarted:
    dataset_name: str
    job_name: str
    job_arn: str
    status: str
    poll_plan: dict[str, Any] = field(default_factory=dict)  # what the run record keeps of the polling plan
    import_mode: str = ""  # for a job still WAITING_FOR_ROOM: the mode to create it with


def run_table(name: str) -> Any:
    """The run table in the function's own region; the clients are created once per container."""
    return _dynamodb().Table(name)


@cache
def _dynamodb() -> Any:
    return boto3.resource("dynamodb")


class RunTable:
    """The run table, read and written on the Lambdas' clock (`now`: epoch seconds, given by tests)."""

    def __init__(self, table: Any, *, now: Callable[[], float] | None = None) -> None:
        self._table = table
        self._now = now or clock.now

    def _get(self, campaign_name: str, base_date: str) -> dict[str, Any] | None:
        key = {"campaign_name": campaign_name, "base_date": int(base_date)}
        return self._table.get_item(Key=key, ConsistentRead=True).get("Item")

    def _iso(self, epoch: float | None = None) -> str:
        return clock.iso(self._now() if epoch is None else epoch)


class RunRecords(RunTable):
    """What the task Lambdas write of a run they own as it goes, and read of earlier runs (see claims for how a
    run comes to be owned, and closed)."""

    def record_warnings(
        self, campaign_names: Sequence[str], base_date: str, execution_arn: str, warnings: Sequence[str]
    ) -> bool:
        """Keep the run's warnings on each record; False when they were already there (a repeated call)."""
        first = False
        for name in campaign_names:
            try:
                self._table.update_item(
                    Key={"campaign_name": name, "base_date": int(base_date)},
                    UpdateExpression="SET warnings = :warnings, updated_at = :now",
                    ConditionExpression="execution_arn = :execution_arn AND attribute_not_exists(warnings)",
                    ExpressionAttributeValues={
                        ":warnings": list(warnings),
                        ":now": self._iso(),
                        ":execution_arn": execution_arn,
                    },
                )
                first = True
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        return first

    def record_import_started(
        self,
        campaign_names: Sequence[str],
        base_date: str,
        execution_arn: str,
        jobs: Sequence[ImportJobStarted],
        plans: Sequence[ImportPlan] = (),
    ) -> None:
        primary = (
            {
                "dataset_import_job_arn": jobs[0].job_arn,
                "dataset_import_job_status": jobs[0].status,
                "dataset_import_job_datetime": int(self._now()),
            }
            if jobs
            else {}
        )
        for name in campaign_names:
            self._update(
                name,
                base_date,
                execution_arn,
                phase=IMPORT,
                dataset_import_jobs=self._imports(jobs, plans),
                **primary,
            )

    def record_import_created(
        self, campaign_names: Sequence[str], base_date: str, execution_arn: str, job: ImportJobStarted
    ) -> None:
        """A job created after waiting for room, in each campaign's record of the run: the dataset's entry
        only (the others' may be moving meanwhile)."""
        entry = {
            "job_name": job.job_name,
            "arn": job.job_arn,
            "status": job.status,
            "started_datetime": int(self._now()),
            **({"poll_plan": job.poll_plan} if job.poll_plan else {}),
        }
        for name in campaign_names:
            self._conditional_update(
                name,
                base_date,
                execution_arn,
                "SET " + ", ".join(f"dataset_import_jobs.#dataset.#{k} = :{k}" for k in entry) + ", updated_at = :now",
                {"#dataset": job.dataset_name, **{f"#{k}": k for k in entry}},
                {**{f":{k}": v for k, v in entry.items()}, ":now": self._iso()},
            )

    def record_skipped(
        self,
        campaign_names: Sequence[str],
        base_date: str,
        execution_arn: str,
        jobs: Sequence[ImportJobStarted],
        plans: Sequence[ImportPlan],
        reason: str,
    ) -> None:
        """Campaigns whose data did not change end SKIPPED at once, with the reason."""
        for name in campaign_names:
            self._update(
                name,
                base_date,
                execution_arn,
                run_status=SKIPPED,
                phase=DONE,
                skip_reason=reason,
                dataset_import_jobs=self._imports(jobs, plans),
                ended_at=self._iso(),
            )

    def last_imports(self, campaign_names: Sequence[str], before: str) -> History:
        """The fingerprints of the latest imports of each dataset before `before`, over every campaign's
        records, and of each campaign's latest completed run."""
        history = History()
        for name in campaign_names:
            for item in self._earlier(name, before, "base_date, run_status, dataset_import_jobs"):
                fingerprints = {
                    dataset: str(job["fingerprint"])
                    for dataset, job in (item.get("dataset_import_jobs") or {}).items()
                    if job.get("fingerprint") and job.get("status") in (ACTIVE, SKIPPED)
                }
                day = int(item["base_date"])
                for dataset, fingerprint in fingerprints.items():
                    if day > history.imported_on.get(dataset, 0):
                        history.imported[dataset], history.imported_on[dataset] = fingerprint, day
                if item.get("run_status") in COMPLETED and name not in history.completed:
                    history.completed[name] = fingerprints
        return history

    def held_back(self, campaign_name: str, before: str) -> set[str]:
        """The solution versions the quality gate held back in the campaign's earlier runs."""
        items = self._earlier(campaign_name, before, "run_status, solution_version_arn")
        return {
            str(i["solution_version_arn"])
            for i in items
            if i.get("run_status") == GATED and i.get("solution_version_arn")
        }

    def phase_durations(
        self, campaign_name: str, before: str, phase: str, *, dataset: str = "", mode: str = ""
    ) -> list[float]:
        """How long `phase` took in the campaign's earlier runs, newest first: from when its job was
        started to when the state machine saw it ACTIVE (so a little of the polling's delay is in it).
        IMPORT is one dataset's; TRAINING only counts trainings of `mode`, when given."""
        return phase_durations(self._earlier(campaign_name, before), phase, dataset=dataset, mode=mode)

    def import_durations(self, campaign_name: str, before: str, datasets: Sequence[str]) -> dict[str, list[float]]:
        """`phase_durations` of each dataset's IMPORT, from one read of the campaign's earlier records."""
        earlier = self._earlier(campaign_name, before)
        return {dataset: phase_durations(earlier, IMPORT, dataset=dataset) for dataset in datasets}

    def _earlier(self, campaign_name: str, before: str, projection: str | None = None) -> list[dict[str, Any]]:
        """The campaign's records of the HISTORY_DEPTH days before `before`, newest first."""
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("campaign_name").eq(campaign_name) & Key("base_date").lt(int(before)),
            "ScanIndexForward": False,
            "Limit": HISTORY_DEPTH,
        }
        if projection:
            query["ProjectionExpression"] = projection
        return list(self._table.query(**query)["Items"])

    def _imports(self, jobs: Sequence[ImportJobStarted], plans: Sequence[ImportPlan]) -> dict[str, Any]:
        """Each dataset's import job, or why it was skipped, with what its data location held."""
        entries: dict[str, dict[str, Any]] = {
            job.dataset_name: {
                "job_name": job.job_name,
                "arn": job.job_arn,
                "status": job.status,
                "started_datetime": int(self._now()),
                "polls": 0,
                **({"poll_plan": job.poll_plan} if job.poll_plan else {}),
            }
            for job in jobs
        }
        for plan in plans:
            entry = entries.setdefault(plan.dataset_name, {"status": SKIPPED})
            entry |= {"decision": plan.action, "import_mode": plan.mode, "reason": plan.reason}
            if plan.data is not None:
                entry |= {"objects": plan.data.objects, "bytes": plan.data.bytes, "fingerprint": plan.data.fingerprint}
        return {name: entry | {"updated_at": self._iso()} for name, entry in entries.items()}

    def record_training_started(
        self,
        campaign_name: str,
        base_date: str,
        execution_arn: str,
        *,
        version_arn: str,
        status: str,
        mode: Decision | None = None,
        poll_plan: dict[str, Any] | None = None,
    ) -> None:
        decided: dict[str, Any] = {"training_mode": mode.choice, "training_mode_reason": mode.reason} if mode else {}
        if poll_plan:
            decided["training_poll_plan"] = poll_plan
        self._update(
            campaign_name,
            base_date,
            execution_arn,
            phase=TRAINING,
            solution_version_arn=version_arn,
            solution_version_status=status,
            solution_version_datetime=int(self._now()),
            solution_version_polls=0,
            **decided,
        )

    def record_gate(
        self,
        campaign_name: str,
        base_date: str,
        execution_arn: str,
        *,
        version_metrics: Mapping[str, float],
        serving_metrics: Mapping[str, float],
        gate: Decision | None,
    ) -> None:
        """Keep the new version's metrics (and the serving version's) and, with a gate, its decision; a
        version held back ends the run GATED."""
        values: dict[str, Any] = {
            "solution_version_metrics": _numbers(version_metrics),
            "serving_version_metrics": _numbers(serving_metrics),
        }
        if gate is not None:
            values["quality_gate"] = {"decision": gate.choice, "reason": gate.reason}
        if gate is not None and gate.choice == "hold":
            values |= {"run_status": GATED, "phase": DONE, "ended_at": self._iso()}
        self._update(campaign_name, base_date, execution_arn, **values)

    def record_deployment_started(
        self,
        campaign_name: str,
        base_date: str,
        execution_arn: str,
        *,
        version_arn: str,
        status: str,
        poll_plan: dict[str, Any] | None = None,
    ) -> None:
        self._update(
            campaign_name,
            base_date,
            execution_arn,
            **({"deployment_poll_plan": poll_plan} if poll_plan else {}),
            phase=DEPLOYMENT,
            campaign_update_solution_version_arn=version_arn,
            campaign_update_status=status,
            campaign_update_datetime=int(self._now()),
            campaign_update_polls=0,
        )

    def record_import_idle(
        self, campaign_name: str, base_date: str, execution_arn: str, ends: Mapping[str, Idle]
    ) -> None:
        """Each polled dataset's import end and idle overhead (`completed_at`, `idle_seconds` in its entry), and
        the import phase's (`import_idle_seconds`: from the last import's end to the poll that saw it)."""
        if not ends:
            return
        names: dict[str, str] = {}
        sets: list[str] = []
        values: dict[str, Any] = {}
        for i, (dataset, end) in enumerate(sorted(ends.items())):
            names[f"#dataset{i}"] = dataset
            sets += [
                f"dataset_import_jobs.#dataset{i}.completed_at = :completed{i}",
                f"dataset_import_jobs.#dataset{i}.idle_seconds = :idle{i}",
            ]
            values |= {f":completed{i}": self._iso(end.completed.timestamp()), f":idle{i}": _seconds(end.seconds)}
        sets += ["import_idle_seconds = :idle", "updated_at = :now"]
        values |= {":idle": _seconds(phase_idle(list(ends.values()))), ":now": self._iso()}
        self._conditional_update(campaign_name, base_date, execution_arn, "SET " + ", ".join(sets), names, values)

    def record_training_idle(self, campaign_name: str, base_date: str, execution_arn: str, end: Idle) -> None:
        """When the solution version became ACTIVE, and the idle overhead until the poll that saw it."""
        self._update(
            campaign_name,
            base_date,
            execution_arn,
            solution_version_completed_at=self._iso(end.completed.timestamp()),
            solution_version_idle_seconds=_seconds(end.seconds),
        )

    def own(self, campaign_name: str, base_date: str) -> dict[str, Any]:
        """The run's record as it stands, read strongly consistent (with the Query every task Lambda may make)."""
        items = self._table.query(
            KeyConditionExpression=Key("campaign_name").eq(campaign_name) & Key("base_date").eq(int(base_date)),
            ConsistentRead=True,
        )["Items"]
        return dict(items[0]) if items else {}

    def afresh_since(self, campaign_names: Sequence[str], base_date: str, *, forced: bool) -> float | None:
        """When this forced run began (it creates its own jobs, reusing none of an earlier attempt's), or
        None when the run may take up what earlier attempts of the day created. Only a forced claim marks its
        records so: a run not `forced` reads none."""
        if not forced:
            return None
        for name in campaign_names:
            if (since := afresh_since(self._get(name, base_date) or {})) is not None:
                return since
        return None

    def _update(self, campaign_name: str, base_date: str, execution_arn: str, **values: Any) -> None:
        values["updated_at"] = self._iso()
        self._conditional_update(
            campaign_name,
            base_date,
            execution_arn,
            "SET " + ", ".join(f"#{k} = :{k}" for k in values),
            {f"#{k}": k for k in values},
            {f":{k}": v for k, v in values.items()},
        )

    def _conditional_update(
        self,
        campaign_name: str,
        base_date: str,
        execution_arn: str,
        expression: str,
        names: dict[str, str],
        values: dict[str, Any],
    ) -> None:
        """An update of the record this execution owns; RunNotOwned when another one owns it."""
        try:
            self._table.update_item(
                Key={"campaign_name": campaign_name, "base_date": int(base_date)},
                UpdateExpression=expression,
                ConditionExpression="execution_arn = :execution_arn",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values | {":execution_arn": execution_arn},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise RunNotOwned(f"run {campaign_name}/{base_date} is not owned by {execution_arn}") from exc
            raise


def _seconds(seconds: float) -> Decimal:
    """A duration in seconds as DynamoDB takes numbers, to a tenth of a second."""
    return Decimal(str(round(seconds, 1)))


def _numbers(metrics: Mapping[str, float]) -> dict[str, Decimal]:
    """Metrics as DynamoDB takes numbers."""
    return {name: Decimal(str(value)) for name, value in metrics.items()}


def afresh_since(record: Mapping[str, Any]) -> float | None:
    """When the run of `record` began, if a forced start claimed it (it then creates its own jobs); else None."""
    return float(record["started_datetime"]) if record.get("forced") else None
