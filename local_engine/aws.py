"""A local AWS for running the synthesized state machine on moto in simulated time.

``LocalAws(clock)`` starts ``mock_aws`` with moto's real ASL interpreter and
bends that interpreter to the :class:`~local_engine.clock.VirtualClock`:

* every thread moto spawns for an execution, a Map iteration, a Parallel
  branch or a Task becomes a clock participant, and the events those threads
  wait on become clock-aware (see clock.py for why this makes time advance
  only when all of them are idle);
* Wait states, Retry back-off and ``.sync`` polling sleep in simulated time;
* history events, ``$$.State.EnteredTime``, ``$$.Execution.StartTime``,
  execution start/stop dates and Map Run dates read the simulated clock
  (and the context timestamps are formatted as AWS formats them);
* an unnamed StartExecution gets a UUID name, as on AWS (moto uses "None",
  so a second unnamed start of the same state machine would fail);
* a retrier's FULL jitter is drawn from the execution, the state and the
  attempt rather than at random, so one rehearsal tells the same story
  every time.

It also installs caches for work the interpreter repeats (moto_caches.py), a
faster path through moto's response serializer (fast_responses.py) and its
copies of state data (fast_copy.py),
AWS's strictness (strictness.py), the aws-sdk adapter, the
Lambda router, fault injection for moto's services (service_faults.py), the
execution status events AWS publishes (execution_events.py) and IAM's decisions
on the deployed roles' calls (authorization.py), and undoes all of it on exit.
"""

from __future__ import annotations

import datetime as datetime_module
import random
import threading as threading_module
import time as time_module
import uuid
from types import ModuleType
from typing import Any
from unittest import mock

import boto3
from botocore import endpoint as botocore_endpoint
from moto import mock_aws
from moto.stepfunctions import models as sfn_models
from moto.stepfunctions.parser import models as parser_models
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.retry.jitter_strategy_decl import JitterStrategy, JitterStrategyDecl
from moto.stepfunctions.parser.asl.component.program import program
from moto.stepfunctions.parser.asl.component.state import state as state_module
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    inline_iteration_component,
    job,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
    map_run_record,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import (
    branch_worker,
    branches_decl,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import (
    timestamp,
    wait_function,
)
from moto.stepfunctions.parser.asl.eval import environment
from moto.stepfunctions.parser.asl.eval.event import event_manager
from moto.stepfunctions.parser.backend import execution as backend_execution
from moto.stepfunctions.parser.backend import execution_worker

from local_engine.authorization import Authorization
from local_engine.clock import VirtualClock
from local_engine.execution_events import ExecutionStatusEvents
from local_engine.fast_copy import FastCopies
from local_engine.fast_responses import FastResponses
from local_engine.lambda_router import LambdaRouter
from local_engine.moto_caches import MotoCaches
from local_engine.nested_executions import NestedExecutions
from local_engine.patching import ModuleShim, PatchSet
from local_engine.sdk_adapter import AwsSdkAdapter, instant_text, iso8601_millis
from local_engine.service_faults import ServiceFaults
from local_engine.strictness import HISTORY_EVENT_QUOTA, StrictStepFunctions

MOTO_CONFIG: dict[str, Any] = {
    "stepfunctions": {"execute_state_machine": True},
    # Unrouted functions get moto's canned answer instead of needing Docker.
    "lambda": {"use_docker": False},
}

# Modules whose `threading.Thread` / `threading.Event` start or coordinate
# execution, Map, Parallel and Task threads. callback.py is deliberately
# absent: a Task waiting for an outside SendTaskSuccess stays "busy", so the
# clock does not race to its timeout while the outside world is answering.
_THREADING_MODULES: tuple[ModuleType, ...] = (
    program,
    execute_state,
    inline_iteration_component,
    job,
    branch_worker,
    branches_decl,
    environment,
    map_run_record,
    state_task_service_callback,
)
_THREAD_NAME_MODULES: tuple[ModuleType, ...] = (execution_worker, execute_state)
_DATETIME_MODULES: tuple[ModuleType, ...] = (
    event_manager,
    state_module,
    map_run_record,
    backend_execution,
    branches_decl,
    parser_models,
    timestamp,
)
_TIME_MODULES: tuple[ModuleType, ...] = (
    wait_function,
    retrier_decl,
    state_task_service_callback,
    # The SDK's own retries (a throttle, Personalize's LimitExceededException) back off on the clock: in a
    # Lambda they take its time as much as any call does.
    botocore_endpoint,
)


def _clock_datetime_class(clock: VirtualClock) -> type[datetime_module.datetime]:
    class ClockDatetime(datetime_module.datetime):
        @classmethod
        def now(cls, tz: datetime_module.tzinfo | None = None) -> datetime_module.datetime:  # type: ignore[override]
            moment = clock.now()
            # Naive "now" is read as UTC: the simulation has no local zone,
            # and moto compares it with naive UTC Wait timestamps.
            return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)

        @classmethod
        def utcnow(cls) -> datetime_module.datetime:  # type: ignore[override]
            return clock.now().replace(tzinfo=None)

    return ClockDatetime


def _state_data_in_aws_format(real_state_data: Any) -> Any:
    """moto writes $$.State.EnteredTime with isoformat() ("+00:00", micros);
    AWS writes "2024-01-01T00:00:00.123Z", and "2024-01-01T00:00:00Z" on a whole second."""

    def state_data(**fields: Any) -> Any:
        entered = fields.get("EnteredTime")
        if isinstance(entered, str):
            fields["EnteredTime"] = instant_text(datetime_module.datetime.fromisoformat(entered))
        return real_state_data(**fields)

    return state_data


def _start_time_in_aws_format(real_details: Any) -> Any:
    """moto puts the start datetime object itself into $$.Execution.StartTime,
    which then cannot be serialised into the execution's output."""

    def get_start_execution_details(execution: Any) -> Any:
        details = real_details(execution)
        if isinstance(details.start_time, datetime_module.datetime):
            details.start_time = iso8601_millis(details.start_time)
        return details

    return get_start_execution_details


def _unnamed_executions_get_a_uuid(real_start: Any) -> Any:
    """moto's interpreter backend names an unnamed execution "None", so the
    second unnamed start of a state machine fails; AWS picks a UUID."""

    def start_execution(
        backend: Any,
        state_machine_arn: str,
        name: str | None = None,
        execution_input: str | None = None,
        trace_header: str | None = None,
    ) -> Any:
        return real_start(backend, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    return start_execution


def _reproducible_jitter(decl: Any, env: Any) -> None:
    """A retrier's FULL jitter draws its wait between nothing and the backoff's, at random on AWS. The engine
    draws it from the execution, the state and the attempt, so one rehearsal tells the same story every time
    while waits still spread as AWS spreads them."""
    if decl.jitter_strategy == JitterStrategy.NONE:
        return
    context = env.states.context_object.context_object_data
    seed = f"{context['Execution']['Id']}|{context['State']['Name']}|{context['State']['RetryCount']}"
    env.stack.append(random.Random(seed).uniform(0, env.stack.pop()))


def _simulated_time_patches(clock: VirtualClock) -> list[Any]:
    threading_shim = ModuleShim(threading_module, Thread=clock.Thread, Event=clock.Event)
    datetime_shim = ModuleShim(datetime_module, datetime=_clock_datetime_class(clock))
    time_shim = ModuleShim(time_module, time=clock.time, sleep=clock.sleep)

    def naive_utcnow() -> datetime_module.datetime:
        return clock.now().replace(tzinfo=None)

    return (
        [mock.patch.object(m, "threading", threading_shim) for m in _THREADING_MODULES]
        + [mock.patch.object(m, "Thread", clock.Thread) for m in _THREAD_NAME_MODULES]
        + [mock.patch.object(m, "datetime", datetime_shim) for m in _DATETIME_MODULES]
        + [mock.patch.object(m, "time", time_shim) for m in _TIME_MODULES]
        + [mock.patch.object(sfn_models, "utcnow", naive_utcnow)]  # StopExecution
    )


def _aws_behaviour_patches() -> list[Any]:
    execution_class = backend_execution.Execution
    backend_class = parser_models.StepFunctionsParserBackend
    return [
        mock.patch.object(JitterStrategyDecl, "_eval_body", _reproducible_jitter),
        mock.patch.object(state_module, "StateData", _state_data_in_aws_format(state_module.StateData)),
        mock.patch.object(
            execution_class,
            "get_start_execution_details",
            _start_time_in_aws_format(execution_class.get_start_execution_details),
        ),
        mock.patch.object(
            backend_class, "start_execution", _unnamed_executions_get_a_uuid(backend_class.start_execution)
        ),
    ]


class MotoPatches(PatchSet):
    """Every change aws.py makes to moto: the interpreter on the VirtualClock,
    context timestamps in AWS's format, and AWS-like names for unnamed
    executions."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self._clock = clock

    def _patches_to_apply(self) -> list[Any]:
        return _simulated_time_patches(self._clock) + _aws_behaviour_patches()


class LocalAws:
    """moto + simulated time + AWS's strictness + aws-sdk normalisation + in-process Lambdas + IAM."""

    def __init__(
        self, clock: VirtualClock, region: str = "us-east-1", *, history_event_quota: int = HISTORY_EVENT_QUOTA
    ) -> None:
        self.clock = clock
        self.region = region
        self.router = LambdaRouter(now=clock.now, lock=clock.RLock)
        self.sdk_adapter = AwsSdkAdapter()
        self.moto_patches = MotoPatches(clock)
        self.caches = MotoCaches()
        self.fast_responses = FastResponses()
        self.fast_copies = FastCopies()
        self.strictness = StrictStepFunctions(history_event_quota=history_event_quota)
        self.faults = ServiceFaults()
        self.status_events = ExecutionStatusEvents()
        self.authorization = Authorization()
        self.nested_executions = NestedExecutions(clock, self.authorization)
        self._mock: Any = None

    def __enter__(self) -> LocalAws:
        self._mock = mock_aws(config=MOTO_CONFIG)  # type: ignore[call-overload]
        self._mock.start()
        try:
            self.moto_patches.install()
            self.caches.install()
            self.fast_responses.install()
            self.fast_copies.install()
            self.strictness.install()
            self.sdk_adapter.install()
            self.router.install()
            self.faults.install()
            # Before the status events: a parent's children are stopped before its end is announced.
            self.nested_executions.install()
            self.status_events.install()
            self.authorization.install()
        except BaseException:
            self._undo()
            raise
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._undo()

    def _undo(self) -> None:
        self.authorization.uninstall()
        self.status_events.uninstall()
        self.nested_executions.uninstall()
        self.faults.uninstall()
        self.router.uninstall()
        self.sdk_adapter.uninstall()
        self.strictness.uninstall()
        self.fast_copies.uninstall()
        self.fast_responses.uninstall()
        self.caches.uninstall()
        self.moto_patches.uninstall()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None

    def client(self, service_name: str, **kwargs: Any) -> Any:
        kwargs.setdefault("region_name", self.region)
        return boto3.client(service_name, **kwargs)

    def wait_for_execution(self, execution_arn: str, timeout_s: float = 60) -> dict:
        """Block (wall time) until the execution has ended and its end event was delivered; its description."""
        sfn = self.client("stepfunctions")
        deadline = time_module.monotonic() + timeout_s
        self.status_events.wait_announced(execution_arn, timeout_s)
        while True:
            description = sfn.describe_execution(executionArn=execution_arn)
            if description["status"] != "RUNNING" and self.status_events.announced(execution_arn):
                return description
            if time_module.monotonic() > deadline:
                raise TimeoutError(
                    f"{execution_arn} still RUNNING after {timeout_s}s of wall time "
                    f"(simulated time {self.clock.now().isoformat()})"
                )
            time_module.sleep(0.005)
