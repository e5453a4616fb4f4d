"""The run record: one DynamoDB item per (campaign_name, base_date), the refresh history.

The Lambdas write it when they claim a run and when they start a phase; the state
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
from .errors import RunNotOwned, RunRecordBusy
from .inputs import RunRequest
from .polling import Idle, phase_idle
from .schema import (
    ABANDONED,
    ABORTED,
    ACTIVE,
    COMPLETED,
    DEPLOYMENT,
    DONE,
    FAILED,
    GATED,
    IMPORT,
    RERUNNABLE,
    RUNNING,
    SKIPPED,
    TIMED_OUT,
    TRAINING,
    Attr,
    phase_durations,
)
from .settings import CampaignSettings

# Records read back, newest first, when looking for the last import of a dataset.
HISTORY_DEPTH = 30
# What an earlier attempt leaves in previous_attempts when a failed day is run again.
_ATTEMPT_SUMMARY = (
    Attr.ATTEMPT,
    Attr.EXECUTION_ARN,
    Attr.RUN_STATUS,
    Attr.FAILURE_PHASE,
    Attr.FAILURE_ERROR,
    Attr.FAILURE_REASON,
    Attr.STARTED_AT,
    Attr.ENDED_AT,
)
# previous_attempts keeps the newest attempts, each reason cut short, so the item stays far below
# DynamoDB's 400 KB however often a day is re-run (the `attempt` counter still counts them all).
MAX_PREVIOUS_ATTEMPTS = 10
MAX_SUMMARY_REASON = 1_000
# Why DynamoDB cancels a transaction (CancellationReasons codes): another claim got there first, or a
# passing conflict or throttle worth retrying. Anything else (a validation error) fails the claim loudly.
_CLAIMED_BY_ANOTHER = "ConditionalCheckFailed"
_TRANSIENT_CANCELLATIONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)


@dataclass(frozen=True)
class Claim:
    """The campaigns this execution now owns for the base date, and those it left alone."""

    claimed: list[str]
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def duplicate(self) -> bool:
        return not self.claimed


@dataclass(frozen=True)
class ExecutionEnd:
    """How an execution ended, from Step Functions' "Execution Status Change" event."""

    status: str  # FAILED, TIMED_OUT or ABORTED, as Step Functions reports it
    error: str
    reason: str

    @property
    def run_status(self) -> str:
        return {"TIMED_OUT": TIMED_OUT, "ABORTED": ABORTED}.get(self.status, FAILED)


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


def run_table(name: str) -> Any:
    """The run table in the function's own region; the clients are created once per container."""
    return _dynamodb().Table(name)


@cache
def _dynamodb() -> Any:
    return boto3.resource("dynamodb")


class RunRecords:
    def __init__(self, table: Any, *, now: Callable[[], float] | None = None) -> None:
        self._table = table
        self._now = now or clock.now

    def claim(
        self,
        request: RunRequest,
        campaigns: Sequence[CampaignSettings],
        execution_arn: str,
        *,
        execution_timeout: int,
    ) -> Claim:
        """Claim the base date for every campaign not already running or refreshed, atomically.

        A campaign whose run for this date is RUNNING or completed is skipped (a duplicate
        event); one whose run FAILED is claimed again (a completed one too, when the run is forced), and
        so is one still RUNNING after `execution_timeout` seconds, since its execution has ended
        without recording it. A record this execution already claimed (an earlier try of this call)
        stays claimed. All claims land together or none do; a transaction cancelled by a conflict or
        throttle raises RunRecordBusy.
        """
        writes, claimed, skipped = [], [], {}
        for campaign in campaigns:
            existing = self._get(campaign.campaign_name, request.base_date)
            if existing and existing.get("execution_arn") == execution_arn:
                # This execution's own claim, written by an earlier try of this same call.
                claimed.append(campaign.campaign_name)
                continue
            if existing and not self._claimable(existing, execution_timeout, force=request.force):
                skipped[campaign.campaign_name] = str(existing.get("run_status"))
                continue
            writes.append(self._claim_write(request, campaign, execution_arn, existing))
            claimed.append(campaign.campaign_name)
        if not writes:
            return Claim(claimed, skipped)
        try:
            self._table.meta.client.transact_write_items(TransactItems=writes)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = {r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])} - {"None"}
            if reasons == {_CLAIMED_BY_ANOTHER}:
                # Another execution claimed one of these campaigns between our read and write.
                return Claim([], {name: "CLAIMED_CONCURRENTLY" for name in claimed} | skipped)
            if reasons & _TRANSIENT_CANCELLATIONS:
                raise RunRecordBusy(f"the claim was cancelled by {sorted(reasons)}; it can be tried again") from exc
            raise
        return Claim(claimed, skipped)

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

    def close_unrecorded(
        self, campaign_names: Sequence[str], base_date: str, execution_arn: str, end: ExecutionEnd
    ) -> list[str]:
        """Give a final status to this execution's records still RUNNING after it ended; the names closed.

        A record its own Catch already recorded, or that another execution owns, is left alone."""
        closed = []
        for name in campaign_names:
            try:
                self._table.update_item(
                    Key={"campaign_name": name, "base_date": int(base_date)},
                    UpdateExpression=(
                        "SET run_status = :status, failure_phase = phase, failure_error = :error, "
                        "failure_reason = :reason, ended_at = :now, updated_at = :now"
                    ),
                    ConditionExpression="execution_arn = :execution_arn AND run_status = :running",
                    ExpressionAttributeValues={
                        ":status": end.run_status,
                        ":error": end.error,
                        ":reason": end.reason,
                        ":now": self._iso(),
                        ":execution_arn": execution_arn,
                        ":running": RUNNING,
                    },
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                continue
            closed.append(name)
        return closed

    def records_of_day(self, campaign_names: Sequence[str], base_date: str) -> dict[str, dict[str, Any]]:
        """Each campaign's record of the day as it stands (empty when there is none), read for an alert."""
        return {name: self._get(name, base_date) or {} for name in campaign_names}

    def afresh_since(self, campaign_names: Sequence[str], base_date: str) -> float | None:
        """When this forced run began (it creates its own jobs, reusing none of an earlier attempt's), or
        None when the run may take up what earlier attempts of the day created."""
        for name in campaign_names:
            if (since := afresh_since(self._get(name, base_date) or {})) is not None:
                return since
        return None

    def _claimable(self, existing: dict[str, Any], execution_timeout: int, *, force: bool) -> bool:
        if existing.get("run_status") in RERUNNABLE or (force and existing.get("run_status") in COMPLETED):
            return True
        started = int(existing.get("started_datetime", self._now()))
        return existing.get("run_status") == RUNNING and started + execution_timeout < self._now()

    def _get(self, campaign_name: str, base_date: str) -> dict[str, Any] | None:
        key = {"campaign_name": campaign_name, "base_date": int(base_date)}
        return self._table.get_item(Key=key, ConsistentRead=True).get("Item")

    def _claim_write(
        self, request: RunRequest, campaign: CampaignSettings, execution_arn: str, existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        now = self._now()
        item: dict[str, Any] = {
            "campaign_name": campaign.campaign_name,
            "base_date": int(request.base_date),
            "run_status": RUNNING,
            "phase": IMPORT,
            "trigger": request.trigger,
            "execution_arn": execution_arn,
            "campaign_arn": campaign.campaign_arn,
            "solution_arn": campaign.solution_arn,
            "solution_name": campaign.solution_name,
            "attempt": 1,
            "started_at": self._iso(now),
            "started_datetime": int(now),
            "updated_at": self._iso(now),
            "previous_attempts": [],
        }
        if request.force:
            item["forced"] = True
        if request.trigger == "glue":
            item |= {
                "glue_job_name": request.glue_job_name,
                "glue_job_run_id": request.glue_job_run_id,
                "event_time": request.event_time,
            }
        put: dict[str, Any] = {"TableName": self._table.name, "Item": item}
        if existing is None:
            put["ConditionExpression"] = "attribute_not_exists(campaign_name)"
        else:
            summary = {k: existing[k] for k in _ATTEMPT_SUMMARY if k in existing}
            if existing["run_status"] == RUNNING:
                summary["run_status"] = ABANDONED
            if len(str(summary.get("failure_reason", ""))) > MAX_SUMMARY_REASON:
                summary["failure_reason"] = str(summary["failure_reason"])[: MAX_SUMMARY_REASON - 1] + "…"
            item["attempt"] = int(existing.get("attempt", 1)) + 1
            history = [*existing.get("previous_attempts", []), summary]
            item["previous_attempts"] = history[-MAX_PREVIOUS_ATTEMPTS:]
            # Unchanged since we read it: no other execution claimed it in between.
            put["ConditionExpression"] = "run_status = :status AND execution_arn = :previous"
            put["ExpressionAttributeValues"] = {
                ":status": existing["run_status"],
                ":previous": existing["execution_arn"],
            }
        return {"Put": put}

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

    def _iso(self, epoch: float | None = None) -> str:
        return clock.iso(self._now() if epoch is None else epoch)


def _seconds(seconds: float) -> Decimal:
    """A duration in seconds as DynamoDB takes numbers, to a tenth of a second."""
    return Decimal(str(round(seconds, 1)))


def _numbers(metrics: Mapping[str, float]) -> dict[str, Decimal]:
    """Metrics as DynamoDB takes numbers."""
    return {name: Decimal(str(value)) for name, value in metrics.items()}


def afresh_since(record: Mapping[str, Any]) -> float | None:
    """When the run of `record` began, if a forced start claimed it (it then creates its own jobs); else None."""
    return float(record["started_datetime"]) if record.get("forced") else None
