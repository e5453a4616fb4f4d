"""Lambda router: moto Invoke -> in-process handler, like the Lambda runtime."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from moto.awslambda.models import LambdaBackend
from moto.awslambda_simple.models import LambdaSimpleBackend

from local_engine.aws import LocalAws
from local_engine.lambda_router import LambdaRouter, function_name_of

INVOKE = "arn:aws:states:::lambda:invoke"


class LimitExceededException(Exception):
    pass


class InvalidRunInput(Exception):
    pass


def invoke_task(function_name: str, **extra: Any) -> dict:
    return {
        "Type": "Task",
        "Resource": INVOKE,
        "Parameters": {"FunctionName": function_name, "Payload.$": "$"},
        **extra,
    }


def test_function_name_of_accepts_names_and_arns() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:start-import"
    assert function_name_of(arn) == "start-import"
    assert function_name_of(f"{arn}:live") == "start-import"
    assert function_name_of("start-import") == "start-import"
    assert function_name_of("start-import:3") == "start-import"


def test_boto3_invoke_runs_the_handler_with_env_and_context(
    aws: LocalAws, create_function: Callable[[str], str]
) -> None:
    function_arn = create_function("echo")
    seen: dict[str, Any] = {}

    def handler(event: dict, context: Any) -> dict:
        seen["table"] = os.environ.get("TABLE_NAME")
        seen["context"] = (
            context.function_name,
            context.invoked_function_arn,
            context.memory_limit_in_mb,
            bool(context.aws_request_id),
            0 < context.get_remaining_time_in_millis() <= 30_000,
        )
        return {"echo": event}

    aws.router.register(function_arn, handler, {"TABLE_NAME": "runs"})

    response = aws.client("lambda").invoke(FunctionName="echo", Payload=json.dumps({"hello": "world"}))

    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"echo": {"hello": "world"}}
    assert seen == {
        "table": "runs",
        "context": ("echo", function_arn, 256, True, True),
    }
    assert "TABLE_NAME" not in os.environ


def test_environment_is_restored_even_when_the_handler_changes_it(
    aws: LocalAws, create_function: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    create_function("meddler")
    monkeypatch.setenv("STAGE", "test")

    def handler(event: dict, context: Any) -> str:
        os.environ["LEFTOVER"] = "x"
        os.environ["STAGE"] = "changed"
        return os.environ["STAGE"]

    aws.router.register("meddler", handler, {"STAGE": "lambda"})

    response = aws.client("lambda").invoke(FunctionName="meddler", Payload=b"{}")

    assert json.loads(response["Payload"].read()) == "changed"
    assert os.environ["STAGE"] == "test"
    assert "LEFTOVER" not in os.environ


def test_unhandled_exception_comes_back_as_the_runtime_reports_it(
    aws: LocalAws, create_function: Callable[[str], str]
) -> None:
    create_function("broken")

    def handler(event: dict, context: Any) -> None:
        raise InvalidRunInput("bad input")

    aws.router.register("broken", handler)

    response = aws.client("lambda").invoke(FunctionName="broken", Payload=b"{}")

    assert response["FunctionError"] == "Unhandled"
    payload = json.loads(response["Payload"].read())
    assert payload["errorType"] == "InvalidRunInput"
    assert payload["errorMessage"] == "bad input"
    assert payload["requestId"]
    assert any("raise InvalidRunInput" in line for line in payload["stackTrace"])


def test_unrouted_functions_keep_motos_behaviour(aws: LocalAws, create_function: Callable[[str], str]) -> None:
    create_function("canned")

    response = aws.client("lambda").invoke(FunctionName="canned", Payload=b'{"a": 1}')

    assert json.loads(response["Payload"].read()) == {"a": 1}


def test_routing_requires_the_function_to_exist(aws: LocalAws) -> None:
    lambda_client = aws.client("lambda")
    aws.router.register("ghost", lambda event, context: None)

    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName="ghost", Payload=b"{}")


def test_state_machine_invoke_reaches_the_handler(
    aws: LocalAws,
    create_function: Callable[[str], str],
    run_definition: Callable[..., dict],
) -> None:
    function_arn = create_function("start-import")

    def handler(event: dict, context: Any) -> dict:
        return {"bucket": os.environ["DATA_BUCKET"], "got": event}

    aws.router.register(function_arn, handler, {"DATA_BUCKET": "s3://data"})
    definition = {"StartAt": "Invoke", "States": {"Invoke": invoke_task(function_arn, End=True)}}

    execution = run_definition(definition, {"run": 7})

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    output = json.loads(execution["output"])
    assert output["StatusCode"] == 200
    assert output["Payload"] == {"bucket": "s3://data", "got": {"run": 7}}


def test_named_exceptions_are_retried_and_caught_by_class_name(
    aws: LocalAws,
    create_function: Callable[[str], str],
    run_definition: Callable[..., dict],
) -> None:
    create_function("flaky")
    calls: list[str] = []

    def handler(event: dict, context: Any) -> dict:
        calls.append(event["mode"])
        if len(calls) < 3:
            raise LimitExceededException("slow down")
        raise InvalidRunInput("no such run")

    aws.router.register("flaky", handler)
    definition = {
        "StartAt": "Invoke",
        "States": {
            "Invoke": invoke_task(
                "flaky",
                Retry=[
                    {
                        "ErrorEquals": ["LimitExceededException"],
                        "IntervalSeconds": 5,
                        "MaxAttempts": 5,
                    }
                ],
                Catch=[
                    {
                        "ErrorEquals": ["InvalidRunInput"],
                        "ResultPath": "$.error",
                        "Next": "Rejected",
                    }
                ],
                End=True,
            ),
            "Rejected": {"Type": "Pass", "End": True},
        },
    }

    execution = run_definition(definition, {"mode": "full"})

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert calls == ["full", "full", "full"]
    error = json.loads(execution["output"])["error"]
    assert error["Error"] == "InvalidRunInput"
    assert json.loads(error["Cause"])["errorMessage"] == "no such run"


def test_uncaught_handler_exception_fails_the_execution_with_its_name(
    aws: LocalAws,
    create_function: Callable[[str], str],
    run_definition: Callable[..., dict],
) -> None:
    create_function("always-limited")

    def handler(event: dict, context: Any) -> None:
        raise LimitExceededException("quota")

    aws.router.register("always-limited", handler)
    definition = {"StartAt": "Invoke", "States": {"Invoke": invoke_task("always-limited", End=True)}}

    execution = run_definition(definition)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "LimitExceededException"


def test_install_and_uninstall_restore_moto() -> None:
    originals = (LambdaBackend.invoke, LambdaSimpleBackend.invoke)
    router = LambdaRouter()

    with router:
        assert (LambdaBackend.invoke, LambdaSimpleBackend.invoke) != originals

    assert (LambdaBackend.invoke, LambdaSimpleBackend.invoke) == originals
