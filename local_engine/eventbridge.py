"""Delivers EventBridge events to Step Functions and Lambda targets on the embedded AWS.

moto's EventBridge matches a rule's pattern but has no Step Functions or Lambda target,
and its input transformer leaves string values unquoted. This module adds the delivery:
the rule's own pattern decides, the target's InputTransformer shapes the input the way
EventBridge does, the execution starts as the target's role would start it, and a
function is invoked asynchronously, as EventBridge invokes one. Every event a bus accepted is
kept too, in order, as EventBridge would deliver it to a rule's target (``Deliveries.events``).
Schedules fire only when asked (``deliver_scheduled_event``): nothing fires them on the virtual clock.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3
from moto.events import models as events_models
from moto.utilities.arns import parse_arn

from local_engine.authorization import acting_as

_PLACEHOLDER = re.compile(r'("?)<([A-Za-z0-9_.\-]+)>("?)')
_lock = threading.Lock()


class Deliveries:
    """What the patched rules delivered: (rule name, execution ARN, input) per execution started."""

    def __init__(self) -> None:
        self.started: list[tuple[str, str, dict[str, Any]]] = []
        self.invoked: list[tuple[str, str, dict[str, Any]]] = []  # (rule name, function ARN, event)
        self.events: list[dict[str, Any]] = []  # every event a bus accepted, shaped as a target receives it


def delivered_event(entry: dict[str, Any], event_id: str) -> dict[str, Any]:
    """A PutEvents entry as EventBridge hands it to a rule's target (the fields a pattern can match)."""
    return {
        "id": event_id,
        "source": entry.get("Source"),
        "detail-type": entry.get("DetailType"),
        "event-bus": entry.get("EventBusName") or "default",
        "resources": list(entry.get("Resources") or []),
        "detail": json.loads(entry.get("Detail") or "{}"),
    }


def transform_input(target: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """The input EventBridge gives a target: the whole event, or its InputTransformer's template filled in."""
    transformer = target.get("InputTransformer")
    if not transformer:
        return json.loads(target["Input"]) if target.get("Input") else event
    values = {name: _path_value(event, path) for name, path in transformer.get("InputPathsMap", {}).items()}

    def fill(match: re.Match[str]) -> str:
        open_quote, name, close_quote = match.groups()
        if name not in values:
            return match.group(0)
        value = values[name]
        if open_quote and close_quote:
            # Inside quotes EventBridge inserts the raw text of a string value.
            return json.dumps(value if isinstance(value, str) else json.dumps(value))
        return open_quote + json.dumps(value) + close_quote

    return json.loads(_PLACEHOLDER.sub(fill, transformer["InputTemplate"]))


def invoke_target(target: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """Invoke a function target asynchronously, as EventBridge does, with the input the target gives it."""
    payload = transform_input(target, event)
    boto3.client("lambda", region_name=parse_arn(target["Arn"]).region).invoke(
        FunctionName=target["Arn"], InvocationType="Event", Payload=json.dumps(payload)
    )
    return payload


def deliver_scheduled_event(rule_arn: str, targets: list[dict[str, Any]], moment: datetime) -> list[dict[str, Any]]:
    """What a schedule rule delivers when it fires at `moment`: its "Scheduled Event" to each of its function
    targets, as EventBridge itself; the input each was given."""
    _, _, _, region, account, _ = rule_arn.split(":", 5)
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": _event_time(moment.timestamp()),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }
    with acting_as(None):
        return [invoke_target(target, event) for target in targets if parse_arn(target["Arn"]).service == "lambda"]


def _path_value(event: dict[str, Any], path: str) -> Any:
    value: Any = event
    for part in path.removeprefix("$.").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _event_time(value: Any) -> str:
    # moto keeps `time` as epoch seconds; EventBridge delivers ISO-8601 in UTC.
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


@contextmanager
def deliver_to_state_machines() -> Iterator[Deliveries]:
    deliveries = Deliveries()
    original = events_models.Rule.send_to_targets

    def send_to_targets(rule: Any, original_event: dict[str, Any], transform_input_: bool = True) -> None:
        if not rule.event_pattern.matches_event(original_event):
            return
        # EventBridge delivers, not whoever put the event (the state machine's stage events among them).
        with acting_as(None):
            _send(rule, original_event, transform_input_)

    def _send(rule: Any, original_event: dict[str, Any], transform_input_: bool) -> None:
        event = {**original_event, "time": _event_time(original_event.get("time"))}
        others = []
        for target in rule.targets:
            arn = parse_arn(target["Arn"])
            if arn.service == "lambda":
                deliveries.invoked.append((rule.name, target["Arn"], invoke_target(target, event)))
                continue
            if arn.service != "states":
                others.append(target)
                continue
            execution_input = transform_input(target, event)
            client = boto3.client("stepfunctions", region_name=arn.region)
            # EventBridge names each execution it starts with a fresh id, and starts it as the target's role.
            with acting_as(target.get("RoleArn"), rule.name):
                started = client.start_execution(
                    stateMachineArn=target["Arn"], name=str(uuid.uuid4()), input=json.dumps(execution_input)
                )
            deliveries.started.append((rule.name, started["executionArn"], execution_input))
        if others:
            with _lock:
                states_targets, rule.targets = rule.targets, others
                try:
                    original(rule, event, transform_input_)  # type: ignore[arg-type]
                finally:
                    rule.targets = states_targets

    original_put_events = events_models.EventsBackend.put_events

    def put_events(backend: Any, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        results = original_put_events(backend, entries)
        with _lock:
            for entry, result in zip(entries, results, strict=True):
                if "EventId" in result:
                    deliveries.events.append(delivered_event(entry, result["EventId"]))
        return results

    events_models.Rule.send_to_targets = send_to_targets  # type: ignore[method-assign,assignment]
    events_models.EventsBackend.put_events = put_events  # type: ignore[method-assign,assignment]
    try:
        yield deliveries
    finally:
        events_models.Rule.send_to_targets = original  # type: ignore[method-assign]
        events_models.EventsBackend.put_events = original_put_events  # type: ignore[method-assign]
