"""What an operator reads of a run: its record summarized, its phases in time, why it failed, where to look.

Pure functions of a run record (as the table holds it, numbers as Decimal or int) and of its execution's
description and history; no AWS calls. The CLI renders them as tables, or as JSON with `--json`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from rehearsal.timeline import duration, retry_entries, short_version, task_failure

RUN_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "GATED", "SKIPPED")
COMPLETED = frozenset({"SUCCEEDED", "GATED", "SKIPPED"})
RERUNNABLE = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
# Each phase: when it started (epoch seconds), when its status last changed (ISO-8601), that status, and the
# attribute prefix of its polls and idle overhead.
_PHASES = {
    "TRAINING": (
        "solution_version_datetime",
        "solution_version_updated_at",
        "solution_version_status",
        "solution_version",
    ),
    "DEPLOYMENT": (
        "campaign_update_datetime",
        "campaign_update_updated_at",
        "campaign_update_status",
        "campaign_update",
    ),
}


@dataclass(frozen=True)
class Phase:
    name: str  # IMPORT, TRAINING or DEPLOYMENT
    status: str  # the job's last recorded status
    started: datetime
    ended: datetime | None  # None while it runs
    seconds: float | None
    polls: int | None = None  # polls made
    idle_seconds: float | None = None  # from the job's end (as Personalize reports it) to the poll that saw it


def plain(value: Any) -> Any:
    """A record as JSON can hold it: DynamoDB's Decimals as int or float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    return value


def phases(record: dict[str, Any]) -> list[Phase]:
    """The phases the run reached, in order, each with its start, its end (when its job reached ACTIVE,
    FAILED or another final status) and how long it took."""
    found = []
    imports = [
        job for job in (record.get("dataset_import_jobs") or {}).values() if job.get("decision", "import") == "import"
    ]
    if imports:
        started = min(_epoch(job.get("started_datetime")) or _start(record) for job in imports)
        statuses = {str(job.get("status", "")) for job in imports}
        done = all(_final(status) for status in statuses)
        ends = [moment for job in imports if (moment := _iso(job.get("updated_at")))]
        ended = max(ends) if done and ends else None
        polls = sum(int(job.get("polls", 0)) for job in imports) if all("polls" in job for job in imports) else None
        found.append(
            _phase("IMPORT", ", ".join(sorted(statuses)), started, ended, polls, _number(record, "import_idle_seconds"))
        )
    for name, (start_key, updated_key, status_key, prefix) in _PHASES.items():
        if start_key not in record:
            continue
        status = str(record.get(status_key, ""))
        ended = _iso(record.get(updated_key)) if _final(status) else None
        idle = _number(record, f"{prefix}_idle_seconds")
        completed = _iso(record.get(f"{prefix}_completed_at"))
        if idle is None and completed and ended:  # the deployment's: no Lambda runs after it to work it out
            idle = max((ended - completed).total_seconds(), 0.0)
        polls = int(record[f"{prefix}_polls"]) if f"{prefix}_polls" in record else None
        found.append(_phase(name, status, _epoch(record[start_key]) or _start(record), ended, polls, idle))
    return found


def decisions(record: dict[str, Any]) -> str:
    """What the run decided, in a few words: imported or skipped datasets, the training mode, the gate."""
    parts = []
    jobs = record.get("dataset_import_jobs") or {}
    imported = sorted(name for name, job in jobs.items() if job.get("decision", "import") == "import")
    skipped = sorted(name for name, job in jobs.items() if job.get("decision") == "skip")
    if imported:
        parts.append("import " + ", ".join(imported))
    if skipped:
        parts.append("skip " + ", ".join(skipped))
    if record.get("training_mode"):
        parts.append(str(record["training_mode"]))
    gate = record.get("quality_gate") or {}
    if gate.get("decision"):
        parts.append(f"gate: {gate['decision']}")
    if record.get("forced"):
        parts.append("forced")
    return "; ".join(parts)


def summary(record: dict[str, Any]) -> dict[str, Any]:
    """One line of `runs`: the run's key facts, in JSON types."""
    return {
        "campaign": record["campaign_name"],
        "base_date": str(plain(record["base_date"])),
        "status": record.get("run_status"),
        "phase": record.get("phase"),
        "trigger": record.get("trigger"),
        "attempt": plain(record.get("attempt", 1)),
        "decisions": decisions(record),
        "durations": {phase.name.lower(): phase.seconds for phase in phases(record)},
        "version": short_version(str(record["solution_version_arn"])) if record.get("solution_version_arn") else None,
        "started_at": record.get("started_at"),
        "ended_at": record.get("ended_at"),
    }


def failure(record: dict[str, Any]) -> dict[str, Any] | None:
    """Why the run failed, readable: the phase, the error, and the message out of the error's cause (a
    Lambda's cause is a JSON object with a stack trace; its errorMessage is what an operator needs)."""
    if not record.get("failure_error") and not record.get("failure_reason"):
        return None
    _, message = task_failure(str(record.get("failure_reason") or ""))
    return {"phase": record.get("failure_phase"), "error": record.get("failure_error"), "reason": message}


def retries(history: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Every failed call the state machine retried: when, on what, why and after how long."""
    return [
        {"at": _text(entry.at) or "", "subject": entry.subject, "what": entry.text} for entry in retry_entries(history)
    ]


def console_url(execution_arn: str) -> str:
    """The execution's page in the Step Functions console."""
    region = execution_arn.split(":")[3]
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"


def detail(record: dict[str, Any], execution: dict[str, Any] | None, history: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything `show` says of one run, in JSON types."""
    arn = str(record.get("execution_arn", ""))
    return {
        "summary": summary(record),
        "phases": [_phase_json(phase) for phase in phases(record)],
        "failure": failure(record),
        "retries": retries(history),
        "execution": {
            "arn": arn,
            "status": execution.get("status") if execution else "NOT FOUND",
            "started": _text(execution.get("startDate")) if execution else None,
            "stopped": _text(execution.get("stopDate")) if execution else None,
            "console_url": console_url(arn) if arn else None,
        },
        "previous_attempts": plain(record.get("previous_attempts", [])),
        "record": plain(record),
    }


def seconds_text(seconds: float | None) -> str:
    return "" if seconds is None else duration(timedelta(seconds=seconds))


def _phase(
    name: str,
    status: str,
    started: datetime,
    ended: datetime | None,
    polls: int | None = None,
    idle: float | None = None,
) -> Phase:
    return Phase(name, status, started, ended, (ended - started).total_seconds() if ended else None, polls, idle)


def _number(record: dict[str, Any], key: str) -> float | None:
    return float(record[key]) if record.get(key) is not None else None


def _phase_json(phase: Phase) -> dict[str, Any]:
    values = asdict(phase)
    values["started"], values["ended"] = _text(phase.started), _text(phase.ended)
    return values


def _final(status: str) -> bool:
    return status in ("ACTIVE", "SKIPPED") or "FAILED" in status or "STOPPED" in status


def _start(record: dict[str, Any]) -> datetime:
    return _epoch(record.get("started_datetime")) or datetime.fromtimestamp(0, UTC)


def _epoch(value: Any) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if value not in (None, "") else None


def _iso(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def _text(moment: Any) -> str | None:
    if not isinstance(moment, datetime):
        return None if moment is None else str(moment)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def as_json(value: Any) -> str:
    return json.dumps(plain(value), indent=2, default=str)
