"""Runs that end without their own Catch, when closing them goes wrong: the run function's close fails every
attempt (its record lands in the failed closes' queue, which the alarm watches and the operator replays), or the
execution's status change event never arrives (the hourly sweep closes the run)."""

from __future__ import annotations

import json
from typing import Any

from local_engine.refresh import LocalRefresh
from operations import dead_letters
from operations.local import engine_pipeline
from tests.conftest import stop_when_training_starts

CAMPAIGN = "shop-home-recommendations"
BASE_DATE = 20261129
# The close's own write: the only UpdateItem that takes the failure phase from the record's phase.
CLOSE_WRITE = "failure_phase = phase,"


def stopped_while_training(refresh: LocalRefresh) -> dict[str, Any]:
    """A Glue event's refresh, stopped by an operator once its training was created; the execution, ended."""
    stop_when_training_starts(refresh, error="OperatorStop", cause="wrong data")
    (execution_arn,) = refresh.put_glue_event()
    return refresh.wait(execution_arn)


def failed_closes_queue(refresh: LocalRefresh) -> str:
    """The URL of the queue the FailedCloses alarm watches (its metric's QueueName is that queue's)."""
    (alarm,) = [
        resource["Properties"]
        for resource in refresh.template["Resources"].values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        and resource["Properties"]["AlarmName"].endswith("-FailedCloses")
    ]
    (query,) = alarm["Metrics"]
    (dimension,) = query["MetricStat"]["Metric"]["Dimensions"]
    queue_id, attribute = dimension["Value"]["Fn::GetAtt"]
    assert (query["MetricStat"]["Metric"]["MetricName"], attribute) == (
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
    )
    return refresh.deployment.ref(queue_id)


def waiting(refresh: LocalRefresh, queue_url: str) -> int:
    """What SQS reports as the alarm's metric: the messages visible in the queue."""
    attributes = refresh.aws.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_a_stopped_run_whose_close_fails_lands_in_the_failed_closes_queue_and_is_replayed(
    refresh: LocalRefresh,
) -> None:
    # Given the run table refuses the close's write, on every attempt Lambda makes
    refresh.aws.faults.fail("dynamodb", "UpdateItem", "AccessDeniedException", times=3, body_contains=CLOSE_WRITE)

    # When an operator stops a run while it trains
    stopped = stopped_while_training(refresh)

    # Then the run is not closed, nobody is alerted by the close...
    assert stopped["status"] == "ABORTED"
    assert refresh.run_record(CAMPAIGN, BASE_DATE)["run_status"] == "RUNNING"
    assert refresh.alerts() == []
    assert [code for _, operation, code in refresh.aws.faults.injected if operation == "UpdateItem"] == [
        "AccessDeniedException"
    ] * 3, "the close ran once and was retried twice"
    # ...but Lambda's record of it waits in the queue the FailedCloses alarm watches, the stack's output names
    queue_url = failed_closes_queue(refresh)
    assert queue_url == refresh.deployment.output("FailedClosesDeadLetterQueueUrl")
    assert waiting(refresh, queue_url) == 1
    (message,) = refresh.aws.client("sqs").receive_message(QueueUrl=queue_url, VisibilityTimeout=0)["Messages"]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(":$LATEST")
    assert record["requestPayload"]["action"] == "close"
    assert record["requestPayload"]["execution"]["executionArn"] == stopped["executionArn"]
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert "AccessDeniedException" in record["responsePayload"]["errorMessage"]

    # When the operator lists and replays it, once the cause is gone
    (listed,) = dead_letters.handle(engine_pipeline(refresh), replay=False)
    assert listed["queue"] == "FailedClosesDeadLetterQueueUrl"
    assert "run function's close" in listed["event"] and stopped["executionArn"] in listed["event"]
    assert listed["error"].startswith("RetriesExhausted after 3 attempts: ClientError")
    (replayed,) = dead_letters.handle(engine_pipeline(refresh), replay=True)

    # Then the run is closed as the status change event would have closed it, alerted once, and the queue drained
    assert replayed["replayed"] == f"closed ['{CAMPAIGN}']"
    closed = refresh.run_record(CAMPAIGN, BASE_DATE)
    assert (closed["run_status"], closed["failure_phase"], closed["failure_error"]) == (
        "ABORTED",
        "TRAINING",
        "OperatorStop",
    )
    ((subject, _),) = refresh.alerts()
    assert subject == "Personalize refresh was stopped"
    assert waiting(refresh, queue_url) == 0


def test_a_run_whose_end_event_is_lost_is_closed_by_the_hourly_sweep(refresh: LocalRefresh) -> None:
    # Given Step Functions' status change events of the run's next three ends never arrive: its import's, the
    # campaign execution the stop ends, and the run's own
    refresh.aws.status_events.lose(3)

    # When an operator stops a run while it trains
    stopped = stopped_while_training(refresh)

    # Then nothing closed it
    assert stopped["executionArn"] in refresh.aws.status_events.lost
    assert refresh.run_record(CAMPAIGN, BASE_DATE)["run_status"] == "RUNNING"
    assert refresh.alerts() == []

    # When the hourly schedule fires, twice
    given = refresh.fire_schedules()
    refresh.fire_schedules()

    # Then the sweep closed the run as the event would have, and alerted once
    assert {"action": "sweep"} in given
    record = refresh.run_record(CAMPAIGN, BASE_DATE)
    assert (record["run_status"], record["failure_phase"], record["failure_error"], record["failure_reason"]) == (
        "ABORTED",
        "TRAINING",
        "OperatorStop",
        "wrong data",
    )
    ((subject, message),) = refresh.alerts()
    assert subject == "Personalize refresh was stopped"
    assert stopped["executionArn"] in message
    assert refresh.aws.router.failed_events == []
