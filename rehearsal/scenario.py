"""Rehearsal scenarios: what the emulated Personalize does, which events arrive, and what is then collected."""

from __future__ import annotations

import copy
import io
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from infra.config import RefreshConfig, parse_config
from local_engine.personalize import JobKind
from local_engine.refresh import DEFAULT_START, WAIT_LIMIT, LocalRefresh, PersonalizeCall, RecordWrite
from local_engine.saved import save
from local_engine.synth import synthesize

PHASES: tuple[JobKind, ...] = ("import", "training", "deployment")
# What Personalize says when each kind of job fails, unless the scenario gives its own reason.
DEFAULT_FAILURE_REASONS: dict[JobKind, str] = {
    "import": "Insufficient privileges for accessing data in S3",
    "training": "Input data has fewer than 1000 interactions after filtering",
    "deployment": "Internal service error while deploying the solution version",
}


@dataclass(frozen=True)
class Scenario:
    import_duration: timedelta = timedelta(hours=1)
    training_duration: timedelta = timedelta(hours=6)
    deployment_duration: timedelta = timedelta(minutes=30)
    fail_phase: JobKind | None = None
    fail_reason: str | None = None  # None: the phase's usual reason
    throttle: bool = False
    duplicate: bool = False
    rerun: bool = False
    two_of_each: bool = False

    @property
    def failure_reason(self) -> str | None:
        if self.fail_phase is None:
            return None
        return self.fail_reason or DEFAULT_FAILURE_REASONS[self.fail_phase]

    @property
    def ends_failed(self) -> bool:
        """A phase fails and nobody re-runs the day."""
        return self.fail_phase is not None and not self.rerun

    def over_limit(self, config: RefreshConfig) -> JobKind | None:
        """The first phase this scenario makes last longer than the configuration's limit for it: the run is
        recorded TIMED_OUT there (a training is stopped; an import or an update is given up)."""
        limits = config.phase_timeouts
        phases: tuple[tuple[JobKind, timedelta, float], ...] = (
            ("import", self.import_duration, limits.import_hours),
            ("training", self.training_duration, limits.training_hours),
            ("deployment", self.deployment_duration, limits.deployment_hours),
        )
        return next((phase for phase, took, hours in phases if took > timedelta(hours=hours)), None)

    def fault_target(self, config: RefreshConfig) -> str | None:
        """What the injected failure hits: the import into the first dataset, the training of the first
        campaign's solution, or the first campaign's update. Named, so that one command fails the same job every
        time, whichever of the jobs running side by side reaches Personalize first."""
        if self.fail_phase is None:
            return None
        if self.fail_phase == "import":
            return config.datasets[0].dataset_arn
        first = config.campaigns[0]
        return first.solution_arn if self.fail_phase == "training" else first.campaign_arn

    def failing_campaigns(self, config: RefreshConfig) -> list[str]:
        """The campaigns the injected failure fails: every one for an import (none trains on part of its data),
        those trained from the first campaign's solution for a training, the first campaign for an update."""
        if self.fail_phase is None:
            return []
        first = config.campaigns[0]
        if self.fail_phase == "import":
            return [c.name for c in config.campaigns]
        if self.fail_phase == "training":
            return [c.name for c in config.campaigns if c.solution_arn == first.solution_arn]
        return [first.name]


@dataclass
class Execution:
    label: str
    arn: str
    description: dict[str, Any]
    history: list[dict[str, Any]]


@dataclass
class Outcome:
    config: RefreshConfig
    scenario: Scenario = field(default_factory=Scenario)
    executions: list[Execution] = field(default_factory=list)
    definition: dict[str, Any] = field(default_factory=dict)
    record_writes: list[RecordWrite] = field(default_factory=list)
    personalize_calls: list[PersonalizeCall] = field(default_factory=list)
    run_records: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[tuple[str, str]] = field(default_factory=list)
    serving: dict[str, str] = field(default_factory=dict)
    previous_versions: dict[str, str] = field(default_factory=dict)
    simulated: timedelta = timedelta()
    started: datetime = DEFAULT_START
    wall_seconds: float = 0.0
    synth_seconds: float = 0.0


class ScenarioError(ValueError):
    """The scenario cannot be built on this configuration; the message says why, in one line."""


def base_date_of(event_time: datetime, time_zone: str) -> str:
    """The run date a Glue event makes: its time, in the configured zone, as YYYYMMDD (as the claim does)."""
    return event_time.astimezone(ZoneInfo(time_zone)).strftime("%Y%m%d")


def with_second_dataset_and_campaign(raw: dict[str, Any]) -> dict[str, Any]:
    """The configuration plus a second dataset (ITEMS, or USERS beside an ITEMS one) in the same dataset group,
    and a second campaign, in the same account and region."""
    raw = copy.deepcopy(raw)
    if len(raw["datasets"]) > 1 or len(raw["campaigns"]) > 1:
        raise ScenarioError("--two: the configuration already has more than one dataset or campaign; leave --two out")
    dataset = raw["datasets"][0]
    base, group, kind = dataset["dataset_arn"].rsplit("/", 2)
    bucket = dataset["data_location"].removeprefix("s3://").split("/", 1)[0]
    second_kind = "USERS" if kind == "ITEMS" else "ITEMS"
    raw["datasets"].append(
        {
            "dataset_arn": f"{base}/{group}/{second_kind}",
            "data_location": f"s3://{bucket}/{second_kind.lower()}/{{base_date}}/",
        }
    )
    campaign = raw["campaigns"][0]
    prefix, name = campaign["campaign_arn"].split(":campaign/")
    second = "shop-similar-items" if name != "shop-similar-items" else "shop-similar-items-2"
    raw["campaigns"].append(
        {
            "campaign_arn": f"{prefix}:campaign/{second}",
            "solution_arn": f"{prefix}:solution/{second}",
        }
    )
    return raw


def scenario_config(config: RefreshConfig, scenario: Scenario, *, source: str) -> RefreshConfig:
    """The configuration the scenario runs on: the user's, or with --two a second dataset and campaign added."""
    if not scenario.two_of_each:
        return config
    return parse_config(with_second_dataset_and_campaign(config.model_dump()), source=f"{source} with --two")


def rehearse(
    config: RefreshConfig,
    scenario: Scenario,
    *,
    progress: Callable[[str], None] = print,
    template: dict[str, Any] | None = None,
    save_to: Path | None = None,
    source: str = "",
) -> Outcome:
    """Rehearse one scenario; `template` skips the synth when the caller already holds this config's template.
    With `save_to`, the engine is saved there as the rehearsal left it (see local_engine.saved), `source`
    naming where the configuration came from."""
    started = time.perf_counter()
    if template is None:
        template = synthesized(config, progress)
    outcome = Outcome(config, scenario, synth_seconds=time.perf_counter() - started)

    started = time.perf_counter()
    with LocalRefresh(template, config) as refresh:
        progress("Deployed on the local engine; rehearsing in simulated time...")
        _configure_personalize(refresh, scenario)
        outcome.previous_versions = dict(refresh.campaign_versions)
        event_time = _deliver_glue_events(refresh, scenario, outcome)
        if scenario.rerun and outcome.executions:
            # The operator re-runs the day that the alert names.
            arn = refresh.start_manual({"base_date": base_date_of(event_time, config.time_zone)})
            outcome.executions.append(_await(refresh, "operator's re-run", arn))

        outcome.definition = refresh.state_machine_definition()
        outcome.record_writes = refresh.record_writes()
        outcome.run_records = refresh.run_records()
        outcome.alerts = refresh.alerts()
        outcome.serving = {c.name: refresh.serving_version(c.name) for c in config.campaigns}
        outcome.personalize_calls = list(refresh.personalize_calls)
        outcome.simulated = refresh.clock.elapsed
        outcome.started = refresh.clock.start
        if save_to is not None:
            save(refresh, source=source, path=save_to)
    outcome.wall_seconds = time.perf_counter() - started
    return outcome


def synthesized(config: RefreshConfig, progress: Callable[[str], None]) -> dict[str, Any]:
    """The configuration's template, as `cdk synth` makes it."""
    progress(f"Synthesizing the stack for account {config.account}, {config.region} (as `cdk synth` would)...")
    with _bundling_notices_held_back():
        return dict(synthesize(config).to_json())


@contextmanager
def _bundling_notices_held_back() -> Iterator[None]:
    """Pass on what the synth writes to stderr, except CDK's "Bundling asset ..." notice for the Lambda code.

    jsii forwards the Node process's stderr to `sys.stderr` (its `buffer`); the notice is progress, not news.
    """
    real, written = sys.stderr, io.BytesIO()
    held = io.TextIOWrapper(written, encoding="utf-8", errors="replace")
    sys.stderr = held
    try:
        yield
    finally:
        sys.stderr = real
        held.flush()
        lines = written.getvalue().decode("utf-8", errors="replace").splitlines(keepends=True)
        rest = [line for line in lines if not line.startswith("Bundling asset ")]
        real.write("".join(rest))


def _deliver_glue_events(refresh: LocalRefresh, scenario: Scenario, outcome: Outcome) -> datetime:
    """Put the Glue success event (twice with --duplicate) and follow the executions it starts; its time."""
    event = refresh.glue_event()
    with refresh.clock.hold():  # a duplicate delivery arrives at the same simulated moment
        arns = refresh.put_glue_event(event)
        labels = ["Glue success event"]
        if scenario.duplicate and arns:
            # Delivered once the first execution has claimed the day, so that it is always the one skipped.
            _await_claim(refresh, arns[0])
            arns += refresh.put_glue_event(event)
            labels.append("duplicate delivery")
    for label, arn in zip(labels, arns, strict=False):
        outcome.executions.append(_await(refresh, label, arn))
    event_time: datetime = event["Time"]
    return event_time


def _await_claim(refresh: LocalRefresh, execution_arn: str) -> None:
    """Wait (wall time) until the execution has written its first run record, or has ended without one."""
    client = refresh.client("stepfunctions")
    deadline = time.perf_counter() + WAIT_LIMIT
    while not any(write.record.get("execution_arn") == execution_arn for write in refresh.record_writes()):
        if client.describe_execution(executionArn=execution_arn)["status"] != "RUNNING":
            return
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{execution_arn} claimed nothing within {WAIT_LIMIT} s of wall time")
        time.sleep(0.005)


def _await(refresh: LocalRefresh, label: str, arn: str) -> Execution:
    description = refresh.wait(arn)
    return Execution(label, arn, description, refresh.history(arn))


def _configure_personalize(refresh: LocalRefresh, scenario: Scenario) -> None:
    emulator = refresh.emulator
    emulator.set_duration("import", scenario.import_duration)
    emulator.set_duration("training", scenario.training_duration)
    emulator.set_duration("deployment", scenario.deployment_duration)
    if scenario.fail_phase and scenario.failure_reason:
        emulator.faults.fail_job(scenario.fail_phase, scenario.failure_reason, scenario.fault_target(refresh.config))
    if scenario.throttle:
        emulator.faults.raise_error(
            "CreateDatasetImportJob",
            "LimitExceededException",
            times=1,
            message="More than 5 dataset import jobs are pending or in progress",
        )
        emulator.faults.raise_error(
            "CreateSolutionVersion",
            "LimitExceededException",
            times=2,
            message="Rate exceeded for CreateSolutionVersion",
        )
        emulator.faults.raise_error(
            "UpdateCampaign", "ResourceInUseException", times=1, message="Campaign is being updated"
        )
