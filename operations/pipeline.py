"""The deployed pipeline as the operator CLI sees it: its resources (from the stack's outputs) and what can be
asked of them. The same code runs against AWS and against the local engine a rehearsal saved, through
boto3 clients either way.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from . import dead_letters
from .dead_letters import DeadLetter


class OperatorError(Exception):
    """Something the operator asked cannot be done; the message says why and what to do instead."""


@dataclass(frozen=True)
class StackResources:
    """What the CLI works on, read from the stack's outputs."""

    stack_name: str
    region: str
    state_machine_arn: str
    table_name: str
    topic_arn: str
    dead_letter_queues: dict[str, str]  # the output naming each queue -> its URL
    campaign_names: tuple[str, ...]
    time_zone: str
    run_function: str  # claims runs and closes those an execution left RUNNING

    @classmethod
    def from_outputs(cls, stack_name: str, region: str, outputs: Mapping[str, str]) -> StackResources:
        needed = ("StateMachineArn", "RunTableName", "AlertTopicArn", "CampaignNames", "TimeZone", "RunFunctionName")
        if missing := [name for name in needed if name not in outputs]:
            raise OperatorError(
                f"stack {stack_name} has no output {', '.join(missing)}: deploy this version of the project "
                "(`cdk deploy`) first"
            )
        return cls(
            stack_name=stack_name,
            region=region,
            state_machine_arn=outputs["StateMachineArn"],
            table_name=outputs["RunTableName"],
            topic_arn=outputs["AlertTopicArn"],
            dead_letter_queues={k: v for k, v in sorted(outputs.items()) if k.endswith("DeadLetterQueueUrl")},
            campaign_names=tuple(name for name in outputs["CampaignNames"].split(",") if name),
            time_zone=outputs["TimeZone"],
            run_function=outputs["RunFunctionName"],
        )


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    try:
        (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            raise OperatorError(
                f"no stack {stack_name} in this account and region: pass --stack NAME and --region REGION"
            ) from None
        raise
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


class Runs(Protocol):
    """Where `runs` and `show` read from: the deployed pipeline, or the state a rehearsal saved."""

    resources: StackResources

    def records(self, campaigns: Iterable[str], since: int, until: int) -> list[dict[str, Any]]: ...

    def record(self, campaign: str, base_date: int) -> dict[str, Any] | None: ...

    def execution(self, execution_arn: str) -> dict[str, Any] | None: ...

    def history(self, execution_arn: str) -> list[dict[str, Any]]: ...


class Pipeline:
    """The deployed pipeline, through boto3 clients (`clients(service)` returns one) and the run table's
    boto3 resource."""

    def __init__(
        self,
        clients: Callable[[str], Any],
        resources: StackResources,
        *,
        table: Any,
        earlier_executions: Mapping[str, tuple[dict[str, Any], list[dict[str, Any]]]] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        run_to_end: Callable[[str], Any] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`earlier_executions`: executions the service no longer holds (a saved local engine's), by ARN;
        `run_to_end`: how to run an execution to its end at once, where time is simulated; `now`: the time."""
        self.clients = clients
        self.resources = resources
        self.table = table
        self._earlier = dict(earlier_executions or {})
        self._sleep = sleep
        self.run_to_end = run_to_end
        self.now = now
        self.started: list[str] = []  # executions this session started

    # Reading -------------------------------------------------------------------------------------------

    def records(self, campaigns: Iterable[str], since: int, until: int) -> list[dict[str, Any]]:
        table = self.table
        found: list[dict[str, Any]] = []
        for campaign in campaigns:
            query: dict[str, Any] = {
                "KeyConditionExpression": Key("campaign_name").eq(campaign) & Key("base_date").between(since, until),
                "ScanIndexForward": False,
            }
            while True:
                page = table.query(**query)
                found.extend(page["Items"])
                if "LastEvaluatedKey" not in page:
                    break
                query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found

    def record(self, campaign: str, base_date: int) -> dict[str, Any] | None:
        item = self.table.get_item(Key={"campaign_name": campaign, "base_date": base_date}, ConsistentRead=True)
        return item.get("Item")

    def execution(self, execution_arn: str) -> dict[str, Any] | None:
        if execution_arn in self._earlier:
            return self._earlier[execution_arn][0]
        try:
            return dict(self.clients("stepfunctions").describe_execution(executionArn=execution_arn))
        except ClientError as error:
            if error.response["Error"]["Code"] in ("ExecutionDoesNotExist", "ResourceNotFound"):
                return None
            raise

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        if execution_arn in self._earlier:
            return self._earlier[execution_arn][1]
        events: list[dict[str, Any]] = []
        paginator = self.clients("stepfunctions").get_paginator("get_execution_history")
        for page in paginator.paginate(executionArn=execution_arn):
            events.extend(page["events"])
        return events

    def serving_version(self, campaign_arn: str) -> str | None:
        campaign = self.clients("personalize").describe_campaign(campaignArn=campaign_arn)["campaign"]
        return campaign.get("solutionVersionArn")

    # Acting --------------------------------------------------------------------------------------------

    def start(self, payload: dict[str, Any], *, label: str) -> str:
        """Start a refresh with `payload` (a manual start); the execution's ARN."""
        name = f"{label}-{payload.get('base_date', '')}-{uuid.uuid4().hex[:12]}"
        arn = str(
            self.clients("stepfunctions").start_execution(
                stateMachineArn=self.resources.state_machine_arn, name=name, input=json.dumps(payload)
            )["executionArn"]
        )
        self.started.append(arn)
        return arn

    def stop(self, execution_arn: str, *, cause: str) -> None:
        self.clients("stepfunctions").stop_execution(executionArn=execution_arn, error="StoppedByOperator", cause=cause)

    def close(self, execution: dict[str, Any]) -> list[str]:
        """Give the records an ended execution left RUNNING their final status, as its end event would have
        (the run function's `close` action: it also alerts, once); the campaigns closed."""
        detail = {
            "executionArn": execution["executionArn"],
            "stateMachineArn": execution.get("stateMachineArn", self.resources.state_machine_arn),
            "status": execution["status"],
            "input": execution.get("input"),
            "error": execution.get("error"),
            "cause": execution.get("cause"),
        }
        answer = self.clients("lambda").invoke(
            FunctionName=self.resources.run_function,
            Payload=json.dumps({"action": "close", "execution": detail}, default=str),
        )
        payload = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            raise OperatorError(f"closing {execution['executionArn']} failed: {payload}")
        return list(payload.get("closed", [])) if isinstance(payload, dict) else []

    def wait_until(
        self,
        what: str,
        ready: Callable[[], bool],
        *,
        timeout: float,
        every: float = 2.0,
        progress: Callable[[str], None] = lambda _: None,
    ) -> None:
        """Wait until `ready()`, checking every `every` seconds; OperatorError naming `what` after `timeout`."""
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise OperatorError(f"gave up waiting for {what} after {timeout:.0f} s")
            progress(what)
            self._sleep(every)

    def dead_letters(self) -> list[tuple[str, DeadLetter]]:
        """Every message in the stack's dead-letter queues, with the output naming its queue."""
        sqs = self.clients("sqs")
        return [
            (name, letter)
            for name, url in self.resources.dead_letter_queues.items()
            for letter in dead_letters.read(sqs, url)
        ]

    def replay(self, queue: str, letter: DeadLetter) -> str:
        done = dead_letters.replay(letter, stepfunctions=self.clients("stepfunctions"), lambda_=self.clients("lambda"))
        self.clients("sqs").delete_message(
            QueueUrl=self.resources.dead_letter_queues[queue], ReceiptHandle=letter.receipt_handle
        )
        if done.startswith("started "):
            self.started.append(done.removeprefix("started "))
        return done

    def release(self, queue: str, letter: DeadLetter) -> None:
        """Make a message read but not replayed visible again at once."""
        self.clients("sqs").change_message_visibility(
            QueueUrl=self.resources.dead_letter_queues[queue], ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0
        )


def deserialized(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items in DynamoDB's own JSON (a low-level Scan's) as the table resource returns them."""
    deserialize = TypeDeserializer().deserialize
    return [{key: deserialize(value) for key, value in item.items()} for item in items]
