"""What happened to each dataset and campaign during one execution, when, and what was retried and why.

Built from what an operator can see: every version of the run records (status changes, as recorded) and
the execution's history (retries). It never depends on the names of the state machine's states, which
are plumbing and may change; it shows the statuses and attributes that the code writes.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from refresh_common.schema import FAILED, PHASE_JOBS, SUCCEEDED, Attr

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from infra.config import RefreshConfig
    from local_engine.refresh import PersonalizeCall, RecordWrite

    from .scenario import Execution

EXECUTION = "execution"  # the subject of what concerns the whole run rather than one dataset or campaign
# Statuses a Personalize job passes through on its way to ACTIVE, FAILED or STOPPED.
_IN_FLIGHT = ("PENDING", "IN_PROGRESS", "STOPPING")
# Per-campaign phases, as the timeline names them: the status attribute, and the attribute naming the solution
# version it is about.
_PHASES = {job.status: (phase.lower(), job.version_arn) for phase, job in PHASE_JOBS.items()}
# Status attributes shown another way: the first dataset's import status mirrors `dataset_import_jobs`.
_SHOWN_ELSEWHERE = frozenset({Attr.RUN_STATUS, Attr.DATASET_IMPORT_JOB_STATUS, *_PHASES})
_FAILED_TASK = frozenset({"TaskFailed", "TaskTimedOut", "LambdaFunctionFailed", "LambdaFunctionTimedOut"})
_SCHEDULED_TASK = frozenset({"TaskScheduled", "LambdaFunctionScheduled"})
_EXECUTION_ENDS = frozenset({"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"})
_BOTOCORE_ERROR = re.compile(
    r"An error occurred \((?P<code>\w+)\) when calling the (?P<operation>\w+) operation"
    r"(?: \(reached max retries: \d+\))?: "
)


@dataclass(frozen=True)
class Entry:
    at: datetime
    subject: str  # "dataset NAME", a campaign name, or EXECUTION
    text: str
    took: timedelta | None = None  # how long the phase that this entry ends took


def in_flight(status: str) -> bool:
    return any(word in status for word in _IN_FLIGHT)


def short_version(arn: str) -> str:
    """The solution version's id, the last part of its ARN."""
    return arn.rsplit("/", 1)[-1]


def execution_times(execution: Execution) -> tuple[datetime, datetime | None]:
    """When the execution started and, if it has, ended (from its history when the description omits it)."""
    description = execution.description
    stop = description.get("stopDate") or next(
        (event["timestamp"] for event in reversed(execution.history) if event["type"] in _EXECUTION_ENDS), None
    )
    return _utc(description["startDate"]), _utc(stop) if stop else None


def base_date_derivation(execution: Execution, time_zone: str) -> str | None:
    """How the execution's base date came about: the Glue event's time in the configured zone, or given."""
    try:
        given = json.loads(execution.description.get("input") or "null")
    except json.JSONDecodeError:
        return None
    if not isinstance(given, dict):
        return None
    if isinstance(given.get("event_time"), str):
        moment = datetime.fromisoformat(given["event_time"].replace("Z", "+00:00"))
        local = moment.astimezone(ZoneInfo(time_zone))
        return (
            f"base date {local:%Y%m%d}: the Glue event's time {moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC "
            f"is {local:%Y-%m-%d %H:%M} in {time_zone} (time_zone)"
        )
    if isinstance(given.get("base_date"), str):
        return f"base date {given['base_date']}: given in the input of a manual start"
    return None


def timeline(
    execution: Execution,
    writes: list[RecordWrite],
    calls: Sequence[PersonalizeCall] = (),
    subjects: Mapping[str, str] | None = None,
) -> list[Entry]:
    """The execution's entries in time order: start, status changes, retries, end.

    `calls` are the calls Personalize answered during the rehearsal, and `subjects` names the dataset or
    campaign each of the configuration's ARNs belongs to (see `request_subjects`).
    """
    start, stop = execution_times(execution)
    recorded = record_entries(execution.arn, writes)
    during = recorded or [Entry(start, EXECUTION, _claimed_nothing(execution))]
    retried = retry_entries(execution.history)
    during += retried
    order = {id(entry): index for index, entry in enumerate(during)}
    during.sort(key=lambda entry: (entry.at, order[id(entry)]))
    retried_by_the_state_machine = {(entry.at, entry.text.split(" ", 1)[0]) for entry in retried}
    for answer in answer_entries(calls, subjects or {}, start, stop):
        if (answer.at, answer.text.split(" ", 1)[0]) not in retried_by_the_state_machine:
            _place(during, answer)
    entries = [Entry(start, EXECUTION, "started by the " + execution.label), *during]
    if stop is not None:
        entries.append(Entry(stop, EXECUTION, _end_text(execution), stop - start))
    return entries


def _place(entries: list[Entry], answer: Entry) -> None:
    """Insert an answer retried at once before what its subject recorded at that moment (the call came first)."""
    same_moment = [i for i, e in enumerate(entries) if e.at == answer.at and e.subject == answer.subject]
    later = [i for i, e in enumerate(entries) if e.at > answer.at]
    entries.insert(same_moment[0] if same_moment else later[0] if later else len(entries), answer)


def request_subjects(config: RefreshConfig) -> dict[str, str]:
    """The dataset or campaign that each Personalize ARN of the configuration belongs to, as timelines name them."""
    subjects = {dataset.dataset_arn: f"dataset {dataset.name}" for dataset in config.datasets}
    for campaign in config.campaigns:
        subjects |= {campaign.campaign_arn: campaign.name, campaign.solution_arn: campaign.name}
    return subjects


def record_entries(execution_arn: str, writes: list[RecordWrite]) -> list[Entry]:
    """The changes this execution made to the run records, one entry per change worth following."""
    entries: list[Entry] = []
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    dataset_changes_seen: set[tuple[str, str, str]] = set()  # each campaign's record mirrors every dataset
    first_seen: dict[tuple[str, str, str], datetime] = {}  # (subject, phase, job) -> when this execution saw it
    for write in writes:
        record = write.record
        key = (record["campaign_name"], record["base_date"])
        before = latest.get(key)
        latest[key] = record
        if record.get("execution_arn") != execution_arn:
            continue
        campaign = record["campaign_name"]
        if before is None or before.get("execution_arn") != execution_arn:
            entries.append(Entry(write.at, campaign, _claim_text(record, before)))
            before = {"run_status": record.get("run_status")}

        for dataset, job in sorted((record.get("dataset_import_jobs") or {}).items()):
            previous = (before.get("dataset_import_jobs") or {}).get(dataset) or {}
            change = (dataset, str(job.get("arn")), str(job.get("status")))
            unchanged = (job.get("arn"), job.get("status")) == (previous.get("arn"), previous.get("status"))
            if unchanged or change in dataset_changes_seen:
                continue
            dataset_changes_seen.add(change)
            entries.append(
                _job_entry(write.at, f"dataset {dataset}", "import", job["status"], job.get("job_name"), first_seen)
            )

        for attribute, (phase, arn_attribute) in _PHASES.items():
            status, arn = record.get(attribute), record.get(arn_attribute)
            if status and (status, arn) != (before.get(attribute), before.get(arn_attribute)):
                name = f"version {short_version(arn)}" if arn else None
                entries.append(_job_entry(write.at, campaign, phase, status, name, first_seen, job=arn))

        for attribute in sorted(record):
            value = record[attribute]
            if attribute.endswith("_status") and attribute not in _SHOWN_ELSEWHERE and value != before.get(attribute):
                entries.append(Entry(write.at, campaign, f"{attribute.removesuffix('_status')} {value}"))

        if record.get("run_status") != before.get("run_status"):
            entries.append(Entry(write.at, campaign, _run_text(record)))
    return entries


def retry_entries(history: list[dict[str, Any]]) -> list[Entry]:
    """Every failed call that a Retry tried again: when, on which dataset or campaign, why, and after how long."""
    by_id = {event["id"]: event for event in history}
    next_events: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event in history:
        next_events[event.get("previousEventId", 0)].append(event)
    entries = []
    for event in history:
        if event["type"] not in _FAILED_TASK:
            continue
        retry = next((e for e in next_events[event["id"]] if e["type"] in _SCHEDULED_TASK), None)
        if retry is None:
            continue  # not retried: the Catch took it, and the run record says so
        details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        state_name, state_input = _state_of(event, by_id)
        operation, reason = task_failure(str(details.get("cause") or ""))
        what = operation or f"state {state_name!r}"
        delay = _utc(retry["timestamp"]) - _utc(event["timestamp"])
        entries.append(
            Entry(
                _utc(event["timestamp"]),
                _subject(state_input),
                f"{what} failed with {details.get('error')}: {reason}; retried after {duration(delay)}",
            )
        )
    return entries


def answer_entries(
    calls: Sequence[PersonalizeCall], subjects: Mapping[str, str], start: datetime, stop: datetime | None
) -> list[Entry]:
    """The errors Personalize answered to a create or update call that was then made again, unchanged.

    A Lambda's SDK retries a throttle at once (in simulated time) and no execution history shows it, as does an
    import's execution that asks again for the job Start import had no room for; a retry by the state machine
    comes later, and `retry_entries` shows it too.
    """
    entries = []
    for index, call in enumerate(calls):
        if call.error_code is None or call.operation.startswith(("Describe", "List")):
            continue
        if call.at < start or (stop is not None and call.at > stop):
            continue
        again = next((c for c in calls[index + 1 :] if (c.operation, c.params) == (call.operation, call.params)), None)
        if again is None:
            continue  # answered for a reason the Lambda handles (a name already taken, ...): the record shows it
        delay = again.at - call.at
        # At once: the SDK in the Lambda retried it, or an import's own execution asked again for it.
        how = "asked again at once" if not delay else f"called again after {duration(delay)}"
        subject = next((subjects[v] for v in call.params.values() if isinstance(v, str) and v in subjects), EXECUTION)
        entries.append(
            Entry(call.at, subject, f"{call.operation} answered {call.error_code}: {call.error_message}; {how}")
        )
    return entries


def duration(delta: timedelta) -> str:
    """H:MM:SS, hours not wrapped at 24."""
    seconds = int(delta.total_seconds())
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _job_entry(
    at: datetime,
    subject: str,
    phase: str,
    status: str,
    name: str | None,
    first_seen: dict[tuple[str, str, str], datetime],
    *,
    job: str | None = None,
) -> Entry:
    """A job's status change; the entry that ends it says how long it took since this execution saw it start."""
    key = (subject, phase, job or name or "")
    if key not in first_seen:
        first_seen[key] = at
        text = f"{phase} {status}" + (f": {name}" if name else "")
        if status == "ACTIVE":
            text += " (reused: an earlier attempt already got this far)"
        return Entry(at, subject, text)
    return Entry(at, subject, f"{phase} {status}", None if in_flight(status) else at - first_seen[key])


def _claim_text(record: dict[str, Any], before: dict[str, Any] | None) -> str:
    text = f"claimed base date {record['base_date']}"
    attempt = int(record.get("attempt", 1))
    if attempt > 1 and before is not None:
        text += f", attempt {attempt} (attempt {attempt - 1} ended {before.get('run_status')})"
    return text


def _run_text(record: dict[str, Any]) -> str:
    status = record.get("run_status")
    if status == FAILED:
        return f"run FAILED in phase {record.get('failure_phase')} ({record.get('failure_error')})"
    if status == SUCCEEDED and record.get("deployed_solution_version_arn"):
        return f"run SUCCEEDED: serving version {short_version(record['deployed_solution_version_arn'])}"
    return f"run {status}"


def _claimed_nothing(execution: Execution) -> str:
    try:
        output = json.loads(execution.description.get("output") or "null")
    except json.JSONDecodeError:
        output = None
    skipped = output.get("run", {}).get("skipped") if isinstance(output, dict) else None
    if isinstance(skipped, dict) and skipped:
        already = ", ".join(f"{campaign} is already {status}" for campaign, status in skipped.items())
        return f"claimed nothing, a duplicate: {already}"
    return "claimed no campaign"


def _end_text(execution: Execution) -> str:
    description = execution.description
    status = description["status"]
    if status == "TIMED_OUT":
        return "TIMED OUT: Step Functions stopped it at the state machine's timeout; no Catch runs then"
    if description.get("error"):
        return f"{status} ({description['error']})"
    return str(status)


def _state_of(event: dict[str, Any], by_id: dict[int, dict[str, Any]]) -> tuple[str, Any]:
    """The name and input of the state an event happened in, found by walking back its chain of events."""
    current: dict[str, Any] | None = event
    while current is not None:
        entered = current.get("stateEnteredEventDetails")
        if entered:
            try:
                return entered["name"], json.loads(entered.get("input") or "null")
            except json.JSONDecodeError:
                return entered["name"], None
        current = by_id.get(current.get("previousEventId", 0))
    return "?", None


def _subject(state_input: Any) -> str:
    if not isinstance(state_input, dict):
        return EXECUTION
    if isinstance(state_input.get("campaign_name"), str):
        return str(state_input["campaign_name"])
    for holder in (state_input, state_input.get("job")):
        if isinstance(holder, dict) and isinstance(holder.get("dataset_name"), str):
            return f"dataset {holder['dataset_name']}"
    return EXECUTION


def task_failure(cause: str) -> tuple[str | None, str]:
    """(the AWS operation that failed, if named; the message) out of a task's error cause."""
    try:
        parsed = json.loads(cause)
    except json.JSONDecodeError:
        parsed = None
    message = str(parsed.get("errorMessage", cause)) if isinstance(parsed, dict) else cause
    match = _BOTOCORE_ERROR.match(message)
    if match:
        return match["operation"], message[match.end() :]
    return None, message


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
