"""What a local engine holds when a rehearsal ends, saved so that a later session resumes from it.

The operator CLI's `--local` works on it: `make demo` saves its engine to `.rehearsal/last.pickle.gz`, and each
`personalize-refresh ... --local` command reads it (`runs`, `show`, `dlq`) or resumes the engine from it,
acts, and saves it again (`start`, `retry`, `reconcile --fix`, `dlq --replay`).

Saved: the configuration and its synthesized template, the simulated time, the run table's items, every
S3 object, the messages in the stack's queues, what the Personalize emulator holds, and every execution
(its description and history: moto cannot be given back an execution, so the ones of earlier sessions
are kept here). The file is a pickle the project wrote itself; it is never shared or committed.
"""

from __future__ import annotations

import gzip
import os
import pickle
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from infra.config import RefreshConfig, parse_config

from . import assets
from .refresh import LocalRefresh
from .synth import synthesize

SAVED_ENGINE = Path(".rehearsal/last.pickle.gz")
# Where to save and read it instead (the tests use it to keep the checkout's own file untouched).
SAVED_ENGINE_VARIABLE = "PERSONALIZE_REFRESH_LOCAL_STATE"
# Bumped whenever the saved fields change: an older file is refused with a clear message.
FORMAT = 1


class NoSavedEngine(RuntimeError):
    """There is no saved engine to resume, or it cannot be read; the message says what to run."""


@dataclass
class SavedExecution:
    description: dict[str, Any]
    history: list[dict[str, Any]]


@dataclass
class SavedEngine:
    config: dict[str, Any]
    source: str  # where the configuration came from, for messages
    template: dict[str, Any]
    outputs: dict[str, str]  # the stack's outputs, resolved as `cdk deploy` prints them
    now: datetime
    table_items: list[dict[str, Any]]  # DynamoDB's own JSON, as Scan returns it
    objects: list[tuple[str, str, bytes]]  # (bucket, key, body)
    queue_messages: dict[str, list[dict[str, Any]]]  # by the stack output naming the queue's URL
    personalize: dict[str, Any]
    executions: dict[str, SavedExecution] = field(default_factory=dict)
    format: int = FORMAT

    def refresh_config(self) -> RefreshConfig:
        return parse_config(self.config, source=self.source)


def save(
    refresh: LocalRefresh, *, source: str, path: Path = SAVED_ENGINE, earlier: SavedEngine | None = None
) -> SavedEngine:
    """Save what `refresh` holds now, with the executions of `earlier` sessions; the saved engine."""
    saved = SavedEngine(
        config=refresh.config.model_dump(mode="json"),
        source=source,
        template=refresh.template,
        outputs={name: refresh.deployment.output(name) for name in refresh.template.get("Outputs", {})},
        now=refresh.clock.now(),
        table_items=_table_items(refresh),
        objects=_objects(refresh),
        queue_messages={name: _messages(refresh, url) for name, url in _queues(refresh).items()},
        personalize=refresh.emulator.saved_state(),
        executions=dict(earlier.executions) if earlier else {},
    )
    sfn = refresh.client("stepfunctions")
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=refresh.deployment.state_machine_arn):
        for listed in page["executions"]:
            arn = listed["executionArn"]
            saved.executions[arn] = SavedExecution(dict(sfn.describe_execution(executionArn=arn)), refresh.history(arn))
    write(saved, path)
    return saved


def write(saved: SavedEngine, path: Path = SAVED_ENGINE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(gzip.compress(pickle.dumps(saved), compresslevel=1))
    temporary.replace(path)  # a reader never sees half a file


def saved_engine_path() -> Path:
    return Path(os.environ.get(SAVED_ENGINE_VARIABLE) or SAVED_ENGINE)


def load(path: Path = SAVED_ENGINE) -> SavedEngine:
    if not path.is_file():
        raise NoSavedEngine(f"no rehearsal saved at {path}: run `make demo` first")
    try:
        saved = pickle.loads(gzip.decompress(path.read_bytes()))  # this project's own file: see the docstring
    except Exception as error:
        raise NoSavedEngine(f"{path} cannot be read ({error}): run `make demo` again") from None
    if not isinstance(saved, SavedEngine) or saved.format != FORMAT:
        raise NoSavedEngine(f"{path} was saved by another version of the project: run `make demo` again")
    return saved


def resume(saved: SavedEngine) -> LocalRefresh:
    """A local engine (not yet entered) that, once entered, holds what `saved` held, at the time it was saved."""
    return _Resumed(saved)


class _Resumed(LocalRefresh):
    def __init__(self, saved: SavedEngine) -> None:
        super().__init__(saved.template, saved.refresh_config(), start=saved.now)
        self.saved = saved
        _publish_code(saved.template, self.config)

    def __enter__(self) -> _Resumed:
        super().__enter__()
        try:
            self._restore()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _restore(self) -> None:
        saved = self.saved
        self.emulator.restore_state(saved.personalize)
        dynamodb = self.client("dynamodb")
        for item in saved.table_items:
            dynamodb.put_item(TableName=self.deployment.table_name, Item=item)
        s3 = self.aws.client("s3")
        for bucket in sorted({bucket for bucket, _, _ in saved.objects}):
            where = {} if self.config.region == "us-east-1" else {"LocationConstraint": self.config.region}
            s3.create_bucket(Bucket=bucket, **({"CreateBucketConfiguration": where} if where else {}))
        for bucket, key, body in saved.objects:
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        sqs, queues = self.aws.client("sqs"), _queues(self)
        for name, messages in saved.queue_messages.items():
            for message in messages:
                sqs.send_message(QueueUrl=queues[name], **message)


def _publish_code(template: dict[str, Any], config: RefreshConfig) -> None:
    """Publish the saved template's code assets again if they are gone (the temporary folder was emptied): the
    same code and configuration synthesize the same assets. Refused if this checkout's code is no longer the
    code that was saved."""
    codes = [r["Properties"]["Code"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    missing = [code for code in codes if not assets.location(code["S3Bucket"], code["S3Key"]).is_dir()]
    if not missing:
        return
    synthesize(config)
    if any(not assets.location(code["S3Bucket"], code["S3Key"]).is_dir() for code in missing):
        raise NoSavedEngine("the saved rehearsal ran other Lambda code than this checkout's: run `make demo` again")


def _table_items(refresh: LocalRefresh) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    paginator = refresh.client("dynamodb").get_paginator("scan")
    for page in paginator.paginate(TableName=refresh.deployment.table_name, ConsistentRead=True):
        items.extend(page["Items"])
    return items


def _objects(refresh: LocalRefresh) -> list[tuple[str, str, bytes]]:
    s3 = refresh.aws.client("s3")
    objects = []
    for bucket in s3.list_buckets().get("Buckets", []):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket["Name"], Key=item["Key"])["Body"].read()
                objects.append((bucket["Name"], item["Key"], body))
    return objects


def _queues(refresh: LocalRefresh) -> dict[str, str]:
    """The stack's queues, by the output that gives each one's URL."""
    outputs = refresh.template.get("Outputs", {})
    return {name: refresh.deployment.output(name) for name in outputs if name.endswith("QueueUrl")}


def _messages(refresh: LocalRefresh, queue_url: str) -> list[dict[str, Any]]:
    """The queue's messages (body and attributes), read without taking them off the queue for long."""
    sqs = refresh.aws.client("sqs")
    messages: list[dict[str, Any]] = []
    seen: set[str] = set()
    while True:
        received = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=30
        ).get("Messages", [])
        fresh = [m for m in received if m["MessageId"] not in seen]
        if not fresh:
            return messages
        for message in fresh:
            seen.add(message["MessageId"])
            saved: dict[str, Any] = {"MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                saved["MessageAttributes"] = {
                    name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
                    for name, value in message["MessageAttributes"].items()
                }
            messages.append(saved)
