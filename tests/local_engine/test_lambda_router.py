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


class RunRecordBusy(Exception):
    pass


def failing_handler(calls: list[str], *, fail: int = 99) -> Callable[[dict, Any], dict]:
    """A handler that raises its first `fail` times, noting each call's request id."""

    def handler(event: dict, context: Any) -> dict:
        calls.append(context.aws_request_id)
        if len(calls) <= fail:
            raise RunRecordBusy("the table refused the write")
        return {"closed": []}

    return handler


def on_failure_queue(aws: LocalAws, function_name: str, **settings: Any) -> str:
    """A queue made the function's on-failure destination (with `settings`); its URL."""
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=f"{function_name}-failures")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.client("lambda").put_function_event_invoke_config(
        FunctionName=function_name, DestinationConfig={"OnFailure": {"Destination": arn}}, **settings
    )
    return url


def received(aws: LocalAws, queue_url: str) -> list[dict[str, Any]]:
    messages = aws.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


@pytest.mark.parametrize(("settings", "attempts"), [({}, 3), ({"MaximumRetryAttempts": 0}, 1)])
def test_an_async_invoke_that_raises_is_retried_then_its_record_goes_to_the_on_failure_queue(
    aws: LocalAws, create_function: Callable[[str], str], settings: dict[str, Any], attempts: int
) -> None:
    # Given a function whose handler always raises, with an on-failure destination (Lambda's default retries, or
    # the configured ones)
    function_arn = create_function("closer")
    queue_url = on_failure_queue(aws, "closer", **settings)
    calls: list[str] = []
    aws.router.register(function_arn, failing_handler(calls))
    event = {"action": "close", "execution": {"status": "ABORTED"}}

    # When it is invoked asynchronously, as EventBridge invokes a target
    response = aws.client("lambda").invoke(FunctionName="closer", InvocationType="Event", Payload=json.dumps(event))

    # Then the caller only learns the event was queued
    assert response["StatusCode"] == 202
    assert "FunctionError" not in response
    assert response["Payload"].read() == b""
    # and the handler ran once and each retry, under one request id
    assert len(calls) == attempts
    assert len(set(calls)) == 1
    # and Lambda's invocation record of it is in the queue, as AWS documents it
    (record,) = received(aws, queue_url)
    error = record.pop("responsePayload")
    assert record == {
        "version": "1.0",
        "timestamp": "2024-01-01T00:00:00.000Z",  # the virtual clock's
        "requestContext": {
            "requestId": calls[0],
            "functionArn": f"{function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
    }
    assert (error["errorType"], error["errorMessage"]) == ("RunRecordBusy", "the table refused the write")


def test_an_async_invoke_without_a_destination_is_discarded_after_its_retries(
    aws: LocalAws, create_function: Callable[[str], str]
) -> None:
    function_arn = create_function("no-destination")
    calls: list[str] = []
    aws.router.register(function_arn, failing_handler(calls))

    response = aws.client("lambda").invoke(FunctionName="no-destination", InvocationType="Event", Payload=b"{}")

    assert response["StatusCode"] == 202
    assert len(calls) == 3, "Lambda retries twice unless configured otherwise"
    (failed,) = aws.router.failed_events
    assert (failed.destination, failed.delivery_error) == (None, None)
    assert aws.client("sqs").list_queues().get("QueueUrls", []) == []


def test_an_async_invoke_that_succeeds_on_a_retry_sends_no_record(
    aws: LocalAws, create_function: Callable[[str], str]
) -> None:
    function_arn = create_function("flaky-closer")
    queue_url = on_failure_queue(aws, "flaky-closer")
    calls: list[str] = []
    aws.router.register(function_arn, failing_handler(calls, fail=1))

    aws.client("lambda").invoke(FunctionName="flaky-closer", InvocationType="Event", Payload=b"{}")

    assert len(calls) == 2
    assert received(aws, queue_url) == []
    assert aws.router.failed_events == []


@pytest.mark.parametrize("granted", [True, False])
def test_the_record_is_sent_with_the_functions_role(
    aws: LocalAws, create_function: Callable[[str], str], granted: bool
) -> None:
    function_arn = create_function("governed")
    queue_url = on_failure_queue(aws, "governed", MaximumRetryAttempts=0)
    queue_arn = "arn:aws:sqs:us-east-1:123456789012:governed-failures"
    statements = [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn}] if granted else []
    role = aws.client("lambda").get_function(FunctionName="governed")["Configuration"]["Role"]
    aws.authorization.govern(role, [{"Version": "2012-10-17", "Statement": statements}])
    aws.router.register(function_arn, failing_handler([]))

    aws.client("lambda").invoke(FunctionName="governed", InvocationType="Event", Payload=b"{}")

    (failed,) = aws.router.failed_events
    assert failed.destination == queue_arn
    if granted:
        assert failed.delivery_error is None
        assert len(received(aws, queue_url)) == 1
    else:
        assert "not authorized to perform: sqs:SendMessage" in str(failed.delivery_error)
        assert received(aws, queue_url) == []


def test_install_and_uninstall_restore_moto() -> None:
    originals = (LambdaBackend.invoke, LambdaSimpleBackend.invoke)
    router = LambdaRouter()

    with router:
        assert (LambdaBackend.invoke, LambdaSimpleBackend.invoke) != originals

    assert (LambdaBackend.invoke, LambdaSimpleBackend.invoke) == originals
