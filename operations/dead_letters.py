"""Show, and replay, the events EventBridge could not deliver, and what the run function failed to do.

Each rule of the stack gives up on an event after 24 h of retries and leaves it in its dead-letter
queue: the message body is the event, and its attributes say which rule and target failed and why
(RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE). Replaying re-does what the target would have done:

* a Glue success event for the state machine starts the refresh with the input the trigger rule
  gives it (a duplicate of a day already running or refreshed is skipped by the claim, as usual);
* a status change event for the claim function closes the execution's records it left RUNNING.

The run function's asynchronous invocations (a close, a sweep) that raised on every attempt go to its
on-failure destination: the message body is Lambda's invocation record (`requestContext` names the
function and why it gave up, `requestPayload` is the input, `responsePayload` the error). Replaying
invokes the function with that input again: the close, or the sweep, is done once more (either is
harmless when repeated: a record already closed is left alone, and alerted only once).

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
    event: dict[str, Any]  # the event EventBridge could not deliver; for a failed invocation, the function's input
    target_arn: str
    error: str
    time: str = "?"  # when the event happened, or the invocation was given up
    invocation: bool = False  # a record of a function's asynchronous invocation that failed every attempt

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
            body = json.loads(message["Body"])
            if isinstance(body, dict) and "requestContext" in body and "requestPayload" in body:
                yield _failed_invocation(message["ReceiptHandle"], body)
                continue
            attributes = {k: v.get("StringValue", "") for k, v in message.get("MessageAttributes", {}).items()}
            yield DeadLetter(
                receipt_handle=message["ReceiptHandle"],
                event=body,
                target_arn=attributes.get("TARGET_ARN", ""),
                error=f"{attributes.get('ERROR_CODE', '?')}: {attributes.get('ERROR_MESSAGE', '')}".strip(),
                time=str(body.get("time", "?")),
            )


def _failed_invocation(receipt_handle: str, record: dict[str, Any]) -> DeadLetter:
    """Lambda's invocation record of an asynchronous invocation it gave up on."""
    context, response = record["requestContext"], record.get("responsePayload") or {}
    attempts = f"{context.get('condition', '?')} after {context.get('approximateInvokeCount', '?')} attempts"
    return DeadLetter(
        receipt_handle=receipt_handle,
        event=record["requestPayload"],
        # The version it ran (":$LATEST") is left off: the replay invokes the function as EventBridge did.
        target_arn=":".join(str(context.get("functionArn", "")).split(":")[:7]),
        error=f"{attempts}: {response.get('errorType', '?')}: {response.get('errorMessage', '')}".strip(),
        time=str(record.get("timestamp", "?")),
        invocation=True,
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
        payload = letter.event if letter.invocation else {"action": "close", "execution": letter.event.get("detail")}
        answer = lambda_.invoke(FunctionName=letter.target_arn, Payload=json.dumps(payload))
        if answer.get("FunctionError"):
            raise RuntimeError(f"{letter.target_arn} failed: {answer['Payload'].read().decode()}")
        closed = json.loads(answer["Payload"].read()).get("closed", [])
        if payload.get("action") == "sweep":  # the campaigns closed, by execution
            closed = [name for run in closed for name in run["closed"]]
        return f"closed {closed}"
    raise ValueError(f"no replay for target {letter.target_arn or '(none given)'}")


def describe(letter: DeadLetter) -> str:
    if letter.invocation:
        execution = letter.event.get("execution") or {}
        what = execution.get("executionArn") or "every record still RUNNING"
        return f"{letter.time}  run function's {letter.event.get('action', '?')}  {what}  ({letter.error})"
    detail = letter.event.get("detail", {})
    what = detail.get("jobRunId") or detail.get("executionArn") or letter.event.get("id", "?")
    return f"{letter.time}  {letter.event.get('detail-type', '?')}  {what}  ({letter.error})"


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
