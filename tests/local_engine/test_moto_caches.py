"""The caches for moto's repeated work: what they share, and that sharing changes no execution."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.parse.asl_parser import ASLParserException
from moto.stepfunctions.parser.asl.utils import boto_client

from local_engine.aws import LocalAws
from local_engine.clock import VirtualClock
from local_engine.moto_caches import _components, parse_definition, parse_extended_jsonpath, parse_jsonpath

T0 = datetime(2024, 1, 1, tzinfo=UTC)
INVOKE = "arn:aws:states:::lambda:invoke"


def _definition(wait_seconds: int) -> str:
    return json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": wait_seconds, "End": True}}})


def test_one_program_per_definition_text() -> None:
    program, _ = parse_definition(_definition(7))

    assert parse_definition(_definition(7))[0] is program
    assert parse_definition(_definition(8))[0] is not program


def test_every_component_of_a_cached_program_has_its_heap_key_already() -> None:
    program, _ = parse_definition(_definition(9))
    components = [c for c in _components(program) if isinstance(c, EvalComponent)]

    assert len(components) > 3
    assert all(vars(c).get("_EvalComponent__heap_key") for c in components)


def test_a_rejected_definition_is_rejected_every_time() -> None:
    before = parse_definition.cache_info().currsize

    for _ in range(2):
        with pytest.raises(ASLParserException):
            parse_definition('{"StartAt": ')

    assert parse_definition.cache_info().currsize == before


def test_one_expression_per_jsonpath_text() -> None:
    assert parse_extended_jsonpath("$.a.b") is parse_extended_jsonpath("$.a.b")
    assert parse_jsonpath("$.a.b") is parse_jsonpath("$.a.b")
    assert [m.value for m in parse_extended_jsonpath("$.a.b").find({"a": {"b": 1}})] == [1]
    assert [m.value for m in parse_extended_jsonpath("$.a.b").find({"a": {"b": 2}})] == [2]


def test_clients_are_shared_within_one_local_aws_and_forgotten_after() -> None:
    with LocalAws(VirtualClock(T0)):
        first = boto_client.boto_client_for(region="us-east-1", service="lambda")
        assert boto_client.boto_client_for(region="us-east-1", service="lambda") is first
        assert boto_client.boto_client_for(region="eu-west-1", service="lambda") is not first
        assert boto_client.boto_client_for(region="us-east-1", service="sqs") is not first
    with LocalAws(VirtualClock(T0)):
        assert boto_client.boto_client_for(region="us-east-1", service="lambda") is not first


def test_executions_sharing_a_program_keep_their_own_retry_counts(
    aws: LocalAws, create_function: Callable[[str], str], create_state_machine: Callable[[dict], str]
) -> None:
    create_function("flaky")
    attempts: dict[str, list[timedelta]] = {"first": [], "second": []}

    class LimitExceededException(Exception):
        pass

    def handler(event: dict, context: Any) -> str:
        mine = attempts[event["who"]]
        mine.append(aws.clock.elapsed)
        if len(mine) <= 2:
            raise LimitExceededException("throttled")
        return "ok"

    aws.router.register("flaky", handler)
    retry = {"ErrorEquals": ["LimitExceededException"], "IntervalSeconds": 10, "BackoffRate": 2, "MaxAttempts": 2}
    call = {"Type": "Task", "Resource": INVOKE, "Parameters": {"FunctionName": "flaky", "Payload.$": "$"}}
    definition = {"StartAt": "Call", "States": {"Call": {**call, "Retry": [retry], "End": True}}}
    state_machine = create_state_machine(definition)
    sfn = aws.client("stepfunctions")

    with aws.clock.hold():
        arns = [
            sfn.start_execution(stateMachineArn=state_machine, input=json.dumps({"who": who}))["executionArn"]
            for who in attempts
        ]
    statuses = [aws.wait_for_execution(arn)["status"] for arn in arns]

    assert statuses == ["SUCCEEDED", "SUCCEEDED"]
    assert attempts["first"] == attempts["second"] == [timedelta(seconds=s) for s in (0, 10, 30)]
