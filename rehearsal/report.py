"""What a rehearsal prints: progress, the console's view of each execution, the run records, the alerts.

Every time shown is simulated time, from the virtual clock.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .scenario import Outcome

# Poll-loop states repeat every few minutes; progress shows the steps that change something.
_QUIET_STATES = ("Wait before polling", "Describe ", " changed?", " finished?", "Remember ")


def _clock(moment: datetime, start: datetime) -> str:
    return f"+{_duration(moment - start)}"


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def narrate(history: list[dict[str, Any]], start: datetime) -> list[str]:
    """One line per step worth following live: tasks that act, status records, failures, the end."""
    lines = []
    for event in history:
        kind = event["type"]
        details = event.get("stateEnteredEventDetails")
        if details and not any(quiet in details["name"] for quiet in _QUIET_STATES):
            lines.append(f"{_clock(event['timestamp'], start)} {details['name']}{_status_note(details)}")
        elif kind in ("ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
            lines.append(f"{_clock(event['timestamp'], start)} {kind}")
    return lines


def _status_note(details: dict[str, Any]) -> str:
    if not details["name"].startswith("Record ") or "input" not in details:
        return ""
    state = json.loads(details["input"])
    status = (state.get("describe") or {}).get("status") or ((state.get("describe") or {}).get("update") or {}).get(
        "Status"
    )
    return f" -> {status}" if status else ""


def states_table(history: list[dict[str, Any]], start: datetime) -> list[tuple[str, str, str, int]]:
    """(state, first entered, time spent in it, times entered): the console's view, poll loops folded."""
    rows: dict[str, list[Any]] = {}
    open_states: dict[str, datetime] = {}
    for event in history:
        entered = event.get("stateEnteredEventDetails")
        exited = event.get("stateExitedEventDetails")
        if entered:
            name = entered["name"]
            row = rows.setdefault(name, [event["timestamp"], timedelta(), 0])
            row[2] += 1
            open_states[name] = event["timestamp"]
        elif exited and exited["name"] in open_states:
            name = exited["name"]
            rows[name][1] += event["timestamp"] - open_states.pop(name)
    return [(name, _clock(first, start), _duration(spent), count) for name, (first, spent, count) in rows.items()]


def render(outcome: Outcome) -> str:
    out: list[str] = [
        f"\nAll times below are simulated (virtual clock), counted from {outcome.started:%Y-%m-%d %H:%M} UTC."
    ]
    for execution in outcome.executions:
        description = execution.description
        out.append(f"\n== Execution ({execution.label}): {execution.arn.rsplit(':', 1)[1]}")
        out.append(
            f"   status {description['status']}"
            + (f"  error {description.get('error')}" if description.get("error") else "")
        )
        if description.get("cause"):
            out.append(f"   cause  {description['cause'][:400]}")
        out.append(f"   {'state':<34} {'entered':>10} {'time in state':>14} {'times':>6}")
        for name, entered, spent, count in states_table(execution.history, outcome.started):
            out.append(f"   {name:<34} {entered:>10} {spent:>14} {count:>6}")
        transitions = sum(1 for e in execution.history if e["type"].endswith("StateEntered"))
        out.append(f"   state transitions: {transitions}")

    out.append("\n== Run records (DynamoDB, as stored)")
    for record in outcome.run_records:
        out.append(json.dumps(record, indent=2, sort_keys=True))

    out.append("\n== Alerts published to SNS")
    out.extend(f"-- {subject}\n{message}" for subject, message in outcome.alerts)
    if not outcome.alerts:
        out.append("(none)")

    out.append("\n== Campaigns")
    for name, version in outcome.serving.items():
        changed = "new version" if version != outcome.previous_versions.get(name) else "unchanged, previous version"
        out.append(f"   {name}: serving {version.rsplit('/', 1)[1]} ({changed})")
    out.append("   Personalize calls: " + ", ".join(f"{k} x{v}" for k, v in sorted(outcome.personalize_calls.items())))

    final = outcome.executions[-1].description["status"] if outcome.executions else "NOT STARTED"
    out.append(f"\n== Final status: {final}")
    out.append(
        f"   simulated time {_duration(outcome.simulated)} (virtual clock); "
        f"wall time {outcome.wall_seconds:.1f} s rehearsal + {outcome.synth_seconds:.1f} s synth"
    )
    return "\n".join(out)
