"""The engine is as strict as AWS where moto is lenient (local_engine/strictness.py).

Each test runs a small definition on the embedded engine and asserts what AWS does; every one of
them passes on moto alone when it should fail, or the other way round.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from local_engine.aws import LocalAws
from local_engine.clock import VirtualClock
from local_engine.sdk_adapter import sfn_error_name
from local_engine.strictness import HISTORY_EVENT_QUOTA, optimized_error_name

CATCH_ALL = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]
CAUGHT = {"Type": "Pass", "End": True}


def in_map_with_catch_all(iterator_states: dict[str, Any], start_at: str) -> dict[str, Any]:
    """`iterator_states` run once per item inside a Map whose Catch is States.ALL."""
    return {
        "StartAt": "Each item",
        "States": {
            "Each item": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {"StartAt": start_at, "States": iterator_states},
                "Catch": CATCH_ALL,
                "End": True,
            },
            "Caught": CAUGHT,
        },
    }


def entered(history: list[dict], state_name: str) -> int:
    return sum(1 for e in history if e.get("stateEnteredEventDetails", {}).get("name") == state_name)


@pytest.mark.parametrize(
    ("states", "start_at"),
    [
        ({"Read": {"Type": "Pass", "Parameters": {"reason.$": "$.FailureReason"}, "End": True}}, "Read"),
        (
            {
                "Fail with a missing cause": {
                    "Type": "Fail",
                    "Error": "JobFailed",
                    "CausePath": "States.Format('failed: {}', $.FailureReason)",
                }
            },
            "Fail with a missing cause",
        ),
        (
            {
                "Check": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.Status", "StringEquals": "ACTIVE", "Next": "Done"}],
                    "Default": "Done",
                },
                "Done": {"Type": "Succeed"},
            },
            "Check",
        ),
    ],
    ids=["pass-parameters", "fail-cause-path", "choice-variable"],
)
def test_a_missing_path_fails_the_execution_and_no_catch_runs(
    run_definition: Callable[..., dict], history: Callable[[str], list[dict]], states: dict, start_at: str
) -> None:
    job_without_those_fields = {"Name": "a job"}
    execution = run_definition(in_map_with_catch_all(states, start_at), {"items": [job_without_those_fields]})

    assert execution["status"] == "FAILED"
    assert execution["error"] == "States.Runtime"
    assert entered(history(execution["executionArn"]), "Caught") == 0


def test_a_choice_on_a_missing_path_names_the_path_as_aws_does(run_definition: Callable[..., dict]) -> None:
    definition = {
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.update.Status", "StringEquals": "ACTIVE", "Next": "Done"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }

    execution = run_definition(definition, {})

    assert execution["status"] == "FAILED"
    assert "Invalid path '$.update.Status'" in execution["cause"]


def test_is_present_may_test_a_missing_path(run_definition: Callable[..., dict]) -> None:
    definition = {
        "StartAt": "Has a reason?",
        "States": {
            "Has a reason?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.FailureReason", "IsPresent": True, "Next": "With reason"}],
                "Default": "Without reason",
            },
            "With reason": {"Type": "Pass", "Result": {"branch": "with"}, "End": True},
            "Without reason": {"Type": "Pass", "Result": {"branch": "without"}, "End": True},
        },
    }

    execution = run_definition(definition, {})

    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == {"branch": "without"}


def test_retry_on_states_all_does_not_retry_a_runtime_error(
    run_definition: Callable[..., dict], history: Callable[[str], list[dict]]
) -> None:
    definition = {
        "StartAt": "Describe",
        "States": {
            "Describe": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sqs:listQueues",
                "Parameters": {"QueueNamePrefix.$": "$.missing"},
                "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 3}],
                "Catch": CATCH_ALL,
                "End": True,
            },
            "Caught": CAUGHT,
        },
    }

    execution = run_definition(definition, {})

    events = history(execution["executionArn"])
    assert execution["status"] == "FAILED"
    assert execution["error"] == "States.Runtime"
    assert entered(events, "Describe") == 1
    assert entered(events, "Caught") == 0


def test_a_state_output_over_256_kb_is_not_caught(run_definition: Callable[..., dict]) -> None:
    big = {"Type": "Pass", "Parameters": {"blob.$": "$.blob", "copy.$": "$.blob"}, "End": True}

    execution = run_definition(in_map_with_catch_all({"Grow": big}, "Grow"), {"items": [{"blob": "x" * 150_000}]})

    assert execution["status"] == "FAILED"
    assert execution["error"] == "States.DataLimitExceeded"


def test_ordinary_task_errors_are_still_caught(run_definition: Callable[..., dict]) -> None:
    definition = {
        "StartAt": "Describe",
        "States": {
            "Describe": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sqs:getQueueUrl",
                "Parameters": {"QueueName": "no-such-queue"},
                "Catch": CATCH_ALL,
                "End": True,
            },
            "Caught": CAUGHT,
        },
    }

    execution = run_definition(definition, {})

    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["error"]["Error"].startswith("Sqs.")


def run_forever_loop(quota: int) -> tuple[dict, list[dict]]:
    """A poll that never ends, on an engine whose history quota is `quota` events."""
    definition = {
        "StartAt": "Poll",
        "States": {
            "Poll": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "StartAt": "Wait",
                    "States": {
                        "Wait": {"Type": "Wait", "Seconds": 60, "Next": "Done?"},
                        "Done?": {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$.done", "BooleanEquals": True, "Next": "Done"}],
                            "Default": "Wait",
                        },
                        "Done": {"Type": "Succeed"},
                    },
                },
                "Catch": CATCH_ALL,
                "End": True,
            },
            "Caught": CAUGHT,
        },
    }
    with LocalAws(VirtualClock(datetime(2024, 1, 1, tzinfo=UTC)), history_event_quota=quota) as aws:
        sfn = aws.client("stepfunctions")
        arn = sfn.create_state_machine(
            name=f"sm-{uuid.uuid4().hex[:8]}",
            definition=json.dumps(definition),
            roleArn="arn:aws:iam::123456789012:role/local-sfn",
        )["stateMachineArn"]
        execution_arn = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": [{"done": False}]}))[
            "executionArn"
        ]
        execution = aws.wait_for_execution(execution_arn, timeout_s=60)
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return execution, events


def test_an_execution_fails_when_its_history_reaches_the_quota() -> None:
    execution, events = run_forever_loop(quota=120)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "States.Runtime"
    assert "maximum number of history events (120)" in execution["cause"]
    assert events[-1]["type"] == "ExecutionFailed"
    assert 120 <= len(events) <= 125  # a branch may still be winding down when the quota is hit
    assert entered(events, "Caught") == 0


def test_the_default_history_quota_is_aws_standard_workflow_quota() -> None:
    assert HISTORY_EVENT_QUOTA == 25_000


@pytest.mark.parametrize(
    ("service", "code", "expected"),
    [
        ("dynamodb", "ConditionalCheckFailedException", "DynamoDB.ConditionalCheckFailedException"),
        ("dynamodb", "ProvisionedThroughputExceededException", "DynamoDB.ProvisionedThroughputExceededException"),
        ("dynamodb", "RequestLimitExceeded", "DynamoDB.RequestLimitExceededException"),
        ("dynamodb", "InternalServerError", "DynamoDB.InternalServerErrorException"),
        ("dynamodb", "ValidationException", "DynamoDB.AmazonDynamoDBException"),
        ("dynamodb", "ServiceUnavailable", "DynamoDB.AmazonDynamoDBException"),
        ("lambda", "TooManyRequestsException", "Lambda.TooManyRequestsException"),
        ("lambda", "ServiceException", "Lambda.ServiceException"),
        ("lambda", "SomethingUnmodeled", "Lambda.AWSLambdaException"),
    ],
)
def test_optimized_integrations_name_errors_like_aws(service: str, code: str, expected: str) -> None:
    assert optimized_error_name(service, code) == expected


def test_aws_sdk_tasks_name_undefined_errors_after_the_service() -> None:
    assert sfn_error_name("personalize", "LimitExceededException") == "Personalize.LimitExceededException"
    assert sfn_error_name("personalize", "ThrottlingException") == "Personalize.PersonalizeException"
    assert sfn_error_name("personalize", "InternalFailure") == "Personalize.PersonalizeException"


def test_dynamodb_errors_reach_the_catch_under_aws_names(aws: LocalAws, run_definition: Callable[..., dict]) -> None:
    aws.client("dynamodb").create_table(
        TableName="runs",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def update(condition: str) -> dict[str, Any]:
        return {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:updateItem",
            "Parameters": {
                "TableName": "runs",
                "Key": {"pk": {"S": "a"}},
                "UpdateExpression": "SET run_status = :s",
                "ConditionExpression": condition,
                "ExpressionAttributeValues": {":s": {"S": "RUNNING"}},
            },
            "ResultPath": None,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
            "End": True,
        }

    definition = {"StartAt": "U", "States": {"U": update("attribute_exists(pk)"), "Caught": CAUGHT}}

    def error_of_next_run() -> str:
        return str(json.loads(run_definition(definition)["output"])["error"]["Error"])

    assert error_of_next_run() == "DynamoDB.ConditionalCheckFailedException"
    aws.faults.fail("dynamodb", "UpdateItem", "InternalServerError")
    assert error_of_next_run() == "DynamoDB.InternalServerErrorException"
    aws.faults.fail("dynamodb", "UpdateItem", "ServiceUnavailable")
    assert error_of_next_run() == "DynamoDB.AmazonDynamoDBException"


def test_stop_execution_aborts_with_the_operators_error_even_inside_a_map(
    aws: LocalAws, create_state_machine: Callable[[dict], str]
) -> None:
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "StartAt": "Wait",
                    "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}},
                },
                "End": True,
            }
        },
    }
    sfn = aws.client("stepfunctions")
    with aws.clock.hold():
        execution_arn = sfn.start_execution(
            stateMachineArn=create_state_machine(definition), input=json.dumps({"items": [1, 2]})
        )["executionArn"]
        sfn.stop_execution(executionArn=execution_arn, error="OperatorStop", cause="wrong data")

    execution = aws.wait_for_execution(execution_arn, timeout_s=30)

    assert (execution["status"], execution["error"], execution["cause"]) == ("ABORTED", "OperatorStop", "wrong data")


@pytest.mark.parametrize(
    ("checked_at", "deadline", "overdue"),
    [
        ("2026-11-29T10:00:00.001Z", "2026-11-29T10:00:00.000Z", True),
        ("2026-11-29T09:59:59.999Z", "2026-11-29T10:00:00Z", False),
        ("2026-11-29T19:00:01+09:00", "2026-11-29T10:00:00Z", True),
    ],
)
def test_choice_timestamps_are_rfc3339_with_fractions_and_offsets(
    run_definition: Callable[..., dict], checked_at: str, deadline: str, overdue: bool
) -> None:
    definition = {
        "StartAt": "Overdue?",
        "States": {
            "Overdue?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.checked_at", "TimestampGreaterThanPath": "$.deadline", "Next": "Late"}],
                "Default": "In time",
            },
            "Late": {"Type": "Pass", "Result": {"overdue": True}, "End": True},
            "In time": {"Type": "Pass", "Result": {"overdue": False}, "End": True},
        },
    }

    execution = run_definition(definition, {"checked_at": checked_at, "deadline": deadline})

    assert json.loads(execution["output"]) == {"overdue": overdue}
