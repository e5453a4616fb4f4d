"""What an operator reads of a run: its record summarized, its phases in time, why it failed, where to look.

Pure functions of a run record (as the table holds it, numbers as Decimal or int) and of its execution's
description and history; no AWS calls. The CLI renders them as tables, or as JSON with `--json`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from refresh_common.schema import Attr, Phase, phases, plain
from rehearsal.timeline import duration, retry_entries, short_version, task_failure


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
        "campaign_execution": _campaign_execution(record),
        "previous_attempts": plain(record.get("previous_attempts", [])),
        "record": plain(record),
    }


def _campaign_execution(record: dict[str, Any]) -> dict[str, str] | None:
    """The campaign's own execution, which the run's started once its data was imported (none before then)."""
    arn = record.get(Attr.CAMPAIGN_EXECUTION_ARN)
    return {"arn": str(arn), "console_url": console_url(str(arn))} if arn else None


def seconds_text(seconds: float | None) -> str:
    return "" if seconds is None else duration(timedelta(seconds=seconds))


def _phase_json(phase: Phase) -> dict[str, Any]:
    values = asdict(phase)
    values["started"], values["ended"] = _text(phase.started), _text(phase.ended)
    return values


def _text(moment: Any) -> str | None:
    if not isinstance(moment, datetime):
        return None if moment is None else str(moment)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def as_json(value: Any) -> str:
    return json.dumps(plain(value), indent=2, default=str)
