"""Fault injection for the Personalize emulator.

Two kinds of faults:

* job failures (``fail_job``): the next matching import job, solution version
  or campaign update is scheduled to end in ``CREATE FAILED`` with the given
  ``failureReason`` (or none at all) instead of ``ACTIVE``. The fault is
  consumed when the job is *created*, so register it before the Create/Update
  call; a job Personalize starts on its own (automatic training) takes only
  faults registered by its creation time.
* API errors (``raise_error``): the next ``times`` calls of an operation that
  reach the emulator raise the given error code before any other processing,
  with the HTTP status AWS sends it with, so that botocore's error mapping and
  retry handlers treat it as they would on AWS.
* missing fields (``omit_field``): answers of an operation lack a field. The
  API model marks no field of a describe answer as required, so a client that
  reads one without checking can meet its absence.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from .errors import CLIENT_ERROR_STATUS, PersonalizeError
from .lifecycle import Failure
from .validation import personalize_model

JobKind = Literal["import", "training", "deployment"]
JOB_KINDS: tuple[JobKind, ...] = ("import", "training", "deployment")

# Errors any AWS API may answer with that botocore's Personalize model does not
# define, and their HTTP status, from "Common Errors" in the Amazon Personalize
# API reference. They reach boto3 as a plain ClientError; botocore retries
# ThrottlingException by its code and 500/503 by their status.
COMMON_ERROR_STATUS: dict[str, int] = {
    "AccessDeniedException": 403,
    "ExpiredTokenException": 403,
    "IncompleteSignature": 403,
    "InternalFailure": 500,
    "MalformedHttpRequestException": 400,
    "NotAuthorized": 401,
    "OptInRequired": 403,
    "RequestAbortedException": 400,
    "RequestEntityTooLargeException": 413,
    "RequestTimeoutException": 408,
    "ServiceUnavailable": 503,
    "ThrottlingException": 400,
    "UnknownOperationException": 404,
    "UnrecognizedClientException": 403,
    "ValidationError": 400,
}


@dataclass
class JobFailure:
    kind: JobKind
    reason: str | None
    name: str | None
    registered: datetime.datetime


@dataclass
class OmittedField:
    operation: str
    path: tuple[str, ...]
    remaining: int | None  # None: every answer from now on


@dataclass
class ErrorFault:
    operation: str
    code: str
    message: str
    http_status: int
    remaining: int
    after: str | None = None  # only once this operation has been called


class Faults:
    """Registered faults; reached as ``emulator.faults``."""

    def __init__(
        self,
        lock: threading.RLock,
        operations: Iterable[str],
        now: Callable[[], datetime.datetime],
        called: Callable[[str], bool] = lambda _: False,
    ) -> None:
        self._lock = lock
        self._now = now
        self._called = called
        self._operations = frozenset(operations)
        self._job_failures: list[JobFailure] = []
        self._errors: list[ErrorFault] = []
        self._omitted: list[OmittedField] = []

    def fail_job(self, kind: JobKind, reason: str | None, name: str | None = None) -> None:
        """Make a future job of ``kind`` end in ``CREATE FAILED`` with ``reason``
        as its ``failureReason``; ``reason=None`` fails it with no
        ``failureReason`` at all (the key is left out of every response).

        ``kind`` and what ``name`` may be (``None`` = the next job of that kind):

        * ``"import"``: a dataset import ``jobName``, or a dataset ARN (the next
          import into that dataset);
        * ``"training"``: a solution version ``name`` (as passed to
          CreateSolutionVersion), or a solution ARN (its next version,
          automatic ones included);
        * ``"deployment"``: a campaign ARN or campaign name (its next
          UpdateCampaign).

        A named fault takes precedence over an unnamed one; each fault fails
        exactly one job.
        """
        if kind not in JOB_KINDS:
            raise ValueError(f"unknown job kind {kind!r}; expected one of {JOB_KINDS}")
        with self._lock:
            self._job_failures.append(JobFailure(kind, reason, name, self._now()))

    def raise_error(
        self,
        operation: str,
        error_code: str,
        *,
        times: int = 1,
        message: str | None = None,
        http_status: int | None = None,
        after: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``operation`` (botocore name, e.g.
        ``"CreateSolutionVersion"``) fail with ``error_code``; with ``after``,
        only the calls made once that operation has been called.

        A code the Personalize model defines (``"LimitExceededException"``...)
        is sent with HTTP 400 and surfaces as ``client.exceptions.<code>``.
        Any other code (``"ThrottlingException"``, ``"InternalFailure"``,
        ``"ServiceUnavailable"``...) surfaces as a plain ``ClientError`` whose
        ``Error.Code`` is the code, sent with the status AWS uses for it
        (``COMMON_ERROR_STATUS``; 400 for codes it does not list).
        ``http_status`` overrides the status either way.

        Mind botocore's retries: a default client (standard mode, 3 attempts;
        legacy mode, 5) retries throttling codes (``ThrottlingException``,
        ``LimitExceededException``...) and 5xx answers itself, each attempt
        consuming one injected error.
        """
        for name in (operation, after):
            if name is not None and name not in self._operations:
                raise ValueError(f"the emulator does not implement {name!r}")
        if times < 1:
            raise ValueError("times must be at least 1")
        if http_status is not None and not 400 <= http_status <= 599:
            raise ValueError(f"http_status {http_status} is not an error status (400-599)")
        status = http_status if http_status is not None else _status_for(error_code)
        text = message or f"Injected {error_code} for {operation}"
        with self._lock:
            self._errors.append(ErrorFault(operation, error_code, text, status, times, after))

    def omit_field(self, operation: str, *path: str, times: int | None = None) -> None:
        """Leave the field at ``path`` (response keys, e.g. ``"campaign",
        "latestCampaignUpdate"``) out of the next ``times`` answers of
        ``operation``, or of every answer when ``times`` is None."""
        if operation not in self._operations:
            raise ValueError(f"the emulator does not implement {operation!r}")
        if not path:
            raise ValueError("name the field to leave out")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._omitted.append(OmittedField(operation, path, times))

    def trim(self, operation: str, response: dict[str, Any]) -> dict[str, Any]:
        """``response`` without the fields the faults leave out of this answer."""
        with self._lock:
            for fault in [f for f in self._omitted if f.operation == operation]:
                *parents, name = fault.path
                holder: Any = response
                for key in parents:
                    holder = holder.get(key) if isinstance(holder, dict) else None
                if isinstance(holder, dict):
                    holder.pop(name, None)
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._omitted.remove(fault)
            return response

    def clear(self) -> None:
        """Forget every fault not yet consumed."""
        with self._lock:
            self._job_failures.clear()
            self._errors.clear()
            self._omitted.clear()

    def take_job_failure(
        self, kind: JobKind, names: Iterable[str | None], created: datetime.datetime
    ) -> Failure | None:
        """Consume the fault for a job created at ``created`` under any of
        ``names``; returns how it fails, or None when the job should succeed."""
        wanted = {n for n in names if n}
        with self._lock:
            candidates = [f for f in self._job_failures if f.kind == kind and f.registered <= created]
            chosen = next((f for f in candidates if f.name in wanted), None)
            if chosen is None:
                chosen = next((f for f in candidates if f.name is None), None)
            if chosen is None:
                return None
            self._job_failures.remove(chosen)
            return Failure(chosen.reason)

    def take_error(self, operation: str) -> PersonalizeError | None:
        with self._lock:
            fault = next(
                (f for f in self._errors if f.operation == operation and (f.after is None or self._called(f.after))),
                None,
            )
            if fault is None:
                return None
            fault.remaining -= 1
            if fault.remaining == 0:
                self._errors.remove(fault)
            return PersonalizeError(fault.code, fault.message, http_status=fault.http_status)


def _status_for(code: str) -> int:
    shape = next((s for s in personalize_model().error_shapes if s.name == code), None)
    if shape is not None:
        return int(shape.metadata.get("error", {}).get("httpStatusCode", CLIENT_ERROR_STATUS))
    return COMMON_ERROR_STATUS.get(code, CLIENT_ERROR_STATUS)
