"""What a fault case expects, what a run showed, and the facts both are compared on.

A case's expectation and a run's observation are each turned into the same short facts (execution end,
run record, alerts, what Personalize was asked, the day's jobs, what the campaigns serve, the other
days' records). The case passes when every fact matches; docs/RELIABILITY.md prints the same facts.
Only behaviour is compared, never the state machine's internal state names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from refresh_common.schema import DONE, RUNNING, SUCCEEDED

# Personalize operations whose calls a case counts: everything that creates, changes or stops a job.
ASKED_OPERATIONS = ("CreateDatasetImportJob", "CreateSolutionVersion", "UpdateCampaign", "StopSolutionVersionCreation")


@dataclass(frozen=True)
class RecordOutcome:
    """A campaign's run record for the day: its status, the phase it ended in (`failure_phase` for a
    failure, `phase` otherwise), the error, and a substring of the reason."""

    status: str
    phase: str = DONE
    error: str | None = None
    reason: str | None = None


NO_RECORD = RecordOutcome("none", phase="")


@dataclass(frozen=True)
class Alerts:
    """How many alerts the run published; every one with `subject`, each containing every `text`."""

    count: int = 0
    subject: str | None = None
    text: tuple[str, ...] = ()


@dataclass(frozen=True)
class Asked:
    """Calls of each ASKED_OPERATIONS operation the pipeline made (None: not checked), and the jobs the
    day has afterwards (None: one per dataset, or per campaign, if that create was called at all)."""

    imports: int | None = 1
    trainings: int | None = 1
    updates: int | None = 1
    stops: int = 0
    import_jobs: int | None = None
    versions: int | None = None

    def calls(self) -> dict[str, int | None]:
        return dict(zip(ASKED_OPERATIONS, (self.imports, self.trainings, self.updates, self.stops), strict=True))


@dataclass(frozen=True)
class Expected:
    """What a fault must end in; each field defaults to what an undisturbed refresh ends in."""

    executions: tuple[str, ...] = ("SUCCEEDED",)  # each execution's end, "STATUS" or "STATUS/error"
    record: RecordOutcome = RecordOutcome(SUCCEEDED)  # every campaign's record of the day...
    campaigns: Mapping[str, RecordOutcome] = field(default_factory=dict)  # ...unless named here
    alerts: Alerts = Alerts()
    asked: Asked = Asked()
    serving: str = "new"  # "previous", "new" (this day's version) or "other" (another day's), for every campaign...
    serving_by_campaign: Mapping[str, str] = field(default_factory=dict)  # ...unless named here
    day_untouched: bool = False  # the day's records, if any existed before the trigger, stay as they were


@dataclass(frozen=True)
class RecordSeen:
    """The fields of a run record the facts are made of."""

    run_status: str
    phase: str | None
    failure_phase: str | None
    failure_error: str | None
    failure_reason: str | None


@dataclass(frozen=True)
class Observation:
    """Plain facts read back after a case ran (picklable: cases may run in worker processes)."""

    executions: tuple[tuple[str, str | None], ...]
    records: tuple[tuple[str, RecordSeen | None], ...]  # per configured campaign, in configuration order
    alerts: tuple[tuple[str, str], ...]
    asked: tuple[tuple[str, int], ...]
    day_jobs: tuple[int, int]  # import jobs, solution versions named for the day
    created_twice: tuple[str, ...]
    serving: tuple[tuple[str, str], ...]  # campaign -> "previous", "new" or "other"
    others_unchanged: bool
    day_unchanged: bool
    problem: str | None = None


Facts = tuple[tuple[str, str], ...]  # (aspect, text), in a fixed order


def expected_facts(expected: Expected, campaigns: list[str], datasets: int) -> Facts:
    records = [(name, expected.campaigns.get(name, expected.record)) for name in campaigns]
    asked = expected.asked
    trained = sum(1 for _, r in records if r.status != "none") if asked.trainings != 0 else 0
    import_jobs = asked.import_jobs if asked.import_jobs is not None else (datasets if asked.imports != 0 else 0)
    versions = asked.versions if asked.versions is not None else trained
    facts = [
        ("execution", _executions(list(expected.executions))),
        ("record", _per_campaign([(name, _record(r, r.reason, found=True)) for name, r in records])),
        ("alerts", _alerts(expected.alerts.count, expected.alerts, subjects_ok=True, found=set(expected.alerts.text))),
        ("asked", _asked(asked.calls())),
        ("jobs", _jobs(import_jobs, versions, twice=False)),
        ("serving", _per_campaign([(n, expected.serving_by_campaign.get(n, expected.serving)) for n in campaigns])),
        ("other days", "unchanged"),
    ]
    if expected.day_untouched:
        facts.append(("the day", "unchanged"))
    return tuple(facts)


def observed_facts(observation: Observation, expected: Expected, campaigns: list[str]) -> Facts:
    if observation.problem:
        return (("harness", observation.problem),)
    seen = dict(observation.records)
    records = []
    for name in campaigns:
        wanted = expected.campaigns.get(name, expected.record)
        record = seen.get(name)
        if record is None:
            records.append((name, _record(NO_RECORD, None, found=True)))
            continue
        ended = record.run_status not in (SUCCEEDED, RUNNING)
        outcome = RecordOutcome(
            record.run_status,
            phase=(record.failure_phase if ended else record.phase) or "",
            error=record.failure_error if ended else None,
        )
        has_reason = wanted.reason is None or wanted.reason in (record.failure_reason or "")
        records.append((name, _record(outcome, wanted.reason, found=has_reason)))
    subjects_ok = expected.alerts.subject is None or all(s == expected.alerts.subject for s, _ in observation.alerts)
    texts = {t for t in expected.alerts.text if observation.alerts and all(t in m for _, m in observation.alerts)}
    asked_seen = dict(observation.asked)
    calls = {
        op: (asked_seen.get(op, 0) if wanted is not None else None) for op, wanted in expected.asked.calls().items()
    }
    facts = [
        (
            "execution",
            _executions([status if not error else f"{status}/{error}" for status, error in observation.executions]),
        ),
        ("record", _per_campaign(records)),
        ("alerts", _alerts(len(observation.alerts), expected.alerts, subjects_ok=subjects_ok, found=texts)),
        ("asked", _asked(calls)),
        ("jobs", _jobs(*observation.day_jobs, twice=bool(observation.created_twice))),
        ("serving", _per_campaign([(name, dict(observation.serving).get(name, "?")) for name in campaigns])),
        ("other days", "unchanged" if observation.others_unchanged else "changed"),
    ]
    if expected.day_untouched:
        facts.append(("the day", "unchanged" if observation.day_unchanged else "changed"))
    return tuple(facts)


def differences(expected: Facts, observed: Facts) -> list[tuple[str, str, str]]:
    """(aspect, expected text, observed text) for every aspect that does not match."""
    seen = dict(observed)
    return [(aspect, text, seen.get(aspect, "(not observed)")) for aspect, text in expected if seen.get(aspect) != text]


def render(facts: Facts) -> str:
    return "; ".join(f"{aspect}: {text}" for aspect, text in facts)


# Spelling of each fact ---------------------------------------------------------------------------------


def _executions(ends: list[str]) -> str:
    return ", ".join(sorted(ends)) if ends else "none started"


def _record(outcome: RecordOutcome, reason: str | None, *, found: bool) -> str:
    if outcome.status == "none":
        return "none"
    text = outcome.status
    if outcome.phase and outcome.phase != DONE:
        text += f" in {outcome.phase}"
    if outcome.error:
        text += f" ({outcome.error})"
    if reason is not None:
        text += f", reason {'∋' if found else '∌'} “{reason}”"
    return text


def _alerts(count: int, expected: Alerts, *, subjects_ok: bool, found: set[str]) -> str:
    if count == 0:
        return "none"
    text = f"{count} ×"
    if expected.subject is not None:
        text += f" “{expected.subject}”" if subjects_ok else " another subject"
    for wanted in expected.text:
        text += f" {'∋' if wanted in found else '∌'} “{wanted}”"
    return text


def _asked(calls: Mapping[str, int | None]) -> str:
    shown = [
        f"{operation} {'any' if n is None else n}"
        for operation, n in calls.items()
        if operation != "StopSolutionVersionCreation" or n
    ]
    return ", ".join(shown)


def _jobs(import_jobs: int, versions: int, *, twice: bool) -> str:
    text = (
        f"{import_jobs} import job{'s' if import_jobs != 1 else ''}, {versions} version{'s' if versions != 1 else ''}"
    )
    return text + ("; a job created twice" if twice else "")


def _per_campaign(items: list[tuple[str, str]]) -> str:
    if len(items) == 1:
        return items[0][1]
    return "; ".join(f"{name}: {text}" for name, text in items)
