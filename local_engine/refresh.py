"""A whole refresh on the embedded AWS: the synthesized stack deployed on moto, the Personalize
emulator behind moto's endpoint, the real handlers in-process, all on one virtual clock.

Used by the workflow tests and by the rehearsal command.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import boto3
from boto3.dynamodb.types import TypeDeserializer
from moto.dynamodb.models import table as moto_table
from moto.utilities.arns import parse_arn

from infra.config import RefreshConfig
from refresh_common.schema import plain

from .aws import LocalAws
from .clock import VirtualClock
from .deployment import LAMBDAS_DIR, LocalDeployment
from .eventbridge import deliver_scheduled_event, deliver_to_state_machines
from .personalize import PersonalizeEmulator, PersonalizeError
from .personalize.endpoint import serve
from .strictness import HISTORY_EVENT_QUOTA

# A Sunday 01:00 in Seoul: when the weekly export has just finished.
DEFAULT_START = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
WAIT_LIMIT = 120  # seconds of wall time one execution may take before the harness gives up
# Top-level modules under lambdas/: the shared package and the handlers.
_HANDLER_PACKAGES = frozenset({"refresh_common"} | {p.stem for p in LAMBDAS_DIR.glob("*.py")})


@dataclass(frozen=True)
class RecordWrite:
    """One write to the run table: when it happened (simulated time) and the record as it stood after it."""

    at: datetime
    record: dict[str, Any]


@dataclass(frozen=True)
class PersonalizeCall:
    """One call that reached the Personalize emulator, when (simulated time), and the error it was answered
    with, if any."""

    at: datetime
    operation: str
    params: dict[str, Any]
    error_code: str | None = None
    error_message: str | None = None


class LocalRefresh:
    """Context manager: everything a refresh needs, deployed from the synthesized template."""

    def __init__(
        self,
        template: dict[str, Any],
        config: RefreshConfig,
        *,
        start: datetime = DEFAULT_START,
        history_event_quota: int = HISTORY_EVENT_QUOTA,
        solutions: Mapping[str, Mapping[str, Any]] | None = None,
        campaigns: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """`solutions` and `campaigns` give, by ARN, how the user's own solutions and campaigns differ from
        the emulator's defaults (`add_solution` and `add_campaign` keywords: a recipe, automatic training,
        a campaign config)."""
        self.template = template
        self.config = config
        self._solutions = dict(solutions or {})
        self._campaigns = dict(campaigns or {})
        self.clock = VirtualClock(start)
        self.emulator = PersonalizeEmulator(self.clock.now, account_id=config.account, region=config.region)
        self.personalize_calls: list[PersonalizeCall] = []
        self._log_personalize_calls()
        self.aws = LocalAws(self.clock, region=config.region, history_event_quota=history_event_quota)
        self._stack = ExitStack()
        self._clients: dict[str, Any] = {}
        self.deployment: LocalDeployment

    def __enter__(self) -> LocalRefresh:
        try:
            self._stack.enter_context(moto_account(self.config.account))
            self._stack.enter_context(self.aws)
            self._stack.enter_context(serve(self.emulator))
            self.deliveries = self._stack.enter_context(deliver_to_state_machines())
            self._use_clock_in_handlers()
            _start_cold_containers()
            self._stack.callback(_start_cold_containers)
            self.deployment = LocalDeployment(self.template, self.aws, account=self.config.account).deploy()
            self._create_clients()
            self._observe_record_writes()
            self.campaign_versions = self._seed_personalize()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stack.close()

    # Triggers ---------------------------------------------------------------------------------------

    def glue_event(self, *, job_name: str | None = None, state: str = "SUCCEEDED") -> dict[str, Any]:
        """A Glue Job State Change event as EventBridge delivers it (shape of AWS's documented sample)."""
        return {
            "Source": "aws.glue",
            "DetailType": "Glue Job State Change",
            "Time": self.clock.now(),
            "Resources": [],
            "Detail": json.dumps(
                {
                    "jobName": job_name or self.config.glue_job_names[0],
                    "severity": "INFO" if state == "SUCCEEDED" else "ERROR",
                    "state": state,
                    "jobRunId": "jr_" + uuid.uuid4().hex + uuid.uuid4().hex,
                    "message": "Job run succeeded" if state == "SUCCEEDED" else "Job run failed",
                }
            ),
        }

    def put_glue_event(self, event: dict[str, Any] | None = None, **kwargs: Any) -> list[str]:
        """Put a Glue event (`event`, or a new one built from `kwargs`) on the default bus; the executions the
        rule started, if any. Putting the same event twice is a duplicate delivery."""
        before = len(self.deliveries.started)
        response = self.client("events").put_events(Entries=[event or self.glue_event(**kwargs)])
        if response["FailedEntryCount"]:
            raise RuntimeError(f"EventBridge refused the event: {response['Entries']}")
        return [arn for _, arn, _ in self.deliveries.started[before:]]

    def start_manual(self, payload: Any) -> str:
        """An operator's manual start (a back-fill or re-run), as from the console."""
        return self.client("stepfunctions").start_execution(
            stateMachineArn=self.deployment.state_machine_arn, name=f"manual-{uuid.uuid4()}", input=json.dumps(payload)
        )["executionArn"]

    def fire_schedules(self) -> list[dict[str, Any]]:
        """Fire the stack's schedules now (the hourly checks: freshness, and the sweep of unrecorded ends), as
        EventBridge would: each function target is invoked asynchronously. The input each target was given."""
        return [
            given
            for rule_arn, targets in self.deployment.schedules().items()
            for given in deliver_scheduled_event(rule_arn, targets, self.clock.now())
        ]

    def wait(self, execution_arn: str) -> dict[str, Any]:
        """Block (wall time) until the execution has ended and its status change event was delivered
        (it may close the run record); its description."""
        client = self.client("stepfunctions")
        deadline = time.monotonic() + WAIT_LIMIT
        self.aws.status_events.wait_announced(execution_arn, WAIT_LIMIT)
        while (description := client.describe_execution(executionArn=execution_arn))[
            "status"
        ] == "RUNNING" or not self.aws.status_events.announced(execution_arn):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still RUNNING after {WAIT_LIMIT} s of wall time")
            time.sleep(0.005)
        return dict(description)

    # What an operator sees --------------------------------------------------------------------------

    def client(self, service_name: str) -> Any:
        """This deployment's client of a service: created once, before any execution runs (see _create_clients)."""
        if service_name not in self._clients:
            self._clients[service_name] = self.aws.client(service_name)
        return self._clients[service_name]

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """The run's history: the execution's own events, then those of each execution it started (a
        dataset's import, a campaign's refresh), in the order it started them."""
        events = self.execution_history(execution_arn)
        for child in self.children(events):
            events += self.history(child)
        return events

    def execution_history(self, execution_arn: str) -> list[dict[str, Any]]:
        """One execution's own events, as GetExecutionHistory gives them."""
        client = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        for page in client.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
        return events

    @staticmethod
    def children(events: list[dict[str, Any]]) -> list[str]:
        """The executions an execution started, from its history (each startExecution Task's submission)."""
        return [
            json.loads(event["taskSubmittedEventDetails"]["output"])["ExecutionArn"]
            for event in events
            if event.get("taskSubmittedEventDetails", {}).get("resourceType") == "states"
        ]

    def run_records(self) -> list[dict[str, Any]]:
        items = self._table.scan(ConsistentRead=True)["Items"]
        return sorted((plain(item) for item in items), key=lambda i: (i["campaign_name"], i["base_date"]))

    def run_record(self, campaign_name: str, base_date: int) -> dict[str, Any]:
        item = self._table.get_item(Key={"campaign_name": campaign_name, "base_date": base_date}, ConsistentRead=True)
        return plain(item["Item"])

    def record_writes(self) -> list[RecordWrite]:
        """Every write to the run table so far, in order, whoever made it (a Lambda or the state machine)."""
        table = self._moto_table()
        deserialize = TypeDeserializer().deserialize
        writes = []
        for stream_record in list(table.stream_shard.items):
            change = stream_record.record["dynamodb"]
            if "NewImage" in change:
                record = {k: plain(deserialize(v)) for k, v in change["NewImage"].items()}
                writes.append(RecordWrite(change["ApproximateCreationDateTime"].replace(tzinfo=UTC), record))
        return writes

    def state_machine_definition(self) -> dict[str, Any]:
        """The definition as deployed: the synthesized one, its tokens resolved."""
        described = self.client("stepfunctions").describe_state_machine(
            stateMachineArn=self.deployment.state_machine_arn
        )
        return dict(json.loads(described["definition"]))

    def alerts(self) -> list[tuple[str, str]]:
        """(subject, message) of every message published to the alert topic."""
        from moto.sns.models import sns_backends

        topic_arn = parse_arn(self.deployment.topic_arn)
        topic = sns_backends[topic_arn.account][topic_arn.region].topics[self.deployment.topic_arn]
        return [(subject or "", message) for _, message, subject, *_ in topic.sent_notifications]

    def stage_events(self) -> list[dict[str, Any]]:
        """Every stage event the refresh put on the default bus, in order, as a consumer's rule receives it."""
        # Imported here: infra.constants loads the CDK (and its Node) which a rehearsal starts only once it
        # has chosen the project's Node.
        from infra.constants import EVENT_SOURCE

        return [e for e in self.deliveries.events if e["source"] == EVENT_SOURCE and e["event-bus"] == "default"]

    def serving_version(self, campaign_name: str) -> str:
        campaign = next(c for c in self.config.campaigns if c.name == campaign_name)
        described = self.client("personalize").describe_campaign(campaignArn=campaign.campaign_arn)
        return str(described["campaign"]["solutionVersionArn"])

    # Set-up ----------------------------------------------------------------------------------------

    def _seed_personalize(self) -> dict[str, str]:
        """The dataset group as the user has it before the first refresh; each campaign's current version."""
        for dataset in self.config.datasets:
            self.emulator.add_dataset(dataset.dataset_arn)
        versions = {}
        for campaign in self.config.campaigns:
            self.emulator.add_solution(campaign.solution_arn, **self._solutions.get(campaign.solution_arn, {}))
            versions[campaign.name] = self.emulator.add_campaign(
                campaign.campaign_arn,
                solution_arn=campaign.solution_arn,
                **({"min_provisioned_tps": 2} | dict(self._campaigns.get(campaign.campaign_arn, {}))),
            )
        return versions

    def _log_personalize_calls(self) -> None:
        """Keep every call and its answer, so a rehearsal can show the errors that the Lambdas' SDK retried,
        which no execution history shows."""
        call = self.emulator.call

        def logged(operation: str, params: Any) -> dict[str, Any]:
            at, kept = self.clock.now(), json.loads(json.dumps(params, default=str))
            try:
                response = call(operation, params)
            except PersonalizeError as error:
                self.personalize_calls.append(PersonalizeCall(at, operation, kept, error.code, error.message))
                raise
            self.personalize_calls.append(PersonalizeCall(at, operation, kept))
            return response

        self.emulator.call = logged  # type: ignore[method-assign]

    def _create_clients(self) -> None:
        """Create the clients the harness uses up front: creating one reads the whole process environment,
        which the in-process Lambdas change while executions run."""
        for service_name in ("stepfunctions", "events", "personalize", "dynamodb"):
            self.client(service_name)
        self._table = boto3.resource("dynamodb", region_name=self.config.region).Table(self.deployment.table_name)

    def _observe_record_writes(self) -> None:
        """Keep every version of every run record, as a DynamoDB stream would, stamped with simulated time.

        The deployed table has no stream; this one only lets the rehearsal show how each record changed.
        """
        table = self._moto_table()
        if table.stream_shard is None:
            self.client("dynamodb").update_table(
                TableName=self.deployment.table_name,
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
            )
        # moto stamps stream records with wall time; the naive UTC `now` it expects, read off the clock.
        clock_now = mock.patch.object(moto_table, "utcnow", lambda: self.clock.now().replace(tzinfo=None))
        self._stack.enter_context(clock_now)

    def _moto_table(self) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[self.config.account][self.config.region].get_table(self.deployment.table_name)

    def _use_clock_in_handlers(self) -> None:
        if str(LAMBDAS_DIR) not in sys.path:
            sys.path.insert(0, str(LAMBDAS_DIR))
        from refresh_common import clock as handler_clock

        original = handler_clock.now
        handler_clock.now = self.clock.time  # type: ignore[assignment]
        self._stack.callback(setattr, handler_clock, "now", original)


def _start_cold_containers() -> None:
    """Forget the AWS clients the handler modules cached (`functools.cache`), as new Lambda containers would.

    A client is bound to the region and account it was created for; one cached during an earlier local
    deployment would send this deployment's calls to that one's resources.
    """
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] not in _HANDLER_PACKAGES or module is None:
            continue
        for value in list(vars(module).values()):
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


@contextmanager
def moto_account(account: str) -> Iterator[None]:
    """Make moto create every resource in `account`.

    moto takes the account of each request from MOTO_ACCOUNT_ID, else from the request's access key, which
    for the state machine's own service calls is always a fixed one (so its default account, 123456789012).
    Only the variable reaches them all, so it is set for the whole refresh and put back afterwards.
    """
    previous = os.environ.get("MOTO_ACCOUNT_ID")
    os.environ["MOTO_ACCOUNT_ID"] = account
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MOTO_ACCOUNT_ID", None)
        else:
            os.environ["MOTO_ACCOUNT_ID"] = previous
