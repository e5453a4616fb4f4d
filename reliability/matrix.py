"""Runs fault cases on the local engine, one fresh engine per case, and observes how each ended.

Cases are independent, so they run in worker processes (two by default, `RELIABILITY_WORKERS` to
change it; 1 runs them in this process): the engine is CPU-bound Python and moto's state is per process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any
from unittest import mock

import botocore.endpoint
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

from infra.config import RefreshConfig, parse_config
from local_engine.refresh import LocalRefresh
from refresh_common.schema import DONE, RUNNING, SUCCEEDED

from . import readback
from .calls import CallLog
from .catalog import BY_ID, Fault
from .configs import RAW_CONFIGS
from .faults import Run
from .outcomes import ASKED_OPERATIONS, Observation, RecordSeen

# Personalize's durations in every case unless the case sets its own: each phase is over by its first
# poll (the example configuration polls every 5, 15 and 1 minutes), so a refresh costs few transitions.
FAST_DURATIONS = {
    "pending": timedelta(seconds=30),
    "import": timedelta(minutes=4),
    "training": timedelta(minutes=10),
    "deployment": timedelta(seconds=20),
}
# After the executions end, what Personalize had accepted (an update, say) is left to finish before the
# campaigns are read: what they serve then is what users get.
SETTLE = timedelta(hours=12)
# Wall time given to anything recording an execution's end after the execution itself has ended.
SETTLE_WALL_SECONDS = 0.5
# A week before the day under test: a refresh that must stay exactly as it was.
LAST_WEEK = 20261122


@dataclass(frozen=True)
class Environment:
    """A configuration and its synthesized template, by configuration name."""

    raw_config: dict[str, Any]
    template: dict[str, Any]

    @property
    def config(self) -> RefreshConfig:
        return parse_config(self.raw_config)


def synthesized(names: Sequence[str]) -> dict[str, Environment]:
    from local_engine.synth import synthesize

    environments = {}
    for name in names:
        raw = RAW_CONFIGS[name]()
        environments[name] = Environment(raw, synthesize(parse_config(raw)).to_json())
    return environments


def default_workers() -> int:
    return int(os.environ.get("RELIABILITY_WORKERS") or min(2, os.cpu_count() or 1))


def observe_all(
    faults: Sequence[Fault], environments: Mapping[str, Environment], *, workers: int | None = None
) -> dict[str, Observation]:
    """Each fault's observation, by fault id."""
    workers = default_workers() if workers is None else workers
    ids = [fault.id for fault in faults]
    if workers <= 1 or len(ids) <= 1:
        _use(environments)
        return {fault_id: observe_by_id(fault_id) for fault_id in ids}
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_use,
        initargs=(dict(environments),),
    ) as pool:
        return dict(zip(ids, pool.map(observe_by_id, ids), strict=True))


_environments: dict[str, Environment] = {}


def _use(environments: Mapping[str, Environment]) -> None:
    _environments.clear()
    _environments.update(environments)
    quiet_engine_logs()


def quiet_engine_logs() -> None:
    """moto logs every failed state at length; the facts that matter are read back instead."""
    logging.getLogger("moto").setLevel(logging.CRITICAL)


def observe_by_id(fault_id: str) -> Observation:
    fault = BY_ID[fault_id]
    environment = _environments[fault.config]
    return observe(fault, environment.template, environment.config)


def observe(fault: Fault, template: dict[str, Any], config: RefreshConfig) -> Observation:
    """Run `fault` on a fresh local engine and read back how the refresh ended."""
    try:
        with parsed_once(), instant_sdk_backoff(), LocalRefresh(template, config) as refresh:
            return _run(fault, refresh)
    except Exception as error:  # the case could not be run at all: reported, not raised
        return Observation((), (), (), (), (0, 0), (), (), False, False, problem=f"{type(error).__name__}: {error}")


@contextmanager
def parsed_once() -> Iterator[None]:
    """Each state-machine definition is parsed once per process, not once per deployment and execution:
    the interpreter's parsed program holds no state of an execution (that lives in its environment), and
    parsing is a third of what a short refresh costs."""
    parse = AmazonStateLanguageParser.parse

    def cached(definition: str) -> Any:
        if definition not in _parsed:
            _parsed[definition] = parse(definition)
        return _parsed[definition]

    with mock.patch.object(AmazonStateLanguageParser, "parse", staticmethod(cached)):
        yield


_parsed: dict[str, Any] = {}


@contextmanager
def instant_sdk_backoff() -> Iterator[None]:
    """The SDK's retry back-off inside the Lambdas takes no time: it would only cost wall time, and a few
    seconds of it do not change what happens next (every later wait is minutes of simulated time)."""
    shim = SimpleNamespace(**{name: getattr(time, name) for name in dir(time) if not name.startswith("_")})
    shim.sleep = lambda seconds: None
    with mock.patch.object(botocore.endpoint, "time", shim):
        yield


@contextmanager
def lambda_environment_set_once(refresh: LocalRefresh) -> Iterator[None]:
    """The stack's Lambda environment set in os.environ for the whole run rather than around each invocation.

    The local engine sets a function's variables in os.environ for each invocation and deletes them after.
    os.environ belongs to the whole process, and every boto3 client the engine creates meanwhile in another
    thread (another campaign's task, a duplicate execution's) iterates it for proxy settings: a variable
    deleted during that iteration raises KeyError there, and that state fails with an uncatchable
    States.Runtime. On AWS each function has a process of its own, so the race is the engine's alone; with
    the variables (the same for every function of the stack, the runtime's included) already set, each
    invocation deletes nothing.
    """
    variables: dict[str, str] = {}
    for name in refresh.deployment.functions.values():
        variables |= refresh.aws.router.environment_of(name)  # the runtime's too: its region, its task root
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def prepare_engine(refresh: LocalRefresh, log: CallLog) -> None:
    """What every case and soak refresh starts from: fast Personalize, fresh Lambda clients, last week's runs."""
    from refresh_common import personalize

    personalize.client.cache_clear()  # a fresh client: its retry budget is not what earlier runs left
    fast_personalize(refresh)
    _seed_last_week(refresh, log)


def fast_personalize(refresh: LocalRefresh) -> None:
    for phase, duration in FAST_DURATIONS.items():
        refresh.emulator.set_duration(phase, duration)


def _run(fault: Fault, refresh: LocalRefresh) -> Observation:
    log = CallLog(refresh.emulator)
    with lambda_environment_set_once(refresh), log.installed(), ExitStack() as stack:
        prepare_engine(refresh, log)
        run = Run(refresh, log, stack, fault.day)
        for trigger in fault.prepare:
            for arn in trigger.start(run):
                run.wait(arn)
        before = readback.records_by_key(refresh)
        serving_before = readback.serving(refresh, log)
        alerts_before = len(refresh.alerts())
        log.reset()

        for injection in fault.injections:
            injection.apply(run)
        arns = fault.trigger.start(run)
        ends = [run.wait(arn) for arn in arns]
        settle_records(refresh, arns)
        stack.close()
        refresh.emulator.faults.clear()
        refresh.aws.faults.clear()

        after = readback.records_by_key(refresh)
        alerts = refresh.alerts()[alerts_before:]
        asked = tuple((operation, log.count(operation)) for operation in ASKED_OPERATIONS)
        refresh.clock.advance(SETTLE.total_seconds())
        serving = {
            name: _classify(refresh, log, serving_before[name], version, fault.day)
            for name, version in readback.serving(refresh, log).items()
        }
        imports, versions = readback.import_jobs(refresh, log), readback.solution_versions(refresh, log)

    return Observation(
        executions=tuple((end["status"], end.get("error")) for end in ends),
        records=tuple((name, _seen(after.get((name, fault.day)))) for name in readback.campaign_names(refresh.config)),
        alerts=tuple(alerts),
        asked=asked,
        day_jobs=(_of_day(imports, fault.day), _of_day(versions, fault.day)),
        created_twice=tuple(readback.created_twice(imports + versions)),
        serving=tuple(serving.items()),
        others_unchanged=all(after.get(key) == record for key, record in before.items() if key[1] != fault.day),
        day_unchanged=all(after.get(key) == record for key, record in before.items() if key[1] == fault.day),
    )


def settle_records(refresh: LocalRefresh, execution_arns: Sequence[str]) -> None:
    """Give whatever records an execution's end (outside the execution itself) a moment to do so."""
    deadline = time.monotonic() + SETTLE_WALL_SECONDS
    while time.monotonic() < deadline:
        if not any(
            r["run_status"] == RUNNING and r.get("execution_arn") in execution_arns for r in refresh.run_records()
        ):
            return
        time.sleep(0.05)


def _seed_last_week(refresh: LocalRefresh, log: CallLog) -> None:
    """Last week's successful run of every campaign, as the pipeline records one."""
    table = refresh.aws.client("dynamodb")
    serving = readback.serving(refresh, log)
    for campaign in refresh.config.campaigns:
        table.put_item(
            TableName=refresh.deployment.table_name,
            Item={
                "campaign_name": {"S": campaign.name},
                "base_date": {"N": str(LAST_WEEK)},
                "run_status": {"S": SUCCEEDED},
                "phase": {"S": DONE},
                "trigger": {"S": "glue"},
                "execution_arn": {
                    "S": f"{refresh.deployment.state_machine_arn}:last-week".replace(":stateMachine:", ":execution:")
                },
                "solution_version_arn": {"S": serving[campaign.name]},
                "deployed_solution_version_arn": {"S": serving[campaign.name]},
                "attempt": {"N": "1"},
                "started_at": {"S": "2026-11-21T16:00:00.000Z"},
                "ended_at": {"S": "2026-11-22T00:10:00.000Z"},
            },
        )


def _seen(record: dict[str, Any] | None) -> RecordSeen | None:
    if record is None:
        return None
    return RecordSeen(
        run_status=str(record.get("run_status")),
        phase=record.get("phase"),
        failure_phase=record.get("failure_phase"),
        failure_error=record.get("failure_error"),
        failure_reason=record.get("failure_reason"),
    )


def _classify(refresh: LocalRefresh, log: CallLog, before: str, now: str, day: int) -> str:
    if now == before:
        return "previous"
    return "new" if readback.day_of(readback.version_name(refresh, log, now)) == day else "other"


def _of_day(jobs: list[readback.Job], day: int) -> int:
    return sum(1 for job in jobs if readback.day_of(job.name) == day)
