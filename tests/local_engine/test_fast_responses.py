"""The faster path through moto's response serializer writes exactly what moto's own path writes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.utils import parse_to_aware_datetime as botocore_parse
from moto.core.responses import ActionContext, ActionResult
from moto.core.serialize import get_serializer_class
from moto.core.utils import get_service_model
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from local_engine.aws import LocalAws
from local_engine.fast_responses import parse_to_aware_datetime

INVOKE = "arn:aws:states:::lambda:invoke"


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28T16:00:00.000Z",
        "2026-11-28T16:00:00.123Z",
        "2026-11-28T16:00:00.5Z",
        "2026-11-28T16:00:00.123456Z",
        "2026-11-28T16:00:00Z",
        "2026-11-28T16:00:00+09:00",  # not the strict form: botocore reads it
        "2026-11-28",
        "1764345600",
    ],
)
def test_timestamps_read_as_botocore_reads_them(text: str) -> None:
    fast, slow = parse_to_aware_datetime(text), botocore_parse(text)

    assert fast == slow
    assert fast.utcoffset() == slow.utcoffset()


def _serialized_history(execution_arn: str, account: str, region: str) -> Any:
    """moto's answer to GetExecutionHistory for one execution: status, headers and body as it serializes them."""
    history = stepfunctions_parser_backends[account][region].get_execution_history(execution_arn)
    service_model = get_service_model("stepfunctions")
    operation_model = service_model.operation_model("GetExecutionHistory")
    context = ActionContext(service_model, operation_model, get_serializer_class("stepfunctions", "json"), None)  # type: ignore[arg-type]
    return ActionResult(history).execute_result(context)


@pytest.fixture
def finished_execution(
    aws: LocalAws, create_function: Callable[[str], str], create_state_machine: Callable[[dict], str]
) -> Iterator[str]:
    """An execution whose history holds most kinds of event: a Map, Lambda tasks, a retried failure, a Wait."""
    create_function("flaky")
    calls: list[Any] = []

    class Throttled(Exception):
        pass

    def handler(event: dict, context: Any) -> dict:
        calls.append(event)
        if len(calls) == 1:
            raise Throttled("try again")
        return {"seen": event, "at": "2026-11-28T16:00:00.123Z"}

    aws.router.register("flaky", handler)
    call = {"Type": "Task", "Resource": INVOKE, "Parameters": {"FunctionName": "flaky", "Payload.$": "$"}}
    retry = [{"ErrorEquals": ["Throttled"], "IntervalSeconds": 3}]
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "Iterator": {"StartAt": "Call", "States": {"Call": {**call, "Retry": retry, "End": True}}},
                "Next": "Pause",
            },
            "Pause": {"Type": "Wait", "Seconds": 90, "Next": "Done"},
            "Done": {"Type": "Pass", "Result": {"ok": True}, "End": True},
        },
    }
    arn = aws.client("stepfunctions").start_execution(
        stateMachineArn=create_state_machine(definition), input=json.dumps({"items": [1, 2]})
    )["executionArn"]
    assert aws.wait_for_execution(arn)["status"] == "SUCCEEDED"
    yield arn


def test_an_execution_history_is_serialized_byte_for_byte_as_moto_does(aws: LocalAws, finished_execution: str) -> None:
    account, region = finished_execution.split(":")[4], finished_execution.split(":")[3]
    fast = _serialized_history(finished_execution, account, region)

    aws.fast_responses.uninstall()
    try:
        slow = _serialized_history(finished_execution, account, region)
    finally:
        aws.fast_responses.install()

    assert len(json.loads(fast[2])["events"]) > 20
    assert fast == slow


def test_clients_read_the_same_answers_with_and_without_the_fast_path(aws: LocalAws, finished_execution: str) -> None:
    sfn = aws.client("stepfunctions")

    def answers() -> list[Any]:
        described = sfn.describe_execution(executionArn=finished_execution)
        return [
            described,
            sfn.describe_state_machine(stateMachineArn=described["stateMachineArn"]),
            sfn.list_executions(stateMachineArn=described["stateMachineArn"])["executions"],
            sfn.get_execution_history(executionArn=finished_execution)["events"],
        ]

    fast = answers()
    aws.fast_responses.uninstall()
    try:
        slow = answers()
    finally:
        aws.fast_responses.install()

    for answer in (*fast, *slow):
        if isinstance(answer, dict):
            answer.pop("ResponseMetadata", None)
    assert fast == slow
