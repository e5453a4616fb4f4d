"""Make moto's ``aws-sdk:*`` Task integration behave like real Step Functions.

moto hands the state's Parameters to boto3 untouched and returns boto3's
response untouched. Real Step Functions instead:

* takes PascalCase parameter names even for camelCase APIs (Personalize's
  ``datasetImportJobArn`` is written ``DatasetImportJobArn``),
* returns every structure member PascalCased (``DatasetImportJob.Status``),
  with timestamps as ISO-8601 strings in UTC, written as Java's ``Instant``
  writes them (see :func:`instant_text`),
* names errors ``<Service>.<Code>Exception`` (``Personalize.ResourceNotFoundException``), and
  ``<Service>.<Service>Exception`` for a code the service's model does not define (a throttle
  or a 5xx answer: ``Personalize.PersonalizeException``).

:class:`AwsSdkAdapter` restores that with botocore's service model, so a
state machine written for AWS runs unchanged on moto.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any
from unittest import mock

import botocore.session
from botocore.exceptions import ClientError, UnknownServiceError
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape
from botocore.response import StreamingBody
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk as moto_aws_sdk,
)

from local_engine.patching import PatchSet

_TaskClass = moto_aws_sdk.StateTaskServiceAwsSdk

# Step Functions spells these two differently from the SDK-client rule below.
_SERVICE_ERROR_PREFIX_OVERRIDES = {"stepfunctions": "Sfn", "sfn": "Sfn"}

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


# -- service model look-ups --------------------------------------------------


@cache
def service_model(service_name: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service_name)


@cache
def operation_model(service_name: str, api_action: str) -> OperationModel:
    """``describeSchema`` / ``DescribeSchema`` -> the operation's model."""
    model = service_model(service_name)
    wanted = api_action.replace("_", "").lower()
    for name in model.operation_names:
        if name.lower() == wanted:
            return model.operation_model(name)
    raise KeyError(f"{service_name} has no operation {api_action!r}")


def service_error_prefix(service_name: str) -> str:
    """The ``Personalize`` in ``Personalize.ResourceNotFoundException``.

    Derived from the model's serviceId the way the SDK names its clients
    (words PascalCased, spaces dropped): "Personalize" -> "Personalize",
    "ACM PCA" -> "AcmPca", "DynamoDB" -> "DynamoDb", as the AWS docs show.
    """
    override = _SERVICE_ERROR_PREFIX_OVERRIDES.get(service_name.lower())
    if override:
        return override
    service_id = service_model(service_name).service_id
    words = _WORD.findall(str(service_id))
    return "".join(word[:1].upper() + word[1:].lower() for word in words)


# -- request / response shape walking ------------------------------------------


def to_pascal(member_name: str) -> str:
    return member_name[:1].upper() + member_name[1:]


def to_sdk_request(value: Any, shape: Shape | None) -> Any:
    """PascalCase parameter names -> the operation's member names, recursively."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        by_pascal = {to_pascal(name): name for name in shape.members}
        converted = {}
        for key, item in value.items():
            member = key if key in shape.members else by_pascal.get(key)
            if member is None:
                converted[key] = item  # unknown: let the service reject it
            else:
                converted[member] = to_sdk_request(item, shape.members[member])
        return converted
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [to_sdk_request(item, shape.member) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: to_sdk_request(item, shape.value) for key, item in value.items()}
    return value


def to_sfn_response(value: Any, shape: Shape | None) -> Any:
    """boto3 response -> what Step Functions hands to the state's output."""
    if isinstance(value, dict):
        if isinstance(shape, StructureShape):
            return {
                to_pascal(key) if key in shape.members else key: to_sfn_response(item, shape.members.get(key))
                for key, item in value.items()
            }
        item_shape = shape.value if isinstance(shape, MapShape) else None
        return {key: to_sfn_response(item, item_shape) for key, item in value.items()}
    if isinstance(value, list):
        item_shape = shape.member if isinstance(shape, ListShape) else None
        return [to_sfn_response(item, item_shape) for item in value]
    return _to_sfn_scalar(value)


def _to_sfn_scalar(value: Any) -> Any:
    if isinstance(value, datetime):
        return instant_text(value)
    if isinstance(value, StreamingBody):
        value = value.read()
    if isinstance(value, (bytes, bytearray)):
        # JSON has no bytes; the service's own JSON wire format uses base64.
        return base64.b64encode(value).decode("ascii")
    return value


def iso8601_millis(moment: datetime) -> str:
    """Always with milliseconds: "2024-01-02T03:04:05.000Z"."""
    moment = _utc(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def instant_text(moment: datetime) -> str:
    """A timestamp as an aws-sdk integration puts it in the state's output: "2024-01-02T03:04:05.678Z", and
    "2024-01-02T03:04:05Z" when its milliseconds are zero.

    Step Functions runs these integrations on the AWS SDK for Java 2.x (its errors name the SDK's
    exceptions, such as ``SageMakerA2IRuntime.SdkClientException``), which holds a Timestamp member as an
    ``Instant``, and ``Instant.toString`` leaves out a fraction of zero; Step Functions writes
    ``$$.State.EnteredTime`` the same way. Personalize's timestamps have millisecond precision, so finer
    digits are dropped as the service would never send them. A reader of such a field must take both forms.
    """
    moment = _utc(moment)
    millis = moment.microsecond // 1000
    fraction = f".{millis:03d}" if millis else ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@cache
def modeled_error_codes(service_name: str) -> frozenset[str]:
    return frozenset(shape.error_code for shape in service_model(service_name).error_shapes)


def sfn_error_name(service_name: str, error_code: str) -> str:
    """The name Step Functions gives an aws-sdk task's error (developer guide, "Learning to use
    AWS service SDK integrations": ``ServiceName.ErrorName``, both PascalCase, with "Exception"
    appended even to codes like S3's "NoSuchKey"). A code the model does not define has no
    exception class of its own in the SDK, so it surfaces as the service's base exception."""
    prefix = service_error_prefix(service_name)
    if error_code not in modeled_error_codes(service_name):
        return f"{prefix}.{prefix}Exception"
    suffix = "" if error_code.endswith("Exception") else "Exception"
    return f"{prefix}.{error_code}{suffix}"


# -- the adapter ---------------------------------------------------------------------


def _operation_of(task: Any) -> OperationModel | None:
    try:
        return operation_model(task._get_boto_service_name(), task.resource.api_action)
    except (UnknownServiceError, KeyError):
        # Unknown to botocore: the call itself will fail with moto's error.
        return None


def _normalise_parameters(self: Any, parameters: dict, *args: Any, **kwargs: Any) -> None:
    operation = _operation_of(self)
    if operation is None:
        return
    converted = to_sdk_request(parameters, operation.input_shape)
    parameters.clear()
    parameters.update(converted)


def _normalise_response(self: Any, response: Any, *args: Any, **kwargs: Any) -> None:
    if not isinstance(response, dict):
        return
    operation = _operation_of(self)
    shape = operation.output_shape if operation is not None else None
    converted = to_sfn_response(response, shape)
    response.clear()
    response.update(converted)


def _make_from_error(original: Any) -> Any:
    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return original(self, env, ex)
        service_name = self._get_boto_service_name()
        error_code = ex.response.get("Error", {}).get("Code") or type(ex).__name__
        metadata = ex.response.get("ResponseMetadata", {})
        message = ex.response.get("Error", {}).get("Message", "")
        cause = (
            f"{message} (Service: {service_error_prefix(service_name)}, "
            f"Status Code: {metadata.get('HTTPStatusCode')}, "
            f"Request ID: {metadata.get('RequestId')})"
        )
        return self._get_task_failure_event(env=env, error=sfn_error_name(service_name, error_code), cause=cause)

    return _from_error


class AwsSdkAdapter(PatchSet):
    """Installs/uninstalls the normalisation on moto's aws-sdk Task class."""

    def _patches_to_apply(self) -> list[Any]:
        return [
            mock.patch.object(_TaskClass, "_normalise_parameters", _normalise_parameters),
            mock.patch.object(_TaskClass, "_normalise_response", _normalise_response),
            mock.patch.object(_TaskClass, "_from_error", _make_from_error(_TaskClass._from_error)),
        ]
