"""Fault injection for the AWS services moto itself serves (DynamoDB, SNS, Lambda, ...).

``ServiceFaults.fail(service, operation, code)`` makes the next calls of one operation answer
with an error, before moto does anything, exactly as the service would put it on the wire: a
JSON body ``{"__type": code, "message": ...}`` with the HTTP status the code has on AWS. botocore
then turns it into the same exception a real answer would give (a modeled class, or a plain
``ClientError`` for a code the model does not define), and the Step Functions integrations name
it as on AWS (see strictness.py). ``ServiceFaults.answer`` gives a successful answer of its own
instead, for a call that succeeds on the wire and still reports a failure (PutEvents answers 200
with ``FailedEntryCount`` above 0). The Personalize emulator has faults of its own
(``emulator.faults``).
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any
from unittest import mock

from moto.core.responses import BaseResponse

from local_engine.patching import PatchSet

# HTTP statuses of the codes tests inject (AWS's common errors and DynamoDB's error table);
# any other code answers 400.
DEFAULT_STATUS = {
    "InternalServerError": 500,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
    "ServiceException": 500,
    "TooManyRequestsException": 429,
}


@dataclass
class _Fault:
    service: str
    operation: str
    code: str
    status: int
    remaining: int
    body_contains: str | None
    answer: dict[str, Any] | None = None  # a 200 answer with this body instead of an error


class ServiceFaults(PatchSet):
    """Registered faults for moto-served operations; install once, register any time."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self.injected: list[tuple[str, str, str]] = []

    def fail(
        self,
        service: str,
        operation: str,
        code: str,
        *,
        times: int = 1,
        status: int | None = None,
        body_contains: str | None = None,
    ) -> None:
        """The next ``times`` calls of ``operation`` (e.g. "UpdateItem") on ``service`` (moto's
        service name, e.g. "dynamodb") answer ``code``; with ``body_contains``, only the calls whose
        request body contains that text (one state's write among many, say)."""
        if times < 1:
            raise ValueError("times must be at least 1")
        fault = _Fault(service, operation, code, status or DEFAULT_STATUS.get(code, 400), times, body_contains)
        with self._lock:
            self._faults.append(fault)

    def answer(
        self, service: str, operation: str, body: dict[str, Any], *, times: int = 1, body_contains: str | None = None
    ) -> None:
        """The next ``times`` calls of ``operation`` answer HTTP 200 with ``body``, before moto does anything."""
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(_Fault(service, operation, "Answered", 200, times, body_contains, body))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take(self, service: str, operation: str, body: str) -> _Fault | None:
        def matches(f: _Fault) -> bool:
            return (f.service, f.operation) == (service, operation) and (f.body_contains or "") in body

        with self._lock:
            fault = next((f for f in self._faults if matches(f)), None)
            if fault is None:
                return None
            fault.remaining -= 1
            if fault.remaining == 0:
                self._faults.remove(fault)
            self.injected.append((service, operation, fault.code))
            return fault

    def _patches_to_apply(self) -> list[Any]:
        real_call_action = BaseResponse.call_action
        faults = self

        def call_action(response: BaseResponse) -> Any:
            body = response.body.decode() if isinstance(response.body, bytes) else str(response.body or "")
            fault = faults._take(str(response.service_name), response._get_action(), body)
            if fault is None:
                return real_call_action(response)
            if fault.answer is not None:
                return 200, {"status": 200, "x-amzn-RequestId": str(uuid.uuid4())}, json.dumps(fault.answer)
            body = json.dumps({"__type": fault.code, "message": f"Injected {fault.code} for {fault.operation}"})
            headers = {"status": fault.status, "x-amzn-ErrorType": fault.code, "x-amzn-RequestId": str(uuid.uuid4())}
            return fault.status, headers, body

        return [mock.patch.object(BaseResponse, "call_action", call_action)]
