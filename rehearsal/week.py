"""A week of refreshes: seven daily Glue events under the policy "UPDATE daily, FULL weekly".

The campaign serves a FULL version trained the day before the week begins, so days 1 to 6 UPDATE it and
day 7 is the weekly FULL training. Day 4's data is byte-identical to day 3's: the day is skipped. Day 7's
FULL version scores 10 % under the FULL version the served UPDATE versions were built on (UPDATE
versions report no metrics): it is held back (GATED) and the campaign keeps day 6's version. What each
day did is read from the run records and checked against the stage events.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from infra.config import RefreshConfig, parse_config
from local_engine.refresh import LocalRefresh
from local_engine.saved import save
from refresh_common import schema

from .scenario import base_date_of, synthesized
from .verdict import AS_EXPECTED, NOT_AS_EXPECTED

DAYS = 7
UNCHANGED_DAY = 4  # its data is byte-identical to the day before's
WORSE_DAY = 7  # the weekly FULL training, whose version scores too far under the last FULL one
# What each day should come to, and by which training: (decision, training mode).
EXPECTED = {UNCHANGED_DAY: ("skipped", None), WORSE_DAY: ("gated", "FULL")}
EVERY_OTHER_DAY = ("refreshed", "UPDATE")
USER_PERSONALIZATION = "arn:aws:personalize:::recipe/aws-user-personalization"  # the recipe UPDATE needs
GATE_METRIC = "normalized_discounted_cumulative_gain_at_25"
GATE_METRIC_SHORT = "NDCG@25"
MAX_DROP_PERCENT = 2
# The offline scores the rehearsal gives the models: the FULL version served when the week begins, and
# day 7's worse FULL version (10 % under it, the base the UPDATE versions served in between were built on).
SERVED_SCORE = 0.30
WORSE_SCORE = 0.27
# How long each job takes in the emulator: assumptions, not measurements (AWS documents neither).
IMPORT = timedelta(hours=1)
FULL_TRAINING = timedelta(hours=6)
UPDATE_TRAINING = timedelta(hours=1)
DEPLOYMENT = timedelta(minutes=30)
ROWS = 1_200  # per day and dataset: an interactions import needs at least 1,000
_DECISIONS = {schema.SUCCEEDED: "refreshed", schema.SKIPPED: "skipped", schema.GATED: "gated"}


@dataclass(frozen=True)
class Day:
    """One campaign's run on one day of the week, as its run record and Personalize tell it."""

    number: int
    base_date: str
    campaign: str
    decision: str  # refreshed, skipped, gated, or the run status in lower case
    training_mode: str | None
    training_hours: float
    version: str | None  # the solution version the run trained (or took up from a campaign sharing its solution)
    metrics: dict[str, float]  # the new version's
    serving_metrics: dict[str, float]  # the version the campaign served
    deployed: bool
    reason: str  # why it was skipped or held back
    record: dict[str, Any]


@dataclass
class Week:
    config: RefreshConfig
    days: list[Day] = field(default_factory=list)
    executions: list[dict[str, Any]] = field(default_factory=list)  # one per day, as described at its end
    stage_events: list[dict[str, Any]] = field(default_factory=list)
    run_records: list[dict[str, Any]] = field(default_factory=list)
    serving: dict[str, str] = field(default_factory=dict)  # at the end of the week
    problems: list[str] = field(default_factory=list)
    started: datetime | None = None
    simulated: timedelta = timedelta()
    wall_seconds: float = 0.0
    synth_seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return NOT_AS_EXPECTED if self.problems else AS_EXPECTED

    @property
    def solutions(self) -> int:
        """Campaigns that share a solution train it once."""
        return len({campaign.solution_arn for campaign in self.config.campaigns})

    @property
    def full_every_day_hours(self) -> float:
        return DAYS * _hours(FULL_TRAINING) * self.solutions

    @property
    def trainings(self) -> list[Day]:
        """One day per solution version trained in the week: campaigns sharing a solution share its versions."""
        return list({day.version: day for day in self.days if day.version and day.training_mode}.values())

    @property
    def training_hours(self) -> float:
        return sum(day.training_hours for day in self.trainings)


def week_config(config: RefreshConfig, *, source: str) -> RefreshConfig:
    """The user's configuration with the week's policy on every campaign: UPDATE daily with a FULL
    training every 7 days, and a gate on the recipe's NDCG@25 (a drop of at most 2 % from the served
    version, or from the FULL version an UPDATE one was built on); a version without metrics (an UPDATE
    one) is deployed."""
    raw = config.model_dump()
    for campaign in raw["campaigns"]:
        campaign["training"] = {"mode": "UPDATE", "full_every_days": DAYS}
        campaign["quality_gate"] = {
            "rules": [
                {"metric": GATE_METRIC, "max_drop_percent": MAX_DROP_PERCENT},
            ],
            "without_metrics": "deploy",
        }
    return parse_config(raw, source=f"{source} with the week's policy")


def rehearse_week(
    config: RefreshConfig,
    *,
    progress: Callable[[str], None] = print,
    template: dict[str, Any] | None = None,
    save_to: Path | None = None,
    source: str = "",
) -> Week:
    """Rehearse the week; `template` skips the synth when the caller already holds this config's template.
    With `save_to`, the engine is saved there as the week left it (see local_engine.saved)."""
    started = time.perf_counter()
    if template is None:
        template = synthesized(config, progress)
    week = Week(config, synth_seconds=time.perf_counter() - started)

    started = time.perf_counter()
    solutions = {campaign.solution_arn: {"recipe_arn": USER_PERSONALIZATION} for campaign in config.campaigns}
    with LocalRefresh(template, config, solutions=solutions) as refresh:
        progress("Deployed on the local engine; rehearsing seven days in simulated time...")
        _configure_personalize(refresh)
        week.started = refresh.clock.now()
        bodies: dict[str, bytes] = {}
        for number in range(1, DAYS + 1):
            # Each day's Glue success comes at the time of day the week began, a day after the last.
            moment = week.started + timedelta(days=number)
            refresh.clock.advance(max((moment - refresh.clock.now()).total_seconds(), 0))
            base_date = base_date_of(refresh.clock.now(), config.time_zone)
            bodies = _put_day_data(refresh, number, base_date, bodies)
            if number == WORSE_DAY:
                _make_worse(refresh, base_date)
            arns = refresh.put_glue_event()
            week.executions += [refresh.wait(arn) for arn in arns]
            if len(arns) != 1:
                week.problems.append(f"day {number}: the Glue event started {len(arns)} executions, not 1")
            progress(f"  day {number} ({base_date}): " + ", ".join(_run_status(refresh, config, base_date)))

        week.run_records = refresh.run_records()
        week.stage_events = [event["detail"] for event in refresh.stage_events()]
        week.serving = {c.name: refresh.serving_version(c.name) for c in config.campaigns}
        week.days = _days(refresh, week)
        week.simulated = refresh.clock.elapsed
        if save_to is not None:
            save(refresh, source=source, path=save_to)
    week.wall_seconds = time.perf_counter() - started
    week.problems += check(week)
    return week


def check(week: Week) -> list[str]:
    """Where the week differs from its design, or the stage events and Personalize from the run records."""
    problems = [
        f"execution {execution['executionArn']} ended {execution['status']}"
        for execution in week.executions
        if execution["status"] != "SUCCEEDED"
    ]
    if len(week.days) != DAYS * len(week.config.campaigns):
        problems.append(f"{len(week.days)} run records for the week, not one per day and campaign")
    assumed = {"FULL": _hours(FULL_TRAINING), "UPDATE": _hours(UPDATE_TRAINING)}
    for day in week.days:
        where = f"day {day.number}, {day.campaign}"
        expected = EXPECTED.get(day.number, EVERY_OTHER_DAY)
        if (day.decision, day.training_mode) != expected:
            problems.append(
                f"{where}: {day.decision} by {day.training_mode}, the week expects {expected[0]} by {expected[1]}"
            )
        if day.training_mode and day.training_hours != assumed[day.training_mode]:
            problems.append(
                f"{where}: Personalize says {day.training_hours:g} h of {day.training_mode} training, "
                f"the emulator was told {assumed[day.training_mode]:g} h"
            )
        problems += [f"{where}: {problem}" for problem in _disagreements(day, week.stage_events)]
    for campaign, serving in week.serving.items():
        deployed = [day for day in week.days if day.campaign == campaign and day.deployed]
        if deployed and deployed[-1].record.get("solution_version_arn") != serving:
            problems.append(f"{campaign}: serves {serving}, not the last version the records say was deployed")
    return problems


def _disagreements(day: Day, events: list[dict[str, Any]]) -> list[str]:
    """What the day's stage events say that its run record does not."""
    own = [e for e in events if e["base_date"] == day.base_date and e.get("campaign_name") == day.campaign]
    ends = [e["status"] for e in own if e["phase"] == schema.DONE]
    modes = [e["decision"] for e in own if e["phase"] == schema.TRAINING and e["decision"] in ("FULL", "UPDATE")]
    gates = [e["decision"] for e in own if e["phase"] == schema.DEPLOYMENT and e["decision"] in ("deploy", "hold")]
    record = day.record
    gate = (record.get("quality_gate") or {}).get("decision")
    problems = []
    if ends != [record["run_status"]]:
        problems.append(f"the stage events end it {ends}, the run record says {record['run_status']}")
    if modes != ([record["training_mode"]] if "training_mode" in record else []):
        problems.append(f"the stage events train it {modes}, the run record {record.get('training_mode')}")
    if gates != ([gate] if gate else []):
        problems.append(f"the stage events' gate decided {gates}, the run record's {gate}")
    return problems


def _configure_personalize(refresh: LocalRefresh) -> None:
    emulator = refresh.emulator
    emulator.set_duration("import", IMPORT)
    emulator.set_duration("training", FULL_TRAINING)
    emulator.set_duration("update_training", UPDATE_TRAINING)
    emulator.set_duration("deployment", DEPLOYMENT)
    for seeded in refresh.campaign_versions.values():
        emulator.set_metrics(seeded, {**emulator.metrics_of(seeded), GATE_METRIC: SERVED_SCORE})


def _make_worse(refresh: LocalRefresh, base_date: str) -> None:
    """The day's versions (named as the day's first attempt names them) score 10 % under the FULL version
    the week began with."""
    seeded = next(iter(refresh.campaign_versions.values()))
    metrics = {**refresh.emulator.metrics_of(seeded), GATE_METRIC: WORSE_SCORE}
    refresh.emulator.set_metrics(f"{refresh.config.job_name_prefix}-{base_date}", metrics)


def _put_day_data(refresh: LocalRefresh, number: int, base_date: str, earlier: dict[str, bytes]) -> dict[str, bytes]:
    """Each dataset's data for the day under its location (the unchanged day: the day before's bytes); the
    bodies put, by dataset."""
    s3 = refresh.client("s3")
    buckets = {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}
    bodies = {}
    for dataset in refresh.config.datasets:
        bucket, _, key = dataset.data_location.replace("{base_date}", base_date).removeprefix("s3://").partition("/")
        if bucket not in buckets:
            where = {} if refresh.config.region == "us-east-1" else {"LocationConstraint": refresh.config.region}
            s3.create_bucket(Bucket=bucket, **({"CreateBucketConfiguration": where} if where else {}))
            buckets.add(bucket)
        if key == "" or key.endswith("/"):
            key += "part-00000.csv"
        body = earlier[dataset.name] if number == UNCHANGED_DAY else _csv(dataset.name, number)
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        bodies[dataset.name] = body
    return bodies


def _csv(dataset_name: str, number: int) -> bytes:
    """A plausible CSV for the dataset ("items", "users", else interactions), different every day."""
    header, row = {
        "items": ("ITEM_ID,CATEGORY", "i{i},c{c}"),
        "users": ("USER_ID,SEGMENT", "u{i},s{c}"),
    }.get(dataset_name, ("USER_ID,ITEM_ID,TIMESTAMP", "u{u},i{i},{t}"))
    lines = [
        row.format(
            u=(n * 31 + number) % 397, i=(n * 7 + number * 13) % 601, c=n % 9, t=1_764_300_000 + number * 86_400 + n
        )
        for n in range(ROWS)
    ]
    return (header + "\n" + "\n".join(lines) + "\n").encode()


def _run_status(refresh: LocalRefresh, config: RefreshConfig, base_date: str) -> list[str]:
    return [
        f"{campaign.name} {refresh.run_record(campaign.name, int(base_date))['run_status']}"
        for campaign in config.campaigns
    ]


def _days(refresh: LocalRefresh, week: Week) -> list[Day]:
    assert week.started is not None
    personalize = refresh.client("personalize")
    numbers = {base_date_of(week.started + timedelta(days=n), week.config.time_zone): n for n in range(1, DAYS + 1)}
    days = []
    for record in week.run_records:
        number = numbers.get(str(record["base_date"]))
        if number is None:
            continue
        hours = 0.0
        if record.get("solution_version_arn"):
            described = personalize.describe_solution_version(solutionVersionArn=record["solution_version_arn"])
            hours = float(described["solutionVersion"].get("trainingHours") or 0)
        status = record["run_status"]
        gate = record.get("quality_gate") or {}
        reason = (
            record.get("skip_reason", "")
            if status == schema.SKIPPED
            else gate.get("reason", "")
            if status == schema.GATED
            else ""
        )
        days.append(
            Day(
                number=number,
                base_date=str(record["base_date"]),
                campaign=record["campaign_name"],
                decision=_DECISIONS.get(status, status.lower()),
                training_mode=record.get("training_mode"),
                training_hours=hours,
                version=record.get("solution_version_arn"),
                metrics=record.get("solution_version_metrics") or {},
                serving_metrics=record.get("serving_version_metrics") or {},
                deployed=bool(record.get("deployed_solution_version_arn")),
                reason=reason,
                record=record,
            )
        )
    return sorted(days, key=lambda day: (day.number, day.campaign))


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600
