"""The run record's schema, written once: its statuses, its phases, its attribute names, and the arithmetic of
its phases (when each began and ended, how long it took, how long its job's end waited for the poll that saw it).

The task Lambdas write records in these terms (run_record, claims) and the state machine's record writes name
the same attributes; the freshness check, the operator CLI, the rehearsal, the benchmark and the reliability
checks read records through them. Nothing here calls AWS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

# A run's status (`run_status`).
RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
# An execution that ended without its own Catch running: the record is closed from Step Functions' status
# change event (see claims.close).
TIMED_OUT = "TIMED_OUT"
ABORTED = "ABORTED"
# The quality gate held the new version back: the campaign keeps the version it served.
GATED = "GATED"
# Nothing to do: the data the campaign depends on did not change since its last completed run.
SKIPPED = "SKIPPED"
RUN_STATUSES = (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, GATED, SKIPPED)
# Runs whose campaign is up to date with the data they saw.
COMPLETED = frozenset({SUCCEEDED, GATED, SKIPPED})
# Final statuses after which the day may run again at once.
RERUNNABLE = frozenset({FAILED, TIMED_OUT, ABORTED})
# Only in `previous_attempts`: an attempt that stayed RUNNING past the state machine's timeout (it timed out
# or was stopped by hand, and no Catch ran to record it) and was claimed again.
ABANDONED = "ABANDONED"

# Where a run is (`phase`, and `failure_phase` once it failed): its phases in order, then DONE.
IMPORT = "IMPORT"
TRAINING = "TRAINING"
DEPLOYMENT = "DEPLOYMENT"
DONE = "DONE"
PHASES = (IMPORT, TRAINING, DEPLOYMENT)

# The status Personalize gives a job that completed; the record mirrors its jobs' statuses as Personalize says them.
ACTIVE = "ACTIVE"
# Not Personalize's: an import job not yet created because the region's concurrent import jobs were at their
# quota; the dataset's import execution creates it once there is room.
WAITING_FOR_ROOM = "WAITING_FOR_ROOM"


class Attr:
    """The record's attribute names, as update expressions and projections spell them
    (`f"SET {Attr.RUN_STATUS} = :status"`)."""

    # The key: the campaign, and the run's day as a number YYYYMMDD.
    CAMPAIGN_NAME = "campaign_name"
    BASE_DATE = "base_date"
    # The run: where it stands, which execution owns it, why it runs, and when.
    RUN_STATUS = "run_status"
    PHASE = "phase"
    EXECUTION_ARN = "execution_arn"
    # The campaign's own execution, started by the run's (EXECUTION_ARN) once its imports are ACTIVE.
    CAMPAIGN_EXECUTION_ARN = "campaign_execution_arn"
    TRIGGER = "trigger"  # glue or manual
    FORCED = "forced"
    ATTEMPT = "attempt"
    PREVIOUS_ATTEMPTS = "previous_attempts"
    STARTED_AT = "started_at"  # ISO-8601, as are the other *_at
    STARTED_DATETIME = "started_datetime"  # epoch seconds, as are the other *_datetime
    UPDATED_AT = "updated_at"
    ENDED_AT = "ended_at"
    WARNINGS = "warnings"
    SKIP_REASON = "skip_reason"
    FAILURE_PHASE = "failure_phase"
    FAILURE_ERROR = "failure_error"
    FAILURE_REASON = "failure_reason"
    # The campaign as configured when the run was claimed.
    CAMPAIGN_ARN = "campaign_arn"
    SOLUTION_ARN = "solution_arn"
    SOLUTION_NAME = "solution_name"
    # The Glue event that started it.
    GLUE_JOB_NAME = "glue_job_name"
    GLUE_JOB_RUN_ID = "glue_job_run_id"
    EVENT_TIME = "event_time"
    # The import: each dataset's job by dataset name (see ImportJobAttr), the first one's mirrored at the top
    # level as the original table had it, and the idle overhead of the phase as a whole.
    DATASET_IMPORT_JOBS = "dataset_import_jobs"
    DATASET_IMPORT_JOB_ARN = "dataset_import_job_arn"
    DATASET_IMPORT_JOB_STATUS = "dataset_import_job_status"
    DATASET_IMPORT_JOB_DATETIME = "dataset_import_job_datetime"
    DATASET_IMPORT_JOB_UPDATED_AT = "dataset_import_job_updated_at"
    IMPORT_IDLE_SECONDS = "import_idle_seconds"
    # The training: the mode chosen and why, the solution version and its polls, its metrics and the gate's decision.
    TRAINING_MODE = "training_mode"
    TRAINING_MODE_REASON = "training_mode_reason"
    TRAINING_POLL_PLAN = "training_poll_plan"
    SOLUTION_VERSION_ARN = "solution_version_arn"
    SOLUTION_VERSION_STATUS = "solution_version_status"
    SOLUTION_VERSION_DATETIME = "solution_version_datetime"
    SOLUTION_VERSION_UPDATED_AT = "solution_version_updated_at"
    SOLUTION_VERSION_POLLS = "solution_version_polls"
    SOLUTION_VERSION_COMPLETED_AT = "solution_version_completed_at"
    SOLUTION_VERSION_IDLE_SECONDS = "solution_version_idle_seconds"
    SOLUTION_VERSION_METRICS = "solution_version_metrics"
    SERVING_VERSION_METRICS = "serving_version_metrics"
    QUALITY_GATE = "quality_gate"
    # The deployment: the campaign update and its polls, and the version the campaign serves once it is done.
    DEPLOYMENT_POLL_PLAN = "deployment_poll_plan"
    CAMPAIGN_UPDATE_SOLUTION_VERSION_ARN = "campaign_update_solution_version_arn"
    CAMPAIGN_UPDATE_STATUS = "campaign_update_status"
    CAMPAIGN_UPDATE_DATETIME = "campaign_update_datetime"
    CAMPAIGN_UPDATE_UPDATED_AT = "campaign_update_updated_at"
    CAMPAIGN_UPDATE_POLLS = "campaign_update_polls"
    CAMPAIGN_UPDATE_COMPLETED_AT = "campaign_update_completed_at"
    DEPLOYED_SOLUTION_VERSION_ARN = "deployed_solution_version_arn"


class ImportJobAttr:
    """The names in one dataset's entry of `dataset_import_jobs` (`dataset_import_jobs.#dataset.status`)."""

    JOB_NAME = "job_name"
    ARN = "arn"
    STATUS = "status"  # the job's, or SKIPPED for a dataset the run did not import
    STARTED_DATETIME = "started_datetime"
    UPDATED_AT = "updated_at"
    POLLS = "polls"
    POLL_PLAN = "poll_plan"
    COMPLETED_AT = "completed_at"
    IDLE_SECONDS = "idle_seconds"
    # The import plan: import or skip, in which mode, why, and what the data location held.
    DECISION = "decision"
    IMPORT_MODE = "import_mode"
    REASON = "reason"
    OBJECTS = "objects"
    BYTES = "bytes"
    FINGERPRINT = "fingerprint"


@dataclass(frozen=True)
class JobAttrs:
    """The attributes that follow the one Personalize job of a phase (TRAINING or DEPLOYMENT)."""

    version_arn: str  # the solution version the job is about
    status: str  # its last status the state machine saw
    started: str  # epoch seconds: when a Lambda started it
    updated_at: str  # when the state machine saw that status
    polls: str  # the describe calls made
    completed_at: str  # when Personalize says it ended
    idle_seconds: str | None  # from that end to the poll that saw it, where a Lambda worked it out


PHASE_JOBS = {
    TRAINING: JobAttrs(
        Attr.SOLUTION_VERSION_ARN,
        Attr.SOLUTION_VERSION_STATUS,
        Attr.SOLUTION_VERSION_DATETIME,
        Attr.SOLUTION_VERSION_UPDATED_AT,
        Attr.SOLUTION_VERSION_POLLS,
        Attr.SOLUTION_VERSION_COMPLETED_AT,
        Attr.SOLUTION_VERSION_IDLE_SECONDS,
    ),
    # No Lambda runs after the deployment to work out its idle overhead: see seen_after.
    DEPLOYMENT: JobAttrs(
        Attr.CAMPAIGN_UPDATE_SOLUTION_VERSION_ARN,
        Attr.CAMPAIGN_UPDATE_STATUS,
        Attr.CAMPAIGN_UPDATE_DATETIME,
        Attr.CAMPAIGN_UPDATE_UPDATED_AT,
        Attr.CAMPAIGN_UPDATE_POLLS,
        Attr.CAMPAIGN_UPDATE_COMPLETED_AT,
        None,
    ),
}
# What phase_seconds reads of a record: a projection of the records it is given must hold these.
SPAN_ATTRIBUTES = (
    Attr.DATASET_IMPORT_JOBS,
    *(name for job in PHASE_JOBS.values() for name in (job.started, job.status)),
    *(job.updated_at for job in PHASE_JOBS.values()),
)


@dataclass(frozen=True)
class Phase:
    """One phase a run reached, as its record tells it."""

    name: str  # IMPORT, TRAINING or DEPLOYMENT
    status: str  # its job's last recorded status (the imports' statuses, comma-separated)
    started: datetime
    ended: datetime | None  # None while it runs
    seconds: float | None
    polls: int | None = None  # polls made
    idle_seconds: float | None = None  # from the job's end (as Personalize reports it) to the poll that saw it


def phases(record: Mapping[str, Any]) -> list[Phase]:
    """The phases the run reached, in order, each with its start, its end (when its job reached ACTIVE,
    FAILED or another final status) and how long it took."""
    found = []
    imports = [
        job
        for job in (record.get(Attr.DATASET_IMPORT_JOBS) or {}).values()
        if job.get(ImportJobAttr.DECISION, "import") == "import"
    ]
    if imports:
        started = min(_epoch(job.get(ImportJobAttr.STARTED_DATETIME)) or _start(record) for job in imports)
        statuses = {str(job.get(ImportJobAttr.STATUS, "")) for job in imports}
        done = all(_final(status) for status in statuses)
        ends = [moment for job in imports if (moment := _iso(job.get(ImportJobAttr.UPDATED_AT)))]
        ended = max(ends) if done and ends else None
        polls = (
            sum(int(job.get(ImportJobAttr.POLLS, 0)) for job in imports)
            if all(ImportJobAttr.POLLS in job for job in imports)
            else None
        )
        idle = _number(record, Attr.IMPORT_IDLE_SECONDS)
        found.append(_phase(IMPORT, ", ".join(sorted(statuses)), started, ended, polls, idle))
    for name, job in PHASE_JOBS.items():
        if job.started not in record:
            continue
        status = str(record.get(job.status, ""))
        ended = _iso(record.get(job.updated_at)) if _final(status) else None
        idle = _number(record, job.idle_seconds) if job.idle_seconds else None
        if idle is None and ended and (waited := seen_after(record, name)) is not None:
            idle = max(waited, 0.0)
        polls = int(record[job.polls]) if job.polls in record else None
        found.append(_phase(name, status, _epoch(record[job.started]) or _start(record), ended, polls, idle))
    return found


def seen_after(record: Mapping[str, Any], phase: str) -> float | None:
    """Seconds from the end of the phase's job (as Personalize reports it) to the poll that saw it, from the
    two times the record holds; None until it holds both."""
    job = PHASE_JOBS[phase]
    completed, seen = _iso(record.get(job.completed_at)), _iso(record.get(job.updated_at))
    return (seen - completed).total_seconds() if completed and seen else None


def job_span(record: Mapping[str, Any], phase: str, *, dataset: str = "", mode: str = "") -> tuple[float, float]:
    """(started, seen ACTIVE) in epoch seconds of the phase's job in one record; zeros when it has none that
    reached ACTIVE. IMPORT is `dataset`'s import; TRAINING only counts a training of `mode`, when given."""
    if phase == IMPORT:
        job = (record.get(Attr.DATASET_IMPORT_JOBS) or {}).get(dataset) or {}
        start, status = job.get(ImportJobAttr.STARTED_DATETIME), job.get(ImportJobAttr.STATUS)
        seen = job.get(ImportJobAttr.UPDATED_AT)
    else:
        if phase == TRAINING and mode and record.get(Attr.TRAINING_MODE, mode) != mode:
            return 0.0, 0.0
        attrs = PHASE_JOBS[phase]
        start, status, seen = record.get(attrs.started), record.get(attrs.status), record.get(attrs.updated_at)
    if status != ACTIVE or not start or not seen:
        return 0.0, 0.0
    return float(start), datetime.fromisoformat(str(seen)).timestamp()


def phase_durations(
    records: Sequence[Mapping[str, Any]], phase: str, *, dataset: str = "", mode: str = ""
) -> list[float]:
    """How long `phase` took in each of `records` that saw its job ACTIVE, in their order (see job_span)."""
    spans = (job_span(record, phase, dataset=dataset, mode=mode) for record in records)
    return [float(end - start) for start, end in spans if start and end and end > start]


def phase_seconds(record: Mapping[str, Any]) -> dict[str, float]:
    """How long each phase of one record took, in seconds, for the phases it saw ACTIVE: IMPORT is its
    longest dataset import (training waits for every one of them), TRAINING and DEPLOYMENT its own job."""
    spans = {
        IMPORT: [job_span(record, IMPORT, dataset=name) for name in record.get(Attr.DATASET_IMPORT_JOBS) or {}],
        TRAINING: [job_span(record, TRAINING)],
        DEPLOYMENT: [job_span(record, DEPLOYMENT)],
    }
    durations = {
        phase: [end - start for start, end in found if start and end > start] for phase, found in spans.items()
    }
    return {phase: max(seconds) for phase, seconds in durations.items() if seconds}


def plain(value: Any) -> Any:
    """A record as JSON can hold it: DynamoDB's Decimals as int or float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    return value


def _phase(
    name: str,
    status: str,
    started: datetime,
    ended: datetime | None,
    polls: int | None = None,
    idle: float | None = None,
) -> Phase:
    return Phase(name, status, started, ended, (ended - started).total_seconds() if ended else None, polls, idle)


def _final(status: str) -> bool:
    return status in (ACTIVE, SKIPPED) or "FAILED" in status or "STOPPED" in status


def _number(record: Mapping[str, Any], key: str) -> float | None:
    return float(record[key]) if record.get(key) is not None else None


def _start(record: Mapping[str, Any]) -> datetime:
    return _epoch(record.get(Attr.STARTED_DATETIME)) or datetime.fromtimestamp(0, UTC)


def _epoch(value: Any) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if value not in (None, "") else None


def _iso(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
