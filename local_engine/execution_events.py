"""Step Functions' "Execution Status Change" events on the embedded AWS.

AWS puts one on the default event bus each time an execution changes status (EventBridge user
guide, "Step Functions events"); the pipeline relies on them to record executions that end
without running their own Catch (a timeout, an operator's stop, an uncatchable error). moto emits
none. :class:`ExecutionStatusEvents` publishes one, shaped as AWS documents it, whenever an
execution ends, so the rules of the synthesized stack see it and deliver it to their targets.

A test that reads the run table right after an execution ends must not race the delivery, so the
harness waits for the announcement (:meth:`wait_announced`, see ``LocalAws.wait_for_execution``).
AWS delivers these events best effort: :meth:`lose` makes the next ends go unannounced on the bus
(the harness still learns that they ended).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any
from unittest import mock

from moto.events.models import events_backends
from moto.stepfunctions.parser.backend import execution as backend_execution

from local_engine.patching import PatchSet

DETAIL_TYPE = "Step Functions Execution Status Change"


def _epoch_millis(moment: Any) -> int | None:
    return int(moment.timestamp() * 1000) if isinstance(moment, datetime) else None


def status_change_detail(execution: Any) -> dict[str, Any]:
    """The event's detail, with AWS's field names (dates in epoch milliseconds, input/output as text)."""
    output = execution.output
    return {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": execution.exec_status.value,
        "startDate": _epoch_millis(execution.start_date),
        "stopDate": _epoch_millis(execution.stop_date),
        "input": json.dumps(execution.input_data),
        "output": None if output is None else json.dumps(output),
        "inputDetails": {"included": True},
        "outputDetails": {"included": True} if output is not None else None,
        "error": execution.error,
        "cause": execution.cause,
    }


class ExecutionStatusEvents(PatchSet):
    """Announces every execution's end on its account's default bus."""

    def __init__(self) -> None:
        super().__init__()
        self._announced: set[str] = set()
        self._lock = threading.Condition(threading.Lock())
        self._to_lose = 0
        self.lost: list[str] = []  # the executions whose end event was lost, in order

    def lose(self, count: int = 1) -> None:
        """The next `count` executions to end put no status change event on the bus."""
        with self._lock:
            self._to_lose += count

    def announced(self, execution_arn: str) -> bool:
        with self._lock:
            return execution_arn in self._announced

    def wait_announced(self, execution_arn: str, timeout_s: float) -> bool:
        """Block (wall time) until the execution's end has been announced, or `timeout_s` has passed.

        A waiter that polled the service instead would take the interpreter's lock away from the
        very threads it waits for, many times per state transition.
        """
        with self._lock:
            return self._lock.wait_for(lambda: execution_arn in self._announced, timeout=timeout_s)

    def _patches_to_apply(self) -> list[Any]:
        communication = backend_execution.BaseExecutionWorkerCommunication
        real_terminated = communication.terminated
        events = self

        def terminated(self: Any) -> None:
            real_terminated(self)
            execution = self.execution
            with events._lock:
                lost = events._to_lose > 0
                if lost:
                    events._to_lose -= 1
                    events.lost.append(execution.exec_arn)
            try:
                if not lost:
                    events_backends[execution.account_id][execution.region_name].put_events(
                        [
                            {
                                "Source": "aws.states",
                                "DetailType": DETAIL_TYPE,
                                "Detail": json.dumps(status_change_detail(execution)),
                                "Resources": [execution.exec_arn],
                            }
                        ]
                    )
            finally:
                with events._lock:
                    events._announced.add(execution.exec_arn)
                    events._lock.notify_all()

        return [mock.patch.object(communication, "terminated", terminated)]
