"""The building blocks of a fault case: what is injected (into Personalize, the Lambdas, DynamoDB, the
engine) and how the refresh is triggered. Each is a small frozen dataclass, so a case reads as data and
the soak can print the exact faults it drew."""

from __future__ import annotations

import importlib
import json
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from unittest import mock

from local_engine.personalize import JobKind, PersonalizeError
from local_engine.refresh import WAIT_LIMIT, LocalRefresh

from .calls import CallLog

# Wall seconds a run waits, once its execution has ended, for the end's announcement (and the closing of
# its records) to have been handled.
ANNOUNCEMENT_WAIT = 10

# What the Lambda runtime reports when a function dies (out of memory, say) or runs past its own timeout.
RuntimeExitError: type[RuntimeError] = type("Runtime.ExitError", (RuntimeError,), {"__module__": __name__})
SandboxTimedout: type[RuntimeError] = type("Sandbox.Timedout", (RuntimeError,), {"__module__": __name__})


@dataclass
class Run:
    """One refresh under test: the local engine, the log of Personalize calls, the patches to undo."""

    refresh: LocalRefresh
    log: CallLog
    stack: ExitStack
    day: int

    def personalize(self) -> Any:
        return self.refresh.aws.client("personalize")

    def wait(self, execution_arn: str) -> dict[str, Any]:
        """The execution's description once it has ended and its end was announced: whatever the
        announcement set off (the closing of its records, an alert) has then finished too, unless it
        took longer than ANNOUNCEMENT_WAIT of wall time. Polls less
        often than LocalRefresh.wait: the engine's threads need the CPU more than the end needs noticing
        within milliseconds."""
        client = self.refresh.aws.client("stepfunctions")
        deadline = time.monotonic() + WAIT_LIMIT
        while True:
            description: dict[str, Any] = client.describe_execution(executionArn=execution_arn)
            if description["status"] != "RUNNING":
                # Bounded: a Lambda that hangs holds the engine's one invocation at a time, and the end's
                # handler then waits for it (on AWS it would run at once).
                self.refresh.aws.status_events.wait_announced(execution_arn, ANNOUNCEMENT_WAIT)
                return description
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still RUNNING after {WAIT_LIMIT} s of wall time")
            time.sleep(0.03)


# Injections -------------------------------------------------------------------------------------------


class Injection:
    """Something that goes wrong during the refresh."""

    def apply(self, run: Run) -> None:
        raise NotImplementedError

    def at_moment(self, moment: int) -> Injection:
        """The same fault, `moment` steps later in the run where that means something (the soak's draw)."""
        return self


@dataclass(frozen=True)
class ApiError(Injection):
    """The pipeline's `at_call`-th call of `operation` (and the `times - 1` after it) answers `code`."""

    operation: str
    code: str
    times: int = 1
    at_call: int = 1
    message: str | None = None

    def apply(self, run: Run) -> None:
        def arm(_: dict[str, Any]) -> None:
            run.refresh.emulator.faults.raise_error(self.operation, self.code, times=self.times, message=self.message)

        run.log.on_call(self.operation, self.at_call, arm)

    def at_moment(self, moment: int) -> Injection:
        return replace(self, at_call=self.at_call + moment)


@dataclass(frozen=True)
class JobFails(Injection):
    """The next job of `kind` ends CREATE FAILED, with `reason` as failureReason (None: no reason at all).
    `campaign` picks one campaign's training or deployment; `dataset` one dataset's import."""

    kind: JobKind
    reason: str | None
    campaign: int | None = None
    dataset: int | None = None

    def apply(self, run: Run) -> None:
        config = run.refresh.config
        name = None
        if self.dataset is not None:
            name = config.datasets[self.dataset].dataset_arn
        elif self.campaign is not None:
            chosen = config.campaigns[self.campaign]
            name = chosen.solution_arn if self.kind == "training" else chosen.campaign_arn
        run.refresh.emulator.faults.fail_job(self.kind, self.reason, name)


@dataclass(frozen=True)
class OversizedFailureReason(Injection):
    """The import fails with a failureReason longer than a state's 256 KB input or output may be."""

    characters: int = 300_000

    def apply(self, run: Run) -> None:
        run.refresh.emulator.faults.fail_job("import", "Row 1 could not be parsed: " + "x" * self.characters)


@dataclass(frozen=True)
class TrainingStoppedByOthers(Injection):
    """Someone else calls StopSolutionVersionCreation on the day's version, just before the pipeline's
    `at_describe`-th DescribeSolutionVersion."""

    at_describe: int = 1

    def apply(self, run: Run) -> None:
        def stop(params: dict[str, Any]) -> None:
            # Already ACTIVE or failed: too late to stop, nothing happens.
            with suppress(PersonalizeError):
                run.refresh.emulator.call(
                    "StopSolutionVersionCreation", {"solutionVersionArn": params["solutionVersionArn"]}
                )

        run.log.on_call("DescribeSolutionVersion", self.at_describe, stop)

    def at_moment(self, moment: int) -> Injection:
        return replace(self, at_describe=self.at_describe + moment)


@dataclass(frozen=True)
class Durations(Injection):
    """How long Personalize takes, for jobs created from now on."""

    import_: timedelta | None = None
    training: timedelta | None = None
    deployment: timedelta | None = None

    def apply(self, run: Run) -> None:
        for phase, duration in (("import", self.import_), ("training", self.training), ("deployment", self.deployment)):
            if duration is not None:
                run.refresh.emulator.set_duration(phase, duration)


@dataclass(frozen=True)
class LambdaCrash(Injection):
    """A task Lambda dies (out of memory, say) the first time it reaches `target`, a function or method of
    its code named `module:attribute[.attribute]`; the runtime reports Runtime.ExitError."""

    target: str

    def apply(self, run: Run) -> None:
        crashed = False

        def crash_once(original: Callable[..., Any]) -> Callable[..., Any]:
            def crashing(*args: Any, **kwargs: Any) -> Any:
                nonlocal crashed
                if not crashed:
                    crashed = True
                    raise RuntimeExitError("Runtime exited with error: signal: killed")
                return original(*args, **kwargs)

            return crashing

        _wrap(run, self.target, crash_once)


@dataclass(frozen=True)
class LambdaHangs(Injection):
    """A task Lambda hangs at `target` for `seconds` (past its task's TimeoutSeconds) and is then killed by
    its own timeout, without having called Personalize."""

    target: str
    seconds: int = 300

    def apply(self, run: Run) -> None:
        clock = run.refresh.clock

        def hang(original: Callable[..., Any]) -> Callable[..., Any]:
            def hanging(*args: Any, **kwargs: Any) -> Any:
                clock.sleep(self.seconds)
                raise SandboxTimedout(f"Task timed out after {self.seconds}.00 seconds")

            return hanging

        _wrap(run, self.target, hang)


@dataclass(frozen=True)
class LambdaResultWithout(Injection):
    """A task Lambda returns its result without `key` (a regression in its code)."""

    target: str
    key: str

    def apply(self, run: Run) -> None:
        def drop_key(original: Callable[..., Any]) -> Callable[..., Any]:
            def without_key(*args: Any, **kwargs: Any) -> Any:
                result = dict(original(*args, **kwargs))
                result.pop(self.key, None)
                return result

            return without_key

        _wrap(run, self.target, drop_key)


@dataclass(frozen=True)
class TableFault(Injection):
    """The next `times` DynamoDB calls of `operation` whose request contains `body_contains` answer `code`."""

    operation: str
    code: str
    times: int = 1
    body_contains: str | None = None

    def apply(self, run: Run) -> None:
        run.refresh.aws.faults.fail(
            "dynamodb", self.operation, self.code, times=self.times, body_contains=self.body_contains
        )


@dataclass(frozen=True)
class HistoryQuota(Injection):
    """Step Functions' history quota lowered to `events` (25,000 on AWS), so a run reaches it in seconds."""

    events: int

    def apply(self, run: Run) -> None:
        strictness = run.refresh.aws.strictness
        original = strictness.history_event_quota

        def set_quota(events: int) -> None:
            strictness.uninstall()
            strictness.history_event_quota = events
            strictness.install()

        set_quota(self.events)
        run.stack.callback(set_quota, original)


@dataclass(frozen=True)
class ImportJobAlreadyThere(Injection):
    """The day's import job already exists under its deterministic name, started before this execution
    (by an earlier attempt, or by hand); the pipeline's create answers ResourceAlreadyExistsException.
    On a day an earlier refresh already imported, that is so already."""

    def apply(self, run: Run) -> None:
        config = run.refresh.config
        dataset = config.datasets[0]
        client = run.personalize()
        with run.log.by_harness(), suppress(client.exceptions.ResourceAlreadyExistsException):
            client.create_dataset_import_job(
                jobName=f"{config.job_name_prefix}-{dataset.dataset_group}-{dataset.name}-{run.day}",
                datasetArn=dataset.dataset_arn,
                dataSource={"dataLocation": dataset.data_location.replace("{base_date}", str(run.day))},
                roleArn=config.personalize_role_arn,
                importMode=dataset.import_mode,
            )


@dataclass(frozen=True)
class VersionAlreadyThere(Injection):
    """The day's solution version already exists and is training, created before this execution. On a day
    an earlier refresh already trained, or while the solution trains another version, it is left as it is."""

    def apply(self, run: Run) -> None:
        config = run.refresh.config
        client = run.personalize()
        errors = (client.exceptions.ResourceAlreadyExistsException, client.exceptions.ResourceInUseException)
        with run.log.by_harness(), suppress(*errors):
            client.create_solution_version(
                name=f"{config.job_name_prefix}-{run.day}",
                solutionArn=config.campaigns[0].solution_arn,
                trainingMode="FULL",
            )


def _wrap(run: Run, target: str, wrapper: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Patch `module:attribute[.attribute]` of the Lambdas' code with `wrapper(original)` until the run ends."""
    module_name, _, path = target.partition(":")
    owner: Any = importlib.import_module(module_name)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    run.stack.enter_context(mock.patch.object(owner, name, wrapper(getattr(owner, name))))


# Triggers ---------------------------------------------------------------------------------------------


class Trigger:
    """How the refresh under test is started; returns the executions it started."""

    def start(self, run: Run) -> list[str]:
        raise NotImplementedError


@dataclass(frozen=True)
class GlueEvent(Trigger):
    """The Glue export succeeded: the event EventBridge delivers to the rule."""

    def start(self, run: Run) -> list[str]:
        return run.refresh.put_glue_event()


@dataclass(frozen=True)
class DuplicateGlueEvents(Trigger):
    """The same success delivered twice at the same moment (EventBridge delivers at least once)."""

    def start(self, run: Run) -> list[str]:
        with run.refresh.clock.hold():
            return run.refresh.put_glue_event() + run.refresh.put_glue_event()


@dataclass(frozen=True)
class UnwantedGlueEvents(Trigger):
    """A success of a Glue job that is not configured, and a failed run of the configured one."""

    def start(self, run: Run) -> list[str]:
        return run.refresh.put_glue_event(job_name="some-other-export") + run.refresh.put_glue_event(state="FAILED")


@dataclass(frozen=True)
class LateGlueEvent(Trigger):
    """A success that happened `days` days ago, delivered only now (a Glue event retried by EventBridge)."""

    days: int = 1

    def start(self, run: Run) -> list[str]:
        event = run.refresh.glue_event()
        event["Time"] = run.refresh.clock.now() - timedelta(days=self.days)
        before = len(run.refresh.deliveries.started)
        run.refresh.aws.client("events").put_events(Entries=[event])
        return [arn for _, arn, _ in run.refresh.deliveries.started[before:]]


@dataclass(frozen=True)
class NextDayDuringRun(Trigger):
    """A Glue success now, and the next day's success `after` later, while the first run is still going."""

    after: timedelta = timedelta(hours=24)

    def start(self, run: Run) -> list[str]:
        later: list[str] = []

        def next_day() -> None:
            run.refresh.clock.sleep(self.after.total_seconds())
            later.extend(run.refresh.put_glue_event())

        with run.refresh.clock.hold():
            first = run.refresh.put_glue_event()
            thread = run.refresh.clock.Thread(target=next_day, name="next-day-trigger")
            thread.start()
        for arn in first:
            run.wait(arn)
        thread.join()
        return first + later


@dataclass(frozen=True)
class StoppedByOperator(Trigger):
    """A Glue success, and an operator's StopExecution `after` into the run."""

    after: timedelta = timedelta(hours=1)

    def start(self, run: Run) -> list[str]:
        arns: list[str] = []

        def stop() -> None:
            run.refresh.clock.sleep(self.after.total_seconds())
            run.refresh.aws.client("stepfunctions").stop_execution(
                executionArn=arns[0], error="StoppedByOperator", cause="Stopped from the console"
            )

        with run.refresh.clock.hold():
            arns.extend(run.refresh.put_glue_event())
            run.refresh.clock.Thread(target=stop, name="operator").start()
        return arns


@dataclass(frozen=True)
class ManualStart(Trigger):
    """An operator's start with `payload` (JSON text) as the input; None means `{"base_date": <the day>}`."""

    payload: str | None = None

    def start(self, run: Run) -> list[str]:
        payload = {"base_date": str(run.day)} if self.payload is None else json.loads(self.payload)
        client = run.refresh.aws.client("stepfunctions")
        return [
            client.start_execution(
                stateMachineArn=run.refresh.deployment.state_machine_arn,
                name=f"manual-{uuid.uuid4()}",
                input=json.dumps(payload),
            )["executionArn"]
        ]
