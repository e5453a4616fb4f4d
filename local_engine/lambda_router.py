"""Run registered Lambda functions as in-process Python handlers under moto.

moto's Lambda either needs Docker or answers with canned payloads. The router
intercepts moto's backend ``invoke`` (reached both by the state machine's
``arn:aws:states:::lambda:invoke`` tasks and by plain boto3 clients), and for
a registered function calls the Python handler the way the Lambda runtime
would: with the function's environment applied, a context object, and an
unhandled exception turned into ``FunctionError: Unhandled`` plus the
runtime's error payload, so Step Functions sees the exception class name as
the error name.

An asynchronous invocation (``InvocationType=Event``, as EventBridge invokes a
target) is handled as Lambda handles it: the caller gets 202 and no payload,
an error is retried as the function's EventInvokeConfig says (twice when it
has none), and an event that failed every attempt goes, as Lambda's invocation
record, to the function's on-failure destination, or is discarded when it has
none (``LambdaRouter.failed_events`` keeps each, for tests to read).
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import boto3
from botocore.exceptions import ClientError
from moto.awslambda.models import LambdaBackend
from moto.awslambda_simple.models import LambdaSimpleBackend

from local_engine.authorization import acting_as
from local_engine.patching import PatchSet

Handler = Callable[[dict, Any], Any]

_DEFAULT_TIMEOUT_S = 3
_DEFAULT_MEMORY_MB = 128
# How often Lambda retries an asynchronous invocation that returned an error, unless configured otherwise.
DEFAULT_ASYNC_RETRY_ATTEMPTS = 2


@dataclass(frozen=True)
class _Route:
    handler: Handler
    environment: dict[str, str]


@dataclass
class LambdaContext:
    """The subset of the Python runtime's context object handlers rely on."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/[{self.function_version}]{self.aws_request_id}"
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class FailedEvent:
    """An asynchronous invocation that failed every attempt: Lambda's record of it, and where that went."""

    record: dict[str, Any]
    destination: str | None  # the on-failure destination's ARN; None: the event was discarded
    delivery_error: str | None = None  # why the record could not be sent (AWS counts DestinationDeliveryFailures)


def function_name_of(name_or_arn: str) -> str:
    """``arn:aws:lambda:r:a:function:NAME[:qualifier]`` or ``NAME`` -> ``NAME``."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn.split(":")[6]
    return name_or_arn.split(":")[0]


def invocation_record(
    *, function_arn: str, request_id: str, event: Any, error: Any, attempts: int, at: datetime
) -> dict[str, Any]:
    """What Lambda sends an on-failure destination once an asynchronous invocation's retries are exhausted
    (Lambda developer guide, "Capturing records of Lambda asynchronous invocations")."""
    return {
        "version": "1.0",
        "timestamp": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{_qualified_arn(function_arn, None)}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": error,
    }


def unhandled_error_payload(error: BaseException, request_id: str) -> dict[str, Any]:
    """What the Python runtime returns for an exception escaping the handler."""
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


class LambdaRouter(PatchSet):
    """Routes moto Lambda ``Invoke`` calls of registered functions to Python handlers."""

    def __init__(
        self,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        lock: Callable[[], AbstractContextManager[Any]] = threading.RLock,
    ) -> None:
        """`now`: the time an invocation record is stamped with; `lock`: the kind of lock invocations take
        turns with (the engine's clock-aware one, so a handler may sleep on the clock while others wait)."""
        self._routes: dict[str, _Route] = {}
        # os.environ is process-wide: one invocation may own it at a time.
        # Re-entrant so a handler may synchronously invoke another function.
        self._environ_lock = lock()
        self._now = now
        self.failed_events: list[FailedEvent] = []
        super().__init__()

    # -- registration ---------------------------------------------------

    def register(
        self,
        function_name_or_arn: str,
        handler: Handler,
        environment: dict[str, str] | None = None,
    ) -> None:
        self._routes[function_name_of(function_name_or_arn)] = _Route(handler, dict(environment or {}))

    def unregister(self, function_name_or_arn: str) -> None:
        self._routes.pop(function_name_of(function_name_or_arn), None)

    def environment_of(self, function_name_or_arn: str) -> dict[str, str]:
        """The variables an invocation of the function runs with (its own, the runtime's)."""
        return dict(self._routes[function_name_of(function_name_or_arn)].environment)

    def is_routed(self, function_name_or_arn: str) -> bool:
        return function_name_of(function_name_or_arn) in self._routes

    # -- install / uninstall --------------------------------------------

    def _patches_to_apply(self) -> list[Any]:
        # Both backends: moto picks the simple one when Docker is disabled,
        # and it overrides invoke().
        return [
            mock.patch.object(backend, "invoke", self._make_invoke(backend.invoke))
            for backend in (LambdaBackend, LambdaSimpleBackend)
        ]

    # -- invocation -----------------------------------------------------

    def _make_invoke(self, original: Callable[..., Any]) -> Callable[..., Any]:
        router = self

        def invoke(
            backend: LambdaBackend,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> str | bytes | None:
            route = router._routes.get(function_name_of(function_name))
            if route is None:
                return original(backend, function_name, qualifier, body, headers, response_headers)
            # Raises moto's ResourceNotFound like the real service when the
            # caller never created the function.
            function = backend.get_function(function_name, qualifier)
            return router._invoke(function, qualifier, route, body, headers, response_headers)

        return invoke

    def _invoke(
        self,
        function: Any,
        qualifier: str | None,
        route: _Route,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> bytes:
        invocation_type = _header(headers, "X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            # Lambda queues the event and answers 202 at once; here it runs before the answer.
            self._run_queued(function, route, _decode_event(body))
            response_headers["Content-Length"] = "0"
            return b""
        payload, failed = self._run_as_function(function, route, _decode_event(body), _context(function, qualifier))
        if failed:
            response_headers["x-amz-function-error"] = "Unhandled"
        if _header(headers, "X-Amz-Log-Type") == "Tail":
            response_headers["x-amz-log-result"] = base64.b64encode(b"").decode()
        response_headers["Content-Length"] = str(len(payload))
        return payload

    def _run_as_function(self, function: Any, route: _Route, event: Any, context: LambdaContext) -> tuple[bytes, bool]:
        # The handler's own calls are made with its function's role, as its credentials on AWS.
        with acting_as(getattr(function, "role", None), function.function_name):
            return self._run_handler(route, event, context)

    def _run_queued(self, function: Any, route: _Route, event: Any) -> None:
        """An asynchronous invocation, as Lambda runs it from the function's event queue.

        An error is retried up to MaximumRetryAttempts times, all attempts under one request id. Lambda waits
        about a minute before the first retry and two before the second; here they follow at once, so that a
        run stays deterministic (nothing in the pipeline depends on the wait). An event whose every attempt
        failed goes, as Lambda's invocation record, to the on-failure destination, sent with the function's
        role; with none, Lambda discards it. Events that age out in the queue (MaximumEventAgeInSeconds: a
        throttled function) cannot happen here: nothing is throttled.
        """
        settings = _event_invoke_config(function)
        attempts = 1 + int(settings.get("MaximumRetryAttempts", DEFAULT_ASYNC_RETRY_ATTEMPTS))
        request_id = str(uuid.uuid4())
        for _ in range(attempts):
            context = _context(function, None, request_id=request_id)
            payload, failed = self._run_as_function(function, route, event, context)
            if not failed:
                return
        record = invocation_record(
            function_arn=function.function_arn,
            request_id=request_id,
            event=event,
            error=json.loads(payload),
            attempts=attempts,
            at=self._now(),
        )
        destination = settings.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination") or None
        error = _send_record(function, destination, record) if destination else None
        self.failed_events.append(FailedEvent(record, destination, error))

    def _run_handler(self, route: _Route, event: Any, context: LambdaContext) -> tuple[bytes, bool]:
        with self._environ_lock, _applied_environment(route.environment):
            try:
                result = route.handler(event, context)
            except Exception as error:  # the runtime reports, it does not crash
                return _json_bytes(unhandled_error_payload(error, context.aws_request_id)), True
        try:
            return _json_bytes(result), False
        except (TypeError, ValueError) as error:
            payload = {
                "errorMessage": f"Unable to marshal response: {error}",
                "errorType": "Runtime.MarshalError",
                "requestId": context.aws_request_id,
                "stackTrace": [],
            }
            return _json_bytes(payload), True


def _context(function: Any, qualifier: str | None, *, request_id: str | None = None) -> LambdaContext:
    return LambdaContext(
        function_name=function.function_name,
        invoked_function_arn=_qualified_arn(function.function_arn, qualifier),
        memory_limit_in_mb=int(getattr(function, "memory_size", None) or _DEFAULT_MEMORY_MB),
        timeout_s=int(getattr(function, "timeout", None) or _DEFAULT_TIMEOUT_S),
        aws_request_id=request_id or str(uuid.uuid4()),
    )


def _event_invoke_config(function: Any) -> dict[str, Any]:
    """The function's asynchronous invocation settings (PutFunctionEventInvokeConfig), {} when it has none."""
    configs = getattr(function, "event_invoke_config", None) or []
    return dict(configs[0].config) if configs else {}


def _send_record(function: Any, queue_arn: str, record: dict[str, Any]) -> str | None:
    """Send the invocation record to an SQS destination as Lambda does, with the function's role (which needs
    sqs:SendMessage on the queue); why it could not be sent, if it could not."""
    _, _, _, region, account, name = queue_arn.split(":", 5)
    sqs = boto3.client("sqs", region_name=region)
    with acting_as(None):  # Lambda finds the queue itself
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    try:
        with acting_as(getattr(function, "role", None), function.function_name):
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))
    except ClientError as error:
        return str(error)
    return None


@contextmanager
def _applied_environment(environment: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(environment)
    try:
        yield
    finally:
        # Key by key, never clear(): other threads (moto, boto3 clients in a
        # parallel branch) read credentials from os.environ meanwhile.
        for key in set(os.environ) - set(saved):
            os.environ.pop(key, None)
        for key, value in saved.items():
            if os.environ.get(key) != value:
                os.environ[key] = value


def _decode_event(body: Any) -> Any:
    if body is None or body == b"" or body == "":
        return {}
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8")
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        return body


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return value


def _qualified_arn(function_arn: str, qualifier: str | None) -> str:
    unqualified = ":".join(function_arn.split(":")[:7])
    if not qualifier or qualifier == "$LATEST":
        return unqualified
    return f"{unqualified}:{qualifier}"
