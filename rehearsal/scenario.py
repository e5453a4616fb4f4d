"""Rehearsal scenarios: what the emulated Personalize does, and which events arrive."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from infra.config import RefreshConfig, parse_config
from local_engine.personalize import JobKind
from local_engine.refresh import DEFAULT_START, WAIT_LIMIT, LocalRefresh
from local_engine.synth import synthesize

from .report import narrate

PHASES = ("import", "training", "deployment")


@dataclass(frozen=True)
class Scenario:
    import_duration: timedelta = timedelta(hours=1)
    training_duration: timedelta = timedelta(hours=6)
    deployment_duration: timedelta = timedelta(minutes=30)
    fail_phase: JobKind | None = None
    fail_reason: str = "Input data has fewer than 1000 interactions after filtering"
    throttle: bool = False
    duplicate: bool = False
    rerun: bool = False
    two_of_each: bool = False


@dataclass
class Execution:
    label: str
    arn: str
    description: dict[str, Any]
    history: list[dict[str, Any]]


@dataclass
class Outcome:
    config: RefreshConfig
    executions: list[Execution] = field(default_factory=list)
    run_records: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[tuple[str, str]] = field(default_factory=list)
    serving: dict[str, str] = field(default_factory=dict)
    previous_versions: dict[str, str] = field(default_factory=dict)
    personalize_calls: dict[str, int] = field(default_factory=dict)
    simulated: timedelta = timedelta()
    started: datetime = DEFAULT_START
    wall_seconds: float = 0.0
    synth_seconds: float = 0.0


def with_second_dataset_and_campaign(raw: dict[str, Any]) -> dict[str, Any]:
    """The configuration plus an ITEMS dataset and a second campaign, in the same account and region."""
    raw = copy.deepcopy(raw)
    dataset = raw["datasets"][0]
    base, group = dataset["dataset_arn"].rsplit("/", 2)[0], dataset["dataset_arn"].rsplit("/", 2)[1]
    bucket = dataset["data_location"].removeprefix("s3://").split("/", 1)[0]
    raw["datasets"].append(
        {
            "dataset_arn": f"{base}/{group}/ITEMS",
            "data_location": f"s3://{bucket}/items/{{base_date}}/",
        }
    )
    campaign = raw["campaigns"][0]
    prefix = campaign["campaign_arn"].split(":campaign/")[0]
    raw["campaigns"].append(
        {
            "campaign_arn": f"{prefix}:campaign/shop-similar-items",
            "solution_arn": f"{prefix}:solution/shop-similar-items",
        }
    )
    return raw


def rehearse(
    raw_config: dict[str, Any],
    scenario: Scenario,
    *,
    progress: Callable[[str], None] = print,
    template: dict[str, Any] | None = None,
) -> Outcome:
    """Rehearse one scenario; `template` skips the synth when the caller already holds this config's template."""
    config = parse_config(with_second_dataset_and_campaign(raw_config) if scenario.two_of_each else raw_config)
    started = time.perf_counter()
    if template is None:
        progress("Synthesizing the stack (the template that `cdk deploy` would deploy)...")
        template = synthesize(config).to_json()
    outcome = Outcome(config, synth_seconds=time.perf_counter() - started)

    started = time.perf_counter()
    with LocalRefresh(template, config) as refresh:
        _configure_personalize(refresh, scenario)
        outcome.previous_versions = dict(refresh.campaign_versions)
        progress(f"Deployed locally: state machine {refresh.deployment.state_machine_arn.rsplit(':', 1)[1]}")

        progress(f"Glue job {config.glue_job_names[0]} SUCCEEDED: putting its event on the default bus")
        progress(f"(+HH:MM:SS is simulated time since {refresh.clock.start:%Y-%m-%d %H:%M} UTC)")
        labels = ["Glue success event"]
        with refresh.clock.hold():  # a duplicate arrives while the first execution runs
            arns = refresh.put_glue_event()
            if scenario.duplicate:
                progress("The same success event arrives a second time (EventBridge delivers at least once)")
                arns += refresh.put_glue_event()
                labels.append("duplicate Glue event")
        if not arns:
            progress("The rule matched no event: nothing started")
        for label, arn in zip(labels, arns, strict=False):
            outcome.executions.append(_follow(refresh, label, arn, progress))

        if scenario.rerun and outcome.executions:
            base_date = outcome.executions[0].description["input_base_date"]
            progress(f'Operator re-runs the failed day from the console: {{"base_date": "{base_date}"}}')
            arn = refresh.start_manual({"base_date": base_date})
            outcome.executions.append(_follow(refresh, "manual re-run", arn, progress))

        outcome.run_records = refresh.run_records()
        outcome.alerts = refresh.alerts()
        outcome.serving = {c.name: refresh.serving_version(c.name) for c in config.campaigns}
        outcome.personalize_calls = _call_counts(refresh)
        outcome.simulated = refresh.clock.elapsed
        outcome.started = refresh.clock.start
    outcome.wall_seconds = time.perf_counter() - started
    return outcome


def _configure_personalize(refresh: LocalRefresh, scenario: Scenario) -> None:
    emulator = refresh.emulator
    emulator.set_duration("import", scenario.import_duration)
    emulator.set_duration("training", scenario.training_duration)
    emulator.set_duration("deployment", scenario.deployment_duration)
    if scenario.fail_phase:
        emulator.faults.fail_job(scenario.fail_phase, scenario.fail_reason)
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


def _follow(refresh: LocalRefresh, label: str, arn: str, progress: Callable[[str], None]) -> Execution:
    """Print the execution's steps as they happen (in simulated time) until it ends."""
    client = refresh.aws.client("stepfunctions")
    printed = 0
    start = refresh.clock.start  # every time shown counts from the start of the rehearsal
    deadline = time.perf_counter() + WAIT_LIMIT
    while True:
        description = client.describe_execution(executionArn=arn)
        history = refresh.history(arn)
        lines = narrate(history, start)
        for line in lines[printed:]:
            progress(f"  [{label}] {line}")
        printed = len(lines)
        if description["status"] != "RUNNING":
            break
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{arn} still RUNNING after {WAIT_LIMIT} s of wall time")
        time.sleep(0.01)
    description["input_base_date"] = _base_date(refresh, arn)
    progress(f"  [{label}] ended {description['status']}")
    return Execution(label, arn, description, history)


def _base_date(refresh: LocalRefresh, arn: str) -> str | None:
    for record in refresh.run_records():
        if record.get("execution_arn") == arn:
            return str(record["base_date"])
        for attempt in record.get("previous_attempts", []):
            if attempt.get("execution_arn") == arn:
                return str(record["base_date"])
    return None


def _call_counts(refresh: LocalRefresh) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call in refresh.emulator.calls:
        counts[call.operation] = counts.get(call.operation, 0) + 1
    return counts
