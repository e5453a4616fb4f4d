"""Where moto's Step Functions interpreter is more forgiving than AWS, make it as strict as AWS.

A test that passes only because the embedded engine is lenient proves nothing about the first
real refresh, so each rule here follows AWS's documentation (Step Functions developer guide,
"Handling errors in Step Functions workflows" and "Step Functions service quotas"):

* **Uncatchable errors.** ``States.ALL`` "cannot catch the States.DataLimitExceeded terminal error
  or the Runtime error type", and a ``States.Runtime`` error "isn't retriable, and will always
  cause the execution to fail". moto's matcher lets ``States.ALL`` catch and retry both. Here
  neither is matched by any Retry or Catch, so the whole execution fails, as on AWS.
* **Errors that leave a Map iteration or a Parallel branch** keep their ``States.*`` names
  (moto crashed on them, and its crash was then caught as if it were an ordinary error).
* **Choice rules on a path that is not there.** AWS fails the execution with ``States.Runtime``
  ("Invalid path ...: The choice state's condition path references an invalid value"); moto
  silently treats the rule as false. Only ``IsPresent`` may test a missing path.
* **Execution history quota.** A Standard execution fails when its history reaches 25,000
  events; moto lets it grow without bound. Here the execution fails with ``States.Runtime``
  when the quota is reached (AWS's documentation names no error for this end; ``States.Runtime``
  is the uncatchable end it most resembles). The limit is a parameter so that tests can reach
  it in seconds; its default is AWS's.
* **Error names of the optimized integrations.** ``DynamoDB.<Exception>``, ``Lambda.<Exception>``
  and ``EventBridge.<Exception>`` with AWS's spelling (see :func:`optimized_error_name`). moto
  turns an error answer to ``events:putEvents`` into ``States.Runtime``, which would end the
  execution uncaught; on AWS it is a task failure that Retry and Catch receive.
* **Timestamps in Choice rules** are RFC 3339, fractional seconds and offsets allowed, as AWS's
  Choice documentation says ("2016-03-14T01:59:00.123Z" is one); moto reads only whole seconds
  and silently judges every other timestamp rule false, so a deadline would never pass.
* **StopExecution ends an execution ABORTED**, with the error and cause the operator gave. moto's
  interpreter crashes on a stop that arrives while a Map runs and reports the execution FAILED.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime
from typing import Any
from unittest import mock

from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import (
    ExecutionFailedEventDetails,
    HistoryEventType,
    TaskFailedEventDetails,
)
from moto.stepfunctions.parser.asl.component.common.error_name import error_equals_decl
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.choice.comparison import comparison_variable
from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_operator_type import (
    ComparisonOperatorType,
)
from moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.is_operator import (
    IsTimestamp,
)
from moto.stepfunctions.parser.asl.component.state.choice.comparison.variable import NoSuchVariable
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import iteration_worker
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_dynamodb,
    state_task_service_events,
    state_task_service_lambda,
    state_task_service_sfn,
)
from moto.stepfunctions.parser.asl.eval import environment
from moto.stepfunctions.parser.asl.eval.event import event_manager
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.program_state import ProgramError
from moto.stepfunctions.parser.backend import execution as backend_execution
from moto.stepfunctions.responses import StepFunctionResponse

from local_engine.patching import PatchSet
from local_engine.sdk_adapter import modeled_error_codes

# Step Functions service quotas: "Execution history: 25,000 events" for Standard workflows.
HISTORY_EVENT_QUOTA = 25_000

UNCATCHABLE = frozenset({StatesErrorNameType.StatesRuntime, StatesErrorNameType.StatesStatesDataLimitExceeded})

# The optimized integrations name an error after the exception class of the SDK Step Functions
# uses: the error shape's name with "Exception" appended where it lacks it (DynamoDB's
# "RequestLimitExceeded" is DynamoDB.RequestLimitExceededException, as the SDK integration
# guide says for every service), and the service's base exception class for a code its model
# does not define (a throttle or 5xx DynamoDB does not model is DynamoDB.AmazonDynamoDBException).
_OPTIMIZED_INTEGRATIONS = {
    "dynamodb": ("DynamoDB", "AmazonDynamoDBException"),
    "lambda": ("Lambda", "AWSLambdaException"),
    "events": ("EventBridge", "AmazonEventBridgeException"),
    "stepfunctions": ("StepFunctions", "AWSStepFunctionsException"),
}


def is_uncatchable(error_name: Any) -> bool:
    return isinstance(error_name, StatesErrorName) and error_name.typ in UNCATCHABLE


def error_name_of(error_name: str) -> ErrorName:
    """The interpreter's error object for an error reported by name: a ``States.*`` name stays one."""
    if error_name.startswith("States."):
        try:
            return StatesErrorName.from_name(error_name)
        except ValueError:
            pass
    return CustomErrorName(error_name)


def optimized_error_name(service_name: str, error_code: str) -> str:
    prefix, base_exception = _OPTIMIZED_INTEGRATIONS[service_name]
    if error_code not in modeled_error_codes(service_name):
        return f"{prefix}.{base_exception}"
    suffix = "" if error_code.endswith("Exception") else "Exception"
    return f"{prefix}.{error_code}{suffix}"


def runtime_failure(env: Any, cause: str) -> FailureEventException:
    error = StatesErrorNameType.StatesRuntime.to_name()
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=StatesErrorNameType.StatesRuntime),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(  # type: ignore[typeddict-item]  # moto declares every key required
                taskFailedEventDetails=TaskFailedEventDetails(error=error, cause=cause)
            ),
        )
    )


# -- Retry and Catch -------------------------------------------------------------------------------


def _error_equals_eval_body(original: Any) -> Any:
    def _eval_body(self: Any, env: Any) -> None:
        if is_uncatchable(env.stack[-1]):
            env.stack.pop()
            env.stack.append(False)
            return
        original(self, env)

    return _eval_body


# -- Choice rules ------------------------------------------------------------------------------------


def _comparison_variable_eval_body(self: Any, env: Any) -> None:
    self.variable.eval(env)
    value = env.stack[-1]
    if isinstance(value, NoSuchVariable) and self.comparison_function.operator_type != ComparisonOperatorType.IsPresent:
        env.stack.pop()
        path = self.variable.string_sampler.literal_value
        raise runtime_failure(
            env, f"Invalid path '{path}': The choice state's condition path references an invalid value."
        )
    self.comparison_function.eval(env)


# -- Timestamps ------------------------------------------------------------------------------------

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def rfc3339_timestamp(text: Any) -> datetime | None:
    if not isinstance(text, str) or not _RFC3339.match(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


# -- Execution history quota -----------------------------------------------------------------------


class _QuotaEventManager(event_manager.EventManager):
    """moto's EventManager that ends its execution when the history reaches the quota."""

    limit = HISTORY_EVENT_QUOTA

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_quota_reached: Any = None
        self._count = 0
        self._count_lock = threading.Lock()

    def add_event(self, *args: Any, **kwargs: Any) -> int:
        event_id = super().add_event(*args, **kwargs)
        with self._count_lock:
            self._count += 1
            # One place is left for the ExecutionFailed event itself.
            reached = self._count == self.limit - 1
        if reached and self.on_quota_reached is not None:
            self.on_quota_reached()
        return int(event_id)


def _environment_init(original: Any) -> Any:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        manager = self.event_manager
        if isinstance(manager, _QuotaEventManager):
            # Frames replace this manager with their execution's, so only the execution's own
            # environment is ever called back.
            manager.on_quota_reached = lambda: self.set_error(
                ExecutionFailedEventDetails(
                    error=StatesErrorNameType.StatesRuntime.to_name(),
                    cause=f"The execution reached the maximum number of history events ({manager.limit}).",
                )
            )

    return __init__


def _first_error_wins(original: Any) -> Any:
    """Once an execution has failed, a later error (a branch winding down) does not replace the first."""

    def set_error(self: Any, error: Any) -> None:
        if isinstance(self._program_state, ProgramError):
            return
        original(self, error)

    return set_error


# -- Error names of the optimized integrations ------------------------------------------------------


def _named_like_aws(service_name: str, original: Any) -> Any:
    def _error_cause_from_client_error(client_error: Any) -> tuple[str, str]:
        _, cause = original(client_error)
        return optimized_error_name(service_name, client_error.response["Error"]["Code"]), cause

    return staticmethod(_error_cause_from_client_error)


def _errors_named_like_aws(service_name: str, original: Any) -> Any:
    """moto names no error answer of the events integration (EventBridge.FailedEntry aside): it
    becomes States.Runtime; it names the Step Functions integration's errors with "Exception" appended
    to every code (StepFunctions.AccessDeniedExceptionException). AWS reports either as a task failure
    named like the other optimized integrations' errors."""

    def _from_error(self: Any, env: Any, ex: Exception) -> FailureEvent:
        if not isinstance(ex, ClientError):
            return original(self, env, ex)
        error = optimized_error_name(service_name, ex.response["Error"]["Code"])
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(  # type: ignore[typeddict-item]  # moto declares every key required
                taskFailedEventDetails=TaskFailedEventDetails(
                    error=error,
                    cause=ex.response["Error"].get("Message", ""),
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                )
            ),
        )

    return _from_error


# -- StopExecution ------------------------------------------------------------------------------------


def _remember_the_stop(original: Any) -> Any:
    def stop(self: Any, stop_date: Any, error: str | None, cause: str | None) -> None:
        if getattr(self, "operator_stop", None) is None:
            self.operator_stop = (error or None, cause or None)
        original(self, stop_date, error, cause)

    return stop


def _stop_keeps_error_and_cause(original: Any) -> Any:
    """moto's StopExecution handler drops the request's error and cause; AWS reports them."""

    def stop_execution(self: Any) -> Any:
        arn = self._get_param("executionArn")
        machine = self.stepfunction_backend._get_state_machine_for_execution(arn)
        for execution in machine.executions:
            if execution.execution_arn == arn and getattr(execution, "operator_stop", None) is None:
                execution.operator_stop = (self._get_param("error"), self._get_param("cause"))
        return original(self)

    return stop_execution


def _stopped_means_aborted(original: Any) -> Any:
    def _reflect_execution_status(self: Any) -> None:
        original(self)
        stop = getattr(self.execution, "operator_stop", None)
        if stop is not None:
            self.execution.exec_status = backend_execution.ExecutionStatus.ABORTED
            self.execution.error, self.execution.cause = stop

    return _reflect_execution_status


class StrictStepFunctions(PatchSet):
    """Every rule above, installed on moto's interpreter together."""

    def __init__(self, *, history_event_quota: int = HISTORY_EVENT_QUOTA) -> None:
        super().__init__()
        if history_event_quota < 3:
            raise ValueError("the history quota must leave room for an execution's first and last events")
        self.history_event_quota = history_event_quota

    def _patches_to_apply(self) -> list[Any]:
        decl = error_equals_decl.ErrorEqualsDecl
        env_class = environment.Environment
        dynamodb_task = state_task_service_dynamodb.StateTaskServiceDynamoDB
        lambda_task = state_task_service_lambda.StateTaskServiceLambda
        events_task = state_task_service_events.StateTaskServiceEvents
        sfn_task = state_task_service_sfn.StateTaskServiceSfn
        execution = backend_execution.Execution
        communication = backend_execution.BaseExecutionWorkerCommunication
        return [
            mock.patch.object(IsTimestamp, "string_to_timestamp", staticmethod(rfc3339_timestamp)),
            mock.patch.object(execution, "stop", _remember_the_stop(execution.stop)),
            mock.patch.object(
                StepFunctionResponse, "stop_execution", _stop_keeps_error_and_cause(StepFunctionResponse.stop_execution)
            ),
            mock.patch.object(
                communication,
                "_reflect_execution_status",
                _stopped_means_aborted(communication._reflect_execution_status),
            ),
            mock.patch.object(decl, "_eval_body", _error_equals_eval_body(decl._eval_body)),
            mock.patch.object(iteration_worker, "CustomErrorName", error_name_of),
            mock.patch.object(branches_decl, "CustomErrorName", error_name_of),
            mock.patch.object(comparison_variable.ComparisonVariable, "_eval_body", _comparison_variable_eval_body),
            mock.patch.object(_QuotaEventManager, "limit", self.history_event_quota),
            mock.patch.object(environment, "EventManager", _QuotaEventManager),
            mock.patch.object(env_class, "__init__", _environment_init(env_class.__init__)),
            mock.patch.object(env_class, "set_error", _first_error_wins(env_class.set_error)),
            mock.patch.object(
                dynamodb_task,
                "_error_cause_from_client_error",
                _named_like_aws("dynamodb", dynamodb_task._error_cause_from_client_error),
            ),
            mock.patch.object(
                lambda_task,
                "_error_cause_from_client_error",
                _named_like_aws("lambda", lambda_task._error_cause_from_client_error),
            ),
            mock.patch.object(events_task, "_from_error", _errors_named_like_aws("events", events_task._from_error)),
            mock.patch.object(sfn_task, "_from_error", _errors_named_like_aws("stepfunctions", sfn_task._from_error)),
        ]
