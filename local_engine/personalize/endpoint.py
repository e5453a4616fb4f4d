"""Serve a PersonalizeEmulator through moto's Personalize endpoint.

moto routes every ``personalize`` request (from any boto3 client created
under ``mock_aws()``, including the ones moto's Step Functions interpreter
builds for ``aws-sdk:personalize:*`` tasks) to
``PersonalizeResponse.dispatch``, which looks up a method named after the
action (``DescribeCampaign`` -> ``describe_campaign``) on the response class.
``serve`` adds one such method per emulated operation for the duration of the
context and removes them afterwards; moto's own schema methods are untouched.
For the same duration, an emulator given no object store of its own reads
import data from moto's S3 (``MotoS3``), so a test that puts CSV objects in a
moto bucket gets imports that behave by them.

Making the interpreter itself behave like real Step Functions (PascalCase
parameters and responses, ``Personalize.<Code>`` error names) is
``local_engine.sdk_adapter``'s job, not this module's.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from moto.core.exceptions import JsonRESTError
from moto.core.utils import camelcase_to_underscores
from moto.personalize.responses import PersonalizeResponse
from moto.s3.models import FakeKey, s3_backends

from ..authorization import acting_as
from .emulator import PersonalizeEmulator
from .errors import PersonalizeError
from .imports import StoredObject


@contextmanager
def serve(emulator: PersonalizeEmulator) -> Iterator[PersonalizeEmulator]:
    """Route moto's Personalize operations that ``emulator`` implements to it.

    Use inside an active ``moto.mock_aws()``. Requests from any account or
    region reach the same emulator. Nesting ``serve`` calls lets the innermost
    emulator win until it exits. Unless it has its own object store, the
    emulator reads import data from moto's S3 until the context exits.
    """
    with ExitStack() as stack:
        if emulator.object_store is None:
            emulator.use_object_store(MotoS3())
            stack.callback(emulator.use_object_store, None)
        for operation in emulator.operations:
            stack.enter_context(
                mock.patch.object(
                    PersonalizeResponse,
                    camelcase_to_underscores(operation),
                    _handler(emulator, operation),
                    create=True,
                )
            )
        yield emulator


class MotoS3:
    """moto's S3 as an ``imports.ObjectStore``: the buckets of every account
    and partition, which share one namespace as real S3 buckets do. Import
    jobs read it directly, as Personalize reads S3 with its service role;
    bucket policies and the role's permissions are not checked."""

    def list_objects(self, bucket: str, prefix: str) -> Sequence[StoredObject] | None:
        located = s3_backends.bucket_accounts.get(bucket)
        if located is None:
            return None
        partition, account_id = located
        backend = s3_backends[account_id][partition]
        fake_bucket = backend.buckets.get(bucket)
        if fake_bucket is None:
            return None
        keys, _, _, _ = backend.list_objects(fake_bucket, prefix or None, None, None, None)
        return [StoredObject(key.name, key.size, _reader(key)) for key in keys]


def _reader(key: FakeKey) -> Callable[[], bytes]:
    return lambda: bytes(key.value)


def _handler(emulator: PersonalizeEmulator, operation: str) -> Callable[[PersonalizeResponse], str]:
    def handle(response: PersonalizeResponse) -> str:
        params = _parse_body(response.body)
        try:
            # Personalize answers as itself: what runs inside it (a fault or a test's hook) is not its caller.
            with acting_as(None):
                result = emulator.call(operation, params)
        except PersonalizeError as error:
            raise _ServiceError(error) from error
        return json.dumps(result, default=_json_default)

    handle.__name__ = camelcase_to_underscores(operation)
    return handle


class _ServiceError(JsonRESTError):
    """Renders ``{"__type", "message"}`` like any JsonRESTError, but with the
    error's own HTTP status (moto sends an HTTPException's ``code`` as the
    status). botocore maps ``__type`` onto ``client.exceptions.<__type>`` when
    the model defines it, else a plain ClientError, and its retry handlers
    look at the code and the status."""

    def __init__(self, error: PersonalizeError) -> None:
        super().__init__(error.code, error.message)
        self.code = error.http_status


def _parse_body(body: Any) -> Any:
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if not body:
        return {}
    try:
        return json.loads(body)
    except ValueError as error:
        raise JsonRESTError("SerializationException", f"Request body is not valid JSON: {error}") from error


def _json_default(value: Any) -> Any:
    # The JSON protocol sends timestamps as epoch seconds.
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    raise TypeError(f"cannot serialize {type(value).__name__}")
