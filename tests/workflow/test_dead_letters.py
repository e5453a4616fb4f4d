"""Replaying the dead-letter queues on the local engine: the command an operator runs, against the
queues of the synthesized stack."""

from __future__ import annotations

import json
from typing import Any

from local_engine.eventbridge import transform_input
from local_engine.refresh import LocalRefresh
from operations import dead_letters
from operations.local import engine_pipeline

CAMPAIGN = "shop-home-recommendations"


def glue_event(refresh: LocalRefresh) -> dict[str, Any]:
    """A Glue success event as EventBridge leaves it in the trigger's dead-letter queue."""
    return {
        "version": "0",
        "id": "6f2b7a3e-0000-4000-8000-000000000001",
        "detail-type": "Glue Job State Change",
        "source": "aws.glue",
        "account": refresh.config.account,
        "time": "2026-11-28T16:00:00Z",
        "region": refresh.config.region,
        "resources": [],
        "detail": {"jobName": refresh.config.glue_job_names[0], "state": "SUCCEEDED", "jobRunId": "jr_" + "b" * 64},
    }


def dead_letter(refresh: LocalRefresh, queue_output: str, event: dict[str, Any], target_arn: str) -> str:
    queue_url = refresh.deployment.output(queue_output)
    refresh.aws.client("sqs").send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(event),
        MessageAttributes={
            "TARGET_ARN": {"DataType": "String", "StringValue": target_arn},
            "ERROR_CODE": {"DataType": "String", "StringValue": "SDK_CLIENT_ERROR"},
            "ERROR_MESSAGE": {"DataType": "String", "StringValue": "Unable to invoke the target"},
        },
    )
    return queue_url


def run(refresh: LocalRefresh, *, replay: bool = False) -> list[dict[str, str]]:
    """What `personalize-refresh dlq [--replay]` does, on this engine."""
    return dead_letters.handle(engine_pipeline(refresh), replay=replay)


def test_listing_shows_each_event_and_keeps_it(refresh: LocalRefresh) -> None:
    dead_letter(refresh, "DeadLetterQueueUrl", glue_event(refresh), refresh.deployment.state_machine_arn)

    (listed,) = run(refresh)

    assert listed["queue"] == "DeadLetterQueueUrl"
    assert "Glue Job State Change  jr_bbbb" in listed["event"]
    assert listed["error"] == "SDK_CLIENT_ERROR: Unable to invoke the target"
    assert run(refresh) == [listed]  # listing again finds it: a listing takes nothing off the queue


def test_a_replayed_glue_event_refreshes_the_day_and_leaves_the_queue(refresh: LocalRefresh) -> None:
    event = glue_event(refresh)
    queue_url = dead_letter(refresh, "DeadLetterQueueUrl", event, refresh.deployment.state_machine_arn)

    (replayed,) = run(refresh, replay=True)
    assert replayed["replayed"].startswith("started ")

    sfn = refresh.aws.client("stepfunctions")
    (execution,) = sfn.list_executions(stateMachineArn=refresh.deployment.state_machine_arn)["executions"]
    assert refresh.wait(execution["executionArn"])["status"] == "SUCCEEDED"
    assert refresh.run_record(CAMPAIGN, 20261129)["glue_job_run_id"] == event["detail"]["jobRunId"]
    attributes = refresh.aws.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_the_replay_gives_the_state_machine_what_the_trigger_rule_gives_it(refresh: LocalRefresh) -> None:
    (rule,) = [
        r for r in refresh.template["Resources"].values() if r["Type"] == "AWS::Events::Rule" and "glue" in str(r)
    ]
    (target,) = rule["Properties"]["Targets"]
    event = glue_event(refresh)
    assert dead_letters.glue_refresh_input(event) == transform_input(target, event)


def test_a_replayed_status_change_closes_the_run_it_left_running(refresh: LocalRefresh) -> None:
    # A run claimed by an execution whose end event never reached the claim function.
    execution_arn = f"arn:aws:states:{refresh.config.region}:{refresh.config.account}:execution:sm:lost"
    (name,) = [
        refresh.deployment.ref(logical_id)
        for logical_id, resource in refresh.template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function" and "StartImport" in logical_id
    ]
    start_import = refresh.aws.client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    claim = {"action": "claim", "input": {"base_date": "20261129"}, "execution_arn": execution_arn}
    refresh.aws.client("lambda").invoke(FunctionName=start_import, Payload=json.dumps(claim))
    ended = {
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "time": "2026-11-29T16:00:00Z",
        "detail": {
            "executionArn": execution_arn,
            "status": "TIMED_OUT",
            "input": json.dumps({"base_date": "20261129"}),
        },
    }
    dead_letter(refresh, "UnrecordedEndsDeadLetterQueueUrl", ended, start_import)

    (replayed,) = run(refresh, replay=True)
    assert replayed["replayed"] == "closed ['shop-home-recommendations']"

    record = refresh.run_record(CAMPAIGN, 20261129)
    assert (record["run_status"], record["failure_error"]) == ("TIMED_OUT", "ExecutionTimedOut")
    ((subject, _),) = refresh.alerts()
    assert subject == "Personalize refresh timed out"
