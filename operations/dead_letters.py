"""Show, and replay, the events EventBridge could not deliver.

Each rule of the stack gives up on an event after 24 h of retries and leaves it in its dead-letter
queue: the message body is the event, and its attributes say which rule and target failed and why
(RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE). Replaying re-does what the target would have done:

* a Glue success event for the state machine starts the refresh with the input the trigger rule
  gives it (a duplicate of a day already running or refreshed is skipped by the claim, as usual);
* a status change event for the claim function closes the execution's records it left RUNNING.

A message is deleted only once its replay was accepted. `personalize-refresh dlq [--replay]` runs this.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pipeline import Pipeline


ATTRIBUTES = ("RULE_ARN", "TARGET_ARN", "ERROR_CODE", "ERROR_MESSAGE")


@dataclass(frozen=True)
class DeadLetter:
    receipt_handle: str
    event: dict[str, Any]
    target_arn: str
    error: str

    @property
    def target_service(self) -> str:
        return self.target_arn.split(":")[2] if self.target_arn.count(":") >= 2 else ""


def glue_refresh_input(event: dict[str, Any]) -> dict[str, Any]:
    """The execution input the trigger rule's input transformer makes of a Glue success event."""
    detail = event.get("detail", {})
    return {
        "trigger": "glue",
        "job_name": detail.get("jobName"),
        "job_run_id": detail.get("jobRunId"),
        "event_time": event.get("time"),
    }


def read(sqs: Any, queue_url: str, *, limit: int = 100) -> Iterator[DeadLetter]:
    """The queue's messages, up to `limit`; they stay hidden for a few minutes once read."""
    seen = 0
    while seen < limit:
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, limit - seen),
            MessageAttributeNames=list(ATTRIBUTES),
            VisibilityTimeout=300,
            WaitTimeSeconds=0,
        )
        messages = response.get("Messages", [])
        if not messages:
            return
        for message in messages:
            seen += 1
            attributes = {k: v.get("StringValue", "") for k, v in message.get("MessageAttributes", {}).items()}
            yield DeadLetter(
                receipt_handle=message["ReceiptHandle"],
                event=json.loads(message["Body"]),
                target_arn=attributes.get("TARGET_ARN", ""),
                error=f"{attributes.get('ERROR_CODE', '?')}: {attributes.get('ERROR_MESSAGE', '')}".strip(),
            )


def replay(letter: DeadLetter, *, stepfunctions: Any, lambda_: Any) -> str:
    """Do what the target would have done with the event; a line saying what was done."""
    if letter.target_service == "states":
        started = stepfunctions.start_execution(
            stateMachineArn=letter.target_arn,
            name=f"replay-{uuid.uuid4()}",
            input=json.dumps(glue_refresh_input(letter.event)),
        )
        return f"started {started['executionArn']}"
    if letter.target_service == "lambda":
        payload = {"action": "close", "execution": letter.event.get("detail", {})}
        answer = lambda_.invoke(FunctionName=letter.target_arn, Payload=json.dumps(payload))
        if answer.get("FunctionError"):
            raise RuntimeError(f"{letter.target_arn} failed: {answer['Payload'].read().decode()}")
        return f"closed {json.loads(answer['Payload'].read()).get('closed', [])}"
    raise ValueError(f"no replay for target {letter.target_arn or '(none given)'}")


def describe(letter: DeadLetter) -> str:
    detail = letter.event.get("detail", {})
    what = detail.get("jobRunId") or detail.get("executionArn") or letter.event.get("id", "?")
    return f"{letter.event.get('time', '?')}  {letter.event.get('detail-type', '?')}  {what}  ({letter.error})"


def handle(pipeline: Pipeline, *, replay: bool) -> list[dict[str, str]]:
    """Each dead letter of the stack's queues, described, and replayed with `replay`. A message not replayed
    is made visible again at once, so that the next listing or replay sees it."""
    entries = []
    for queue, letter in pipeline.dead_letters():
        entry = {"queue": queue, "event": describe(letter), "error": letter.error}
        if replay:
            try:
                entry["replayed"] = pipeline.replay(queue, letter)
            except Exception as error:  # reported; the message stays in its queue for another try
                entry["not_replayed"] = str(error)
                pipeline.release(queue, letter)
        else:
            pipeline.release(queue, letter)
        entries.append(entry)
    return entries
