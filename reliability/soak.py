"""The soak: many refreshes in a row on one local engine, each hit by a fault drawn from the catalog at a
random moment, with the invariants (invariants.py) checked after every refresh.

Hypothesis draws the plans (which configuration, which refreshes, which fault at which moment) from a
seed, and shrinks a failing plan to a small one. `make test` runs a short soak; `make soak` a long one:

    python -m reliability.soak --examples 60 --record    # writes the figures docs/RELIABILITY.md shows
    python -m reliability.soak --seed 1234               # the same plans again
    python -m reliability.soak --replay '<plan JSON>'    # one plan, as a failure prints it
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from local_engine.refresh import DEFAULT_START, LocalRefresh
from refresh_common.schema import FAILED, RUNNING

from . import readback
from .calls import CallLog
from .catalog import BY_ID, soak_faults
from .faults import DuplicateGlueEvents, GlueEvent, ManualStart, Run, Trigger
from .invariants import Refreshed, violations
from .matrix import (
    Environment,
    fast_personalize,
    instant_sdk_backoff,
    lambda_environment_set_once,
    parsed_once,
    prepare_engine,
    quiet_engine_logs,
    settle_records,
    synthesized,
)

FIGURES = Path(__file__).resolve().parent / "soak_figures.json"
CONFIGS = ("example", "two_of_each", "shop")
# "glue": the next day's Glue success; "duplicate": the same, delivered twice at once; "rerun": an operator
# re-runs the latest failed day (or repeats the latest day); "backfill": an operator runs an older day.
KINDS = ("glue", "glue", "duplicate", "rerun", "backfill")
MOMENTS = 3  # a fault may strike at its first chance or up to two later
# Before each refresh, what Personalize accepted earlier (an update a crashed Lambda left behind) finishes.
BETWEEN_REFRESHES = timedelta(hours=1)
SEOUL = ZoneInfo("Asia/Seoul")


@dataclass(frozen=True)
class Step:
    kind: str
    fault: str | None = None
    moment: int = 0


@dataclass(frozen=True)
class Plan:
    config: str
    steps: tuple[Step, ...]

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Plan:
        raw = json.loads(text)
        return cls(raw["config"], tuple(Step(**step) for step in raw["steps"]))


@st.composite
def plans(draw: st.DrawFn, min_steps: int = 3, max_steps: int = 8) -> Plan:
    config = draw(st.sampled_from(CONFIGS))
    faults = [fault.id for fault in soak_faults(config)]
    count = draw(st.integers(min_steps, max_steps))
    return Plan(config, tuple(draw(steps(faults)) for _ in range(count)))


@st.composite
def steps(draw: st.DrawFn, faults: list[str]) -> Step:
    """A refresh of a random kind; three in four are hit by a fault, at a random moment."""
    kind = draw(st.sampled_from(KINDS))
    if draw(st.integers(0, 3)) == 0:
        return Step(kind)
    return Step(kind, draw(st.sampled_from(faults)), draw(st.integers(0, MOMENTS - 1)))


class InvariantViolated(AssertionError):
    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass
class Figures:
    examples: int = 0
    refreshes: int = 0
    executions: int = 0
    faults_injected: int = 0
    invariant_checks: int = 0
    violations: int = 0
    by_fault: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)


@dataclass
class _Days:
    """The days a plan has refreshed so far, and which of them ended FAILED."""

    next_glue: int = 0  # days after DEFAULT_START
    backfills: int = 0
    run: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


class Soak:
    def __init__(self, environments: dict[str, Environment], *, seed: int | None = None) -> None:
        self.environments = environments
        self.seed = seed
        self.figures = Figures()
        self._ends: list[dict[str, Any]] = []  # how the last refresh's executions ended

    def run(self, plan: Plan) -> None:
        """Every refresh of `plan` on one fresh engine; raises InvariantViolated at the first broken invariant."""
        environment = self.environments[plan.config]
        self.figures.examples += 1
        with parsed_once(), instant_sdk_backoff(), LocalRefresh(environment.template, environment.config) as refresh:
            log = CallLog(refresh.emulator)
            with lambda_environment_set_once(refresh), log.installed():
                prepare_engine(refresh, log)
                days = _Days()
                for index, step in enumerate(plan.steps):
                    problems = self._refresh(refresh, log, step, days)
                    if problems:
                        raise InvariantViolated(self._explain(plan, index, problems), problems)

    def _refresh(self, refresh: LocalRefresh, log: CallLog, step: Step, days: _Days) -> list[str]:
        refresh.clock.advance(BETWEEN_REFRESHES.total_seconds())
        fast_personalize(refresh)  # whatever durations the last fault set
        day, trigger = self._trigger(refresh, step, days)
        before = readback.records_by_key(refresh)
        serving_before = readback.serving(refresh, log)
        alerts_before = len(refresh.alerts())
        log.reset()
        with ExitStack() as stack:
            run = Run(refresh, log, stack, day)
            if step.fault is not None:
                for injection in BY_ID[step.fault].injections:
                    injection.at_moment(step.moment).apply(run)
            arns = trigger.start(run)
            ends = {arn: run.wait(arn) for arn in arns}
            settle_records(refresh, arns)
        refresh.emulator.faults.clear()
        refresh.aws.faults.clear()

        after = readback.records_by_key(refresh)
        serving_after = readback.serving(refresh, log)
        executions = {arn: (str(end["status"]), end.get("error")) for arn, end in ends.items()}
        refreshed = Refreshed(
            day=day,
            campaigns=readback.campaign_names(refresh.config),
            executions=executions,
            ended=_ended(refresh, after),
            records_before=before,
            records_after=after,
            serving_before=serving_before,
            serving_after=serving_after,
            versions={arn: _name_and_status(refresh, log, arn) for arn in set(serving_after.values())},
            jobs=readback.import_jobs(refresh, log) + readback.solution_versions(refresh, log),
            alerts=refresh.alerts()[alerts_before:],
        )
        self._count(step, arns)
        days.run.append(day)
        if any(record["run_status"] == FAILED for key, record in after.items() if key[1] == day):
            days.failed = [*(d for d in days.failed if d != day), day]
        elif day in days.failed:
            days.failed.remove(day)
        self._ends = list(ends.values())
        return violations(refreshed)

    def _trigger(self, refresh: LocalRefresh, step: Step, days: _Days) -> tuple[int, Trigger]:
        if step.kind == "rerun" and days.run:
            return (days.failed or days.run)[-1], ManualStart()
        if step.kind == "backfill":
            days.backfills += 1
            return _day(DEFAULT_START - timedelta(days=7 + days.backfills)), ManualStart()
        # The next day's Glue success, at 01:00 in Seoul, after whatever ran before.
        while DEFAULT_START + timedelta(days=days.next_glue) < refresh.clock.now():
            days.next_glue += 1
        start = DEFAULT_START + timedelta(days=days.next_glue)
        days.next_glue += 1
        refresh.clock.advance((start - refresh.clock.now()).total_seconds())
        return _day(start), DuplicateGlueEvents() if step.kind == "duplicate" else GlueEvent()

    def _count(self, step: Step, arns: list[str]) -> None:
        self.figures.refreshes += 1
        self.figures.executions += len(arns)
        self.figures.invariant_checks += 5
        self.figures.by_kind[step.kind] += 1
        if step.fault is not None:
            self.figures.faults_injected += 1
            self.figures.by_fault[step.fault] += 1

    def _explain(self, plan: Plan, index: int, problems: list[str]) -> str:
        replay = f"python -m reliability.soak --replay '{plan.to_json()}'"
        seed = f"soak seed {self.seed}; " if self.seed is not None else ""
        ends = [
            f"execution ended {end['status']}/{end.get('error')}: {str(end.get('cause', ''))[:300]}"
            for end in self._ends
            if end["status"] != "SUCCEEDED"
        ]
        return (
            f"invariants broken after refresh {index + 1} of {len(plan.steps)} ({plan.steps[index]}):\n  "
            + "\n  ".join(problems + ends)
            + f"\n{seed}replay: {replay}"
        )


def _day(moment: datetime) -> int:
    return int(moment.astimezone(SEOUL).strftime("%Y%m%d"))


def _ended(refresh: LocalRefresh, records: dict[tuple[str, int], dict[str, Any]]) -> dict[str, str]:
    """The status of every execution a RUNNING record names (the seeded records name none that exist)."""
    client = refresh.aws.client("stepfunctions")
    ended = {}
    for record in records.values():
        arn = str(record.get("execution_arn"))
        if record["run_status"] == RUNNING and arn not in ended:
            ended[arn] = str(client.describe_execution(executionArn=arn)["status"])
    return ended


def _name_and_status(refresh: LocalRefresh, log: CallLog, version_arn: str) -> tuple[str, str]:
    with log.by_harness():
        described = refresh.aws.client("personalize").describe_solution_version(solutionVersionArn=version_arn)
    return str(described["solutionVersion"].get("name", "")), str(described["solutionVersion"]["status"])


def soak_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=60, help="plans to run (each 3 to 8 refreshes)")
    parser.add_argument("--seed", type=int, help="the seed to draw plans from (random when not given)")
    parser.add_argument("--replay", help="run this one plan, as a failure printed it")
    parser.add_argument("--record", action="store_true", help=f"write the figures to {FIGURES.name}")
    args = parser.parse_args(argv)
    quiet_engine_logs()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    soak = Soak(synthesized(CONFIGS), seed=seed)
    if args.replay:
        soak.run(Plan.from_json(args.replay))
        print("the plan kept every invariant")
        return 0

    print(f"soak seed {seed}: {args.examples} plans", flush=True)

    @hypothesis_seed(seed)
    @soak_settings(args.examples)
    @given(plan=plans())
    def soak_once(plan: Plan) -> None:
        soak.run(plan)

    started = time.perf_counter()
    try:
        soak_once()
    except InvariantViolated as violation:
        soak.figures.violations = len(violation.problems)
        print(violation, file=sys.stderr)
    wall = time.perf_counter() - started
    figures = soak.figures
    print(
        f"{figures.refreshes} refreshes ({figures.executions} executions) in {figures.examples} plans, "
        f"{figures.faults_injected} faults injected, {figures.violations} invariant violations, {wall:.0f} s"
    )
    if args.record:
        FIGURES.write_text(json.dumps(_recorded(figures, seed, args.examples, wall), indent=2, sort_keys=True) + "\n")
    return 1 if figures.violations else 0


def _recorded(figures: Figures, seed: int, examples: int, wall: float) -> dict[str, Any]:
    return {
        "command": f"make soak SOAK_EXAMPLES={examples}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "seed": seed,
        "plans": figures.examples,
        "refreshes": figures.refreshes,
        "executions": figures.executions,
        "faults_injected": figures.faults_injected,
        "invariant_checks": figures.invariant_checks,
        "violations": figures.violations,
        "wall_seconds": round(wall),
        "refreshes_by_kind": dict(figures.by_kind),
        "faults_by_id": dict(figures.by_fault),
    }


if __name__ == "__main__":
    sys.exit(main())
