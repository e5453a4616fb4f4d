"""Executions that start and await executions (`states:startExecution.sync:2`) on the embedded AWS, as Step
Functions runs them.

moto's interpreter awaits a child by describing it every half second of simulated time: a child that trains for
a day would be described 170,000 times. AWS learns of the child's end from its status change instead ("Run a
Job (.sync)"). Here the awaiting Task blocks on the child's end (a clock-aware event, so simulated time moves
on meanwhile) and then describes it once.

And a parent that ends while it awaits children stops them: the developer guide's policy for the
startExecution.sync integration grants the parent's role states:StopExecution on the children for that; the
stop is made as that role, so a role without it is refused as AWS would refuse it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from unittest import mock

import boto3
import botocore.session
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.backend import execution as backend_execution

from local_engine.authorization import Authorization, acting_as
from local_engine.clock import ClockEvent, VirtualClock
from local_engine.patching import PatchSet


def _named_as_the_api(original: Callable[..., Any]) -> Callable[..., Any]:
    """The Task's Parameters (StateMachineArn, Name, Input) as the API names them (stateMachineArn, name, input):
    moto hands them to the SDK as written, which no SDK accepts."""

    def _normalise_parameters(task: Any, parameters: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        original(task, parameters, *args, **kwargs)
        members = _input_members(task._get_boto_service_action())
        for key in list(parameters):
            member = members.get(key.lower())
            if member is not None and member != key:
                parameters[member] = parameters.pop(key)

    return _normalise_parameters


def _named_as_the_integration(original: Callable[..., Any]) -> Callable[..., Any]:
    """The answer as the optimized integration gives it: member names capitalized (ExecutionArn, Output,
    Status), as the developer guide's examples show them; moto leaves the SDK's (executionArn)."""

    def _normalise_response(task: Any, response: Any, *args: Any, **kwargs: Any) -> None:
        original(task, response, *args, **kwargs)
        if isinstance(response, dict):
            for key in list(response):
                response[key[:1].upper() + key[1:]] = response.pop(key)

    return _normalise_response


def _no_token_listener(original: Callable[..., Any]) -> Callable[..., Any]:
    """A .sync Task awaits the child's end only: moto also listens for a task token there, in a thread that
    waits outside the simulated clock and so would hold simulated time still."""

    def _eval_sync(task: Any, env: Any, sync_resolver: Any, timeout_seconds: Any, *_: Any, **__: Any) -> Any:
        return original(task, env, sync_resolver, timeout_seconds, None, None)

    return _eval_sync


def _input_members(operation_name: str) -> dict[str, str]:
    operation = (
        botocore.session.get_session()
        .get_service_model("stepfunctions")
        .operation_model("".join(part.title() for part in operation_name.split("_")))
    )
    return {name.lower(): name for name in operation.input_shape.members}


# Simulated seconds between two looks at whether the awaiting execution still runs: a parent that times out
# stops awaiting (and stops its children) within this long.
AWAKE_EVERY = 60


class NestedExecutions(PatchSet):
    """Awaited children, by the execution that awaits them; each execution's end, as a clock-aware event."""

    def __init__(self, clock: VirtualClock, authorization: Authorization) -> None:
        super().__init__()
        self._clock = clock
        self._authorization = authorization
        self._lock = threading.Lock()
        self._ends: dict[str, ClockEvent] = {}
        self._awaited: dict[str, set[str]] = {}  # parent execution ARN -> children it awaits
        self.stopped: list[tuple[str, str]] = []  # (parent, child) stopped at the parent's end, in order
        self.unstopped: list[tuple[str, str, str]] = []  # (parent, child, error code) a stop was refused for

    def _end(self, execution_arn: str) -> ClockEvent:
        with self._lock:
            return self._ends.setdefault(execution_arn, self._clock.Event())

    def _patches_to_apply(self) -> list[Any]:
        communication = backend_execution.BaseExecutionWorkerCommunication
        real_terminated = communication.terminated
        real_stop = backend_execution.Execution.stop
        nested = self

        def terminated(worker: Any) -> None:
            real_terminated(worker)
            nested._ended(worker.execution)

        def stop(execution: Any, *args: Any, **kwargs: Any) -> None:
            real_stop(execution, *args, **kwargs)
            nested._stop_awaited(execution)

        return [
            mock.patch.object(
                StateTaskServiceSfn,
                "_normalise_parameters",
                _named_as_the_api(StateTaskServiceSfn._normalise_parameters),
            ),
            mock.patch.object(
                StateTaskServiceSfn,
                "_normalise_response",
                _named_as_the_integration(StateTaskServiceSfn._normalise_response),
            ),
            mock.patch.object(
                StateTaskServiceSfn, "_build_sync_resolver", self._awaiting(StateTaskServiceSfn._build_sync_resolver)
            ),
            mock.patch.object(
                StateTaskServiceSfn,
                "_build_sync2_resolver",
                self._awaiting(StateTaskServiceSfn._build_sync2_resolver),
            ),
            mock.patch.object(StateTaskServiceSfn, "_eval_sync", _no_token_listener(StateTaskServiceSfn._eval_sync)),
            mock.patch.object(communication, "terminated", terminated),
            mock.patch.object(backend_execution.Execution, "stop", stop),
        ]

    def _awaiting(self, build: Callable[..., Any]) -> Callable[..., Any]:
        nested = self

        def build_resolver(task: Any, env: Any, *args: Any, **kwargs: Any) -> Callable[[], Any]:
            child = env.stack[-1]["ExecutionArn"]  # StartExecution's answer, which the real resolver pops
            parent = env.states.context_object.context_object_data["Execution"]["Id"]
            with nested._lock:
                nested._awaited.setdefault(parent, set()).add(child)
            resolve = build(task, env, *args, **kwargs)
            ended = nested._end(child)

            def resolve_at_the_end() -> Any:
                while not ended.wait(timeout=AWAKE_EVERY):
                    if not env.is_running():  # the parent timed out or was stopped meanwhile
                        return None
                return resolve()

            return resolve_at_the_end

        return build_resolver

    def _ended(self, execution: Any) -> None:
        self._end(execution.exec_arn).set()
        self._stop_awaited(execution)

    def _stop_awaited(self, execution: Any) -> None:
        """Stop the children `execution` awaits, as its role (it is stopped, or has ended)."""
        arn = execution.exec_arn
        with self._lock:
            children = sorted(self._awaited.pop(arn, set()))
        running = [child for child in children if not self._end(child).is_set()]
        if not running:
            return
        region = arn.split(":")[3]
        client = boto3.client("stepfunctions", region_name=region)
        with acting_as(self._authorization.role_of(execution.state_machine_arn), execution.name):
            for child in running:
                try:
                    client.stop_execution(executionArn=child)
                except ClientError as error:  # refused (the role may not stop it): the child runs on, as on AWS
                    self.unstopped.append((arn, child, error.response["Error"]["Code"]))
                    continue
                self.stopped.append((arn, child))
