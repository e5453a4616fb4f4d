"""Shared fixtures for local_engine tests: a clock, a LocalAws, a runner."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from local_engine.aws import LocalAws
from local_engine.clock import VirtualClock

T0 = datetime(2024, 1, 1, tzinfo=UTC)
ROLE_ARN = "arn:aws:iam::123456789012:role/local-sfn"
LAMBDA_ROLE_ARN = "arn:aws:iam::123456789012:role/local-lambda"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture
def aws(clock: VirtualClock) -> Iterator[LocalAws]:
    with LocalAws(clock) as local_aws:
        yield local_aws


@pytest.fixture
def create_state_machine(aws: LocalAws) -> Callable[[dict], str]:
    def create(definition: dict) -> str:
        return aws.client("stepfunctions").create_state_machine(
            name=f"sm-{uuid.uuid4().hex[:8]}",
            definition=json.dumps(definition),
            roleArn=ROLE_ARN,
        )["stateMachineArn"]

    return create


@pytest.fixture
def run_definition(aws: LocalAws, create_state_machine: Callable[[dict], str]) -> Callable[..., dict]:
    """Create, start and await a state machine; its describe_execution."""

    def run(definition: dict, execution_input: Any = None) -> dict:
        execution_arn = aws.client("stepfunctions").start_execution(
            stateMachineArn=create_state_machine(definition),
            input=json.dumps(execution_input or {}),
        )["executionArn"]
        return aws.wait_for_execution(execution_arn, timeout_s=30)

    return run


@pytest.fixture
def create_function(aws: LocalAws) -> Callable[[str], str]:
    """A function in moto's Lambda backend (the router only routes existing ones)."""
    return functools.partial(create_routed_function, aws)


def create_routed_function(aws: LocalAws, name: str) -> str:
    """Create the function `name` in moto's Lambda backend, for the router to route; its ARN."""
    iam = aws.client("iam")
    try:
        iam.get_role(RoleName="local-lambda")
    except iam.exceptions.NoSuchEntityException:
        iam.create_role(RoleName="local-lambda", AssumeRolePolicyDocument="{}")
    return aws.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=LAMBDA_ROLE_ARN,
        Handler="index.handler",
        Code={"ZipFile": b"not used: the router runs the handler in-process"},
        MemorySize=256,
        Timeout=30,
    )["FunctionArn"]


@pytest.fixture
def history(aws: LocalAws) -> Callable[[str], list[dict]]:
    def events(execution_arn: str) -> list[dict]:
        return aws.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]

    return events
