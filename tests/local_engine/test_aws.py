"""LocalAws: moto's interpreter running in simulated time."""

from __future__ import annotations

import datetime as datetime_module
import itertools
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.serialize import ResponseSerializer
from moto.stepfunctions import models as sfn_models
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.program import program
from moto.stepfunctions.parser.asl.component.state import state as state_module
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function
from moto.stepfunctions.parser.asl.eval import states
from moto.stepfunctions.parser.asl.eval.event import event_manager
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client, json_path
from moto.stepfunctions.parser.backend import execution_worker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from local_engine.aws import LocalAws
from local_engine.clock import VirtualClock
from tests.local_engine.conftest import ROLE_ARN, create_routed_function

T0 = datetime(2024, 1, 1, tzinfo=datetime_module.UTC)
HOUR = 3600
INVOKE = "arn:aws:states:::lambda:invoke"


def wait_state(seconds: int, **extra: Any) -> dict:
    return {"Type": "Wait", "Seconds": seconds, **extra}


def map_over_items(iterator: dict) -> dict:
    return {
        "StartAt": "PerItem",
        "States": {"PerItem": {"Type": "Map", "ItemsPath": "$.items", "Iterator": iterator, "End": True}},
    }


def test_wait_takes_an_hour_of_simulated_time(
    aws: LocalAws, run_definition: Callable[..., dict], history: Callable[[str], list[dict]]
) -> None:
    definition = {"StartAt": "Wait", "States": {"Wait": wait_state(HOUR, End=True)}}

    execution = run_definition(definition)

    assert execution["status"] == "SUCCEEDED"
    assert execution["startDate"] == T0
    assert execution["stopDate"] == T0 + timedelta(hours=1)
    stamps = {event["type"]: event["timestamp"] for event in history(execution["executionArn"])}
    assert stamps["WaitStateEntered"] == T0
    assert stamps["WaitStateExited"] - stamps["WaitStateEntered"] == timedelta(hours=1)
    assert stamps["ExecutionSucceeded"] == T0 + timedelta(hours=1)


def test_map_branches_wait_side_by_side(aws: LocalAws, run_definition: Callable[..., dict]) -> None:
    iterator = {"StartAt": "Wait", "States": {"Wait": wait_state(6 * HOUR, End=True)}}

    execution = run_definition(map_over_items(iterator), {"items": ["a", "b"]})

    assert execution["status"] == "SUCCEEDED"
    assert execution["stopDate"] - execution["startDate"] == timedelta(hours=6)
    assert aws.clock.elapsed == timedelta(hours=6)


def test_parallel_branches_wait_side_by_side(run_definition: Callable[..., dict]) -> None:
    def branch(seconds: int) -> dict:
        return {"StartAt": "Wait", "States": {"Wait": wait_state(seconds, End=True)}}

    definition = {
        "StartAt": "Both",
        "States": {"Both": {"Type": "Parallel", "Branches": [branch(2 * HOUR), branch(3 * HOUR)], "End": True}},
    }

    execution = run_definition(definition)

    assert execution["status"] == "SUCCEEDED"
    assert execution["stopDate"] - execution["startDate"] == timedelta(hours=3)


def test_lambda_work_inside_a_map_branch_is_not_skipped(
    aws: LocalAws,
    create_function: Callable[[str], str],
    run_definition: Callable[..., dict],
) -> None:
    create_function("train")
    seen: list[tuple[str, str, timedelta]] = []
    seen_lock = threading.Lock()

    def handler(event: dict, context: Any) -> dict:
        with seen_lock:
            seen.append((event["name"], "start", aws.clock.elapsed))
        time.sleep(0.05)  # clock-free work while the other branch is waiting
        with seen_lock:
            seen.append((event["name"], "end", aws.clock.elapsed))
        return {"trained": event["name"]}

    aws.router.register("train", handler)
    iterator = {
        "StartAt": "Before",
        "States": {
            "Before": {"Type": "Wait", "SecondsPath": "$.before", "Next": "Train"},
            "Train": {
                "Type": "Task",
                "Resource": INVOKE,
                "Parameters": {"FunctionName": "train", "Payload.$": "$"},
                "ResultPath": None,
                "Next": "After",
            },
            "After": wait_state(HOUR, End=True),
        },
    }
    items = [{"name": "fast", "before": HOUR}, {"name": "slow", "before": int(1.5 * HOUR)}]

    execution = run_definition(map_over_items(iterator), {"items": items})

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert sorted(seen) == [
        ("fast", "end", timedelta(hours=1)),
        ("fast", "start", timedelta(hours=1)),
        ("slow", "end", timedelta(hours=1.5)),
        ("slow", "start", timedelta(hours=1.5)),
    ]
    assert execution["stopDate"] - execution["startDate"] == timedelta(hours=2.5)


class LimitExceededException(Exception):
    pass


def refused_at_first(aws: LocalAws, attempts: list[timedelta], *, times: int) -> Callable[[dict, Any], str]:
    """A handler that notes the simulated time of each attempt in `attempts` and raises LimitExceededException
    the first `times` times."""

    def handler(event: dict, context: Any) -> str:
        attempts.append(aws.clock.elapsed)
        if len(attempts) <= times:
            raise LimitExceededException("no room")
        return "ok"

    return handler


def test_retry_backoff_advances_simulated_time(
    aws: LocalAws,
    create_function: Callable[[str], str],
    run_definition: Callable[..., dict],
) -> None:
    create_function("throttled")
    attempts: list[timedelta] = []
    aws.router.register("throttled", refused_at_first(aws, attempts, times=3))
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": INVOKE,
                "Parameters": {"FunctionName": "throttled"},
                "Retry": [
                    {
                        "ErrorEquals": ["LimitExceededException"],
                        "IntervalSeconds": 10,
                        "BackoffRate": 3,
                        "MaxAttempts": 3,
                    }
                ],
                "End": True,
            }
        },
    }

    execution = run_definition(definition)

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert attempts == [timedelta(seconds=s) for s in (0, 10, 40, 130)]


def test_context_times_are_simulated_and_formatted_like_aws(
    run_definition: Callable[..., dict],
) -> None:
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": wait_state(90, Next="Report"),
            "Report": {
                "Type": "Pass",
                "Parameters": {
                    "entered.$": "$$.State.EnteredTime",
                    "started.$": "$$.Execution.StartTime",
                },
                "End": True,
            },
        },
    }

    execution = run_definition(definition)

    # A state entered on a whole second is written without its zero milliseconds, as on AWS.
    assert json.loads(execution["output"]) == {
        "entered": "2024-01-01T00:01:30Z",
        "started": "2024-01-01T00:00:00.000Z",
    }


def test_wait_until_timestamp_uses_simulated_now(run_definition: Callable[..., dict]) -> None:
    definition = {"StartAt": "Until", "States": {"Until": {"Type": "Wait", "TimestampPath": "$.at", "End": True}}}

    execution = run_definition(definition, {"at": "2024-01-01T05:00:00Z"})

    assert execution["stopDate"] == T0 + timedelta(hours=5)


def test_execution_timeout_is_simulated(aws: LocalAws, run_definition: Callable[..., dict]) -> None:
    definition = {"StartAt": "Wait", "TimeoutSeconds": 60, "States": {"Wait": wait_state(HOUR, End=True)}}

    execution = run_definition(definition)

    assert execution["status"] == "TIMED_OUT"
    assert aws.clock.elapsed == timedelta(seconds=60)


def test_stop_execution_interrupts_a_wait_at_the_simulated_instant(
    aws: LocalAws, create_state_machine: Callable[[dict], str]
) -> None:
    sfn = aws.client("stepfunctions")
    state_machine = create_state_machine({"StartAt": "Wait", "States": {"Wait": wait_state(HOUR, End=True)}})

    with aws.clock.hold():  # otherwise the Wait finishes before we can stop it
        aws.clock.advance(30)
        execution_arn = sfn.start_execution(stateMachineArn=state_machine)["executionArn"]
        aws.clock.advance(15)
        sfn.stop_execution(executionArn=execution_arn)
        execution = aws.wait_for_execution(execution_arn, timeout_s=30)

    assert execution["status"] == "ABORTED"
    assert execution["startDate"] == T0 + timedelta(seconds=30)
    assert execution["stopDate"] == T0 + timedelta(seconds=45)


def test_concurrent_executions_share_the_clock(aws: LocalAws, create_state_machine: Callable[[dict], str]) -> None:
    sfn = aws.client("stepfunctions")
    short = create_state_machine({"StartAt": "Wait", "States": {"Wait": wait_state(HOUR, End=True)}})
    long = create_state_machine({"StartAt": "Wait", "States": {"Wait": wait_state(4 * HOUR, End=True)}})

    with aws.clock.hold():
        arns = [sfn.start_execution(stateMachineArn=arn)["executionArn"] for arn in (short, long)]
    stops = [aws.wait_for_execution(arn)["stopDate"] for arn in arns]

    assert stops == [T0 + timedelta(hours=1), T0 + timedelta(hours=4)]


def test_unnamed_executions_of_one_state_machine_coexist(
    aws: LocalAws, create_state_machine: Callable[[dict], str]
) -> None:
    sfn = aws.client("stepfunctions")
    state_machine = create_state_machine({"StartAt": "Pass", "States": {"Pass": {"Type": "Pass", "End": True}}})

    arns = [sfn.start_execution(stateMachineArn=state_machine)["executionArn"] for _ in range(2)]

    assert arns[0] != arns[1]
    assert [aws.wait_for_execution(arn)["status"] for arn in arns] == ["SUCCEEDED"] * 2


def test_exit_removes_every_patch() -> None:
    def snapshot() -> dict[str, Any]:
        return {
            "threading": program.threading,
            "Thread": execution_worker.Thread,
            "time": wait_function.time,
            "retry time": retrier_decl.time,
            "datetime": event_manager.datetime,
            "StateData": state_module.StateData,
            "utcnow": sfn_models.utcnow,
            "start_execution": StepFunctionsParserBackend.start_execution,
            "sdk": StateTaskServiceAwsSdk.__dict__.get("_normalise_parameters"),
            "lambda": LambdaSimpleBackend.invoke,
            "definition parse": AmazonStateLanguageParser.__dict__["parse"],
            "jsonpath parse": json_path.parse,
            "task clients": boto_client.boto3,
            "response values": ResponseSerializer.get_value,
            "state copies": states.copy,
        }

    before = snapshot()
    with LocalAws(VirtualClock(T0)) as aws:
        during = snapshot()
        assert aws.router.installed and aws.sdk_adapter.installed and aws.moto_patches.installed
        assert aws.caches.installed and aws.fast_responses.installed and aws.fast_copies.installed
    after = snapshot()

    assert all(during[name] is not before[name] for name in before)
    assert after == before
    assert event_manager.datetime is datetime_module


def _attempts_under_full_jitter() -> list[timedelta]:
    """The attempt times of one execution, named the same every time, whose task fails four times under a
    retrier with FULL jitter; on a LocalAws of its own."""
    with LocalAws(VirtualClock(T0)) as aws:
        attempts: list[timedelta] = []
        create_routed_function(aws, "room")
        aws.router.register("room", refused_at_first(aws, attempts, times=4))
        retrier = {"ErrorEquals": ["LimitExceededException"], "IntervalSeconds": 100, "MaxAttempts": 4}
        definition = {
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": INVOKE,
                    "Parameters": {"FunctionName": "room"},
                    "Retry": [{**retrier, "BackoffRate": 1, "JitterStrategy": "FULL"}],
                    "End": True,
                }
            },
        }
        sfn = aws.client("stepfunctions")
        machine = sfn.create_state_machine(name="jittered", definition=json.dumps(definition), roleArn=ROLE_ARN)[
            "stateMachineArn"
        ]
        execution_arn = sfn.start_execution(stateMachineArn=machine, name="day")["executionArn"]
        assert aws.wait_for_execution(execution_arn, timeout_s=30)["status"] == "SUCCEEDED"
        return attempts


def test_full_jitter_spreads_the_waits_the_same_way_every_time() -> None:
    first, second = _attempts_under_full_jitter(), _attempts_under_full_jitter()

    assert first == second  # a rehearsal is a specification: the same story every time
    waits = [later - earlier for earlier, later in itertools.pairwise(first)]
    assert len(waits) == 4
    assert all(timedelta(0) <= wait <= timedelta(seconds=100) for wait in waits)
    assert len(set(waits)) > 1  # drawn, not the backoff's bound each time
