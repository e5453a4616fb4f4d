"""What a rehearsal prints: the outcome per campaign first, then each execution's timeline, then the alerts.

Every time shown is simulated time, from the virtual clock, counted from the Glue event. The full list of
states (the Step Functions console's view) and the run records as stored are there on request.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from refresh_common.schema import RERUNNABLE, RUNNING, SUCCEEDED

from .timeline import (
    base_date_derivation,
    duration,
    execution_times,
    request_subjects,
    short_version,
    timeline,
)
from .verdict import Verdict, latest_records

if TYPE_CHECKING:
    from .scenario import Execution, Outcome

_SPOKEN = {"TIMED_OUT": "TIMED OUT"}  # execution statuses as they are said
# How an execution may end without its own Catch: Step Functions' status change event then closes the
# record; should that not have happened, the record still says RUNNING.
_ENDS_UNRECORDED = {
    "TIMED_OUT": "the execution hit the state machine's timeout ({timeout} h)",
    "ABORTED": "the execution was stopped",
    "FAILED": "the execution failed where no Catch runs",
}


def render(outcome: Outcome, verdict: Verdict, *, states: bool = False, records: bool = False) -> str:
    out = [*_title(outcome), "", "Outcome", *_outcome_table(outcome), "", *_verdict(verdict)]
    for index, execution in enumerate(outcome.executions):
        out += ["", *_execution(outcome, index, execution)]
    out += ["", *_alerts(outcome)]
    if states:
        for index, execution in enumerate(outcome.executions):
            out += ["", *_states(outcome, index, execution)]
    if records:
        out += ["", "Run records, as stored in DynamoDB"]
        out += [json.dumps(record, indent=2, sort_keys=True) for record in outcome.run_records]
    out += ["", *_footer(outcome, states=states, records=records)]
    return "\n".join(out)


def _title(outcome: Outcome) -> list[str]:
    config, scenario = outcome.config, outcome.scenario
    durations = (
        f"import {duration(scenario.import_duration)}, training {duration(scenario.training_duration)}, "
        f"deployment {duration(scenario.deployment_duration)}"
    )
    twists = []
    if scenario.fail_phase:
        twists.append(f"the {scenario.fail_phase} fails ({scenario.failure_reason})")
    if scenario.throttle:
        twists.append("Personalize throttles the first calls")
    if scenario.duplicate:
        twists.append("the Glue event is delivered twice")
    if scenario.rerun:
        twists.append("the operator re-runs the day")
    return [
        f"Rehearsal of a refresh in account {config.account}, {config.region}: "
        f"{counted(len(config.datasets), 'dataset')}, {counted(len(config.campaigns), 'campaign')}",
        f"Scenario: {durations}" + "".join(f"; {twist}" for twist in twists),
        f"Times are simulated, counted from the Glue event at {outcome.started:%Y-%m-%d %H:%M} UTC.",
    ]


def _outcome_table(outcome: Outcome) -> list[str]:
    rows: list[Sequence[str]] = [("campaign", "result", "serving now")]
    notes: dict[int, str] = {}
    records = latest_records(outcome)
    owners = {execution.arn: execution for execution in outcome.executions}
    for campaign in outcome.config.campaigns:
        record = records.get(campaign.name)
        serving, previous = outcome.serving[campaign.name], outcome.previous_versions.get(campaign.name)
        refreshed = serving != previous
        owner = owners.get((record or {}).get("execution_arn", ""))
        result, note = _result(record, owner, outcome, refreshed=refreshed)
        if refreshed:
            version = f"{short_version(serving)}, new (was {short_version(previous or '')})"
        else:
            version = f"{short_version(serving)}, unchanged"
        rows.append((campaign.name, result, version))
        if note:
            notes[len(rows) - 1] = note
    lines = aligned(rows)
    indent = " " * (2 + max(len(row[0]) for row in rows) + 2)
    for row_index in sorted(notes, reverse=True):
        lines.insert(row_index + 1, indent + notes[row_index])
    return lines


def _result(
    record: dict[str, Any] | None, owner: Execution | None, outcome: Outcome, *, refreshed: bool
) -> tuple[str, str | None]:
    """A campaign's result in a few words, and the reason on a line of its own when it was not refreshed."""
    if record is None:
        return "not refreshed", "no execution claimed it"
    status, phase = record.get("run_status"), record.get("phase")
    if status == SUCCEEDED:
        return ("refreshed", None) if refreshed else (SUCCEEDED, "but the campaign serves the same version")
    if status in RERUNNABLE:
        return (
            f"{_SPOKEN.get(status, status)} in {record.get('failure_phase')}",
            f"{record.get('failure_error')}: {record.get('failure_reason')}",
        )
    ended = owner.description["status"] if owner else None
    if status == RUNNING and ended in _ENDS_UNRECORDED:
        why = _ENDS_UNRECORDED[ended].format(timeout=outcome.config.execution_timeout_hours)
        return (
            f"{_SPOKEN.get(ended, ended)} in {phase}",
            f"{why}, and its end was not recorded: the run record still says RUNNING",
        )
    return f"{status} in {phase}", None


def _verdict(verdict: Verdict) -> list[str]:
    if not verdict.problems:
        return [f"As the scenario expects: {verdict.expected}."]
    return [
        f"NOT as the scenario expects ({verdict.expected}):",
        *(f"  - {problem}" for problem in verdict.problems),
    ]


def _execution(outcome: Outcome, index: int, execution: Execution) -> list[str]:
    description = execution.description
    start, stop = execution_times(execution)
    status = _SPOKEN.get(description["status"], description["status"])
    transitions = sum(1 for event in execution.history if event["type"].endswith("StateEntered"))
    ran = f" after {duration(stop - start)}" if stop else ""
    header = [
        f"Execution {index + 1} of {len(outcome.executions)}, {execution.label}: {status}{ran} "
        f"({transitions} state transitions)"
    ]
    derivation = base_date_derivation(execution, outcome.config.time_zone)
    if derivation:
        header.append(f"  {derivation}")
    if len(outcome.config.campaigns) > 1:
        header.append("  campaigns are trained and deployed side by side: their times overlap")
    rows: list[Sequence[str]] = [("at", "took", "subject", "what happened")]
    subjects = request_subjects(outcome.config)
    for entry in timeline(execution, outcome.record_writes, outcome.personalize_calls, subjects):
        took = duration(entry.took) if entry.took is not None else ""
        rows.append((_at(entry.at, outcome.started), took, entry.subject, entry.text))
    return header + aligned(rows, right_aligned=(0, 1))


def _alerts(outcome: Outcome) -> list[str]:
    if not outcome.alerts:
        return ["Alerts: none published"]
    lines = [f"Alerts: {counted(len(outcome.alerts), 'message')} published to the alert topic"]
    for subject, message in outcome.alerts:
        lines.append(f"  {subject}")
        lines += [f"    {line}" for line in message.splitlines()]
    return lines


def _states(outcome: Outcome, index: int, execution: Execution) -> list[str]:
    """Every state the execution entered, nested as in the definition, with time spent and times entered."""
    depth = _nesting(outcome.definition.get("States", {}))
    first: dict[str, datetime] = {}
    spent: dict[str, timedelta] = {}
    entered: dict[str, int] = {}
    open_since: dict[str, list[datetime]] = {}
    for event in execution.history:
        moment = event["timestamp"].astimezone(UTC)
        if details := event.get("stateEnteredEventDetails"):
            name = details["name"]
            first.setdefault(name, moment)
            entered[name] = entered.get(name, 0) + 1
            open_since.setdefault(name, []).append(moment)
        elif (details := event.get("stateExitedEventDetails")) and open_since.get(details["name"]):
            name = details["name"]
            spent[name] = spent.get(name, timedelta()) + moment - open_since[name].pop(0)
    rows: list[Sequence[str]] = [("state", "first entered", "times", "time in state")]
    for name in first:
        rows.append(
            (
                "  " * depth.get(name, 0) + name,
                _at(first[name], outcome.started),
                str(entered[name]),
                duration(spent.get(name, timedelta())),
            )
        )
    return [
        f"States of execution {index + 1} ({execution.label}); a nested state's time is part of its parent's",
        *aligned(rows, right_aligned=(1, 2, 3)),
    ]


def _footer(outcome: Outcome, *, states: bool, records: bool) -> list[str]:
    calls = Counter(call.operation for call in outcome.personalize_calls)
    creates = ", ".join(f"{name} {count}" for name, count in sorted(calls.items()) if not name.startswith("Describe"))
    describes = sum(count for name, count in calls.items() if name.startswith("Describe"))
    more = [flag for flag, shown in (("--states", states), ("--records", records)) if not shown]
    return [
        f"Personalize calls: {creates or 'none'}; {describes} describe calls",
        f"Rehearsed {duration(outcome.simulated)} of simulated time in {outcome.wall_seconds:.1f} s "
        f"(synth {outcome.synth_seconds:.1f} s)."
        + (f" More detail: {' and '.join(more)} (see --help)." if more else ""),
    ]


def _nesting(states: dict[str, Any], depth: int = 0) -> dict[str, int]:
    """How deep each state sits in Map and Parallel states, from the definition itself."""
    found: dict[str, int] = {}
    for name, state in states.items():
        found.setdefault(name, depth)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        branches = [processor] if processor else state.get("Branches", [])
        for branch in branches:
            found.update({k: v for k, v in _nesting(branch.get("States", {}), depth + 1).items() if k not in found})
    return found


def aligned(rows: Sequence[Sequence[str]], *, right_aligned: tuple[int, ...] = ()) -> list[str]:
    """Rows as aligned columns, two spaces apart and two in; the last column is left ragged."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(widths[column]) if column in right_aligned else cell.ljust(widths[column])
            for column, cell in enumerate(row)
        ]
        cells[-1] = row[-1].rjust(widths[-1]) if len(row) - 1 in right_aligned else row[-1]
        lines.append(("  " + "  ".join(cells)).rstrip())
    return lines


def _at(moment: datetime, start: datetime) -> str:
    return "+" + duration(moment - start)


def counted(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")
