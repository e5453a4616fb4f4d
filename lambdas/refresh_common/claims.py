"""Claim and close: which execution owns a campaign's run of a day, from the claim to the final status.

The state machine's first task claims the day's run for every campaign not already running or refreshed,
atomically; a duplicate event claims nothing and touches nothing, and a failed day (or, forced, a completed
one) is claimed again, keeping its earlier attempts. Only the execution that claimed a record writes it after.
The other end is `close`: Step Functions' status change event for an execution that ended without its own
Catch running (a timeout, an operator's stop, an uncatchable error) gives that execution's records still
RUNNING their final status, and alerts once. Those events are delivered best effort, so an hourly `sweep`
looks for records still RUNNING whose execution has ended and closes them the same way. All three run in the
start import Lambda (actions `claim`, `close`, `sweep`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.conditions import Attr as Condition
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from .errors import InvalidRunInput, RunRecordBusy
from .inputs import RunRequest, parse_run_input
from .logs import run_logger
from .run_record import RunTable
from .schema import ABANDONED, ABORTED, COMPLETED, FAILED, IMPORT, RERUNNABLE, RUNNING, TIMED_OUT, TRAINING, Attr
from .settings import CampaignSettings, Settings

# What an earlier attempt leaves in previous_attempts when a failed day is run again.
_ATTEMPT_SUMMARY = (
    Attr.ATTEMPT,
    Attr.EXECUTION_ARN,
    Attr.RUN_STATUS,
    Attr.FAILURE_PHASE,
    Attr.FAILURE_ERROR,
    Attr.FAILURE_REASON,
    Attr.STARTED_AT,
    Attr.ENDED_AT,
)
# previous_attempts keeps the newest attempts, each reason cut short, so the item stays far below
# DynamoDB's 400 KB however often a day is re-run (the `attempt` counter still counts them all).
MAX_PREVIOUS_ATTEMPTS = 10
MAX_SUMMARY_REASON = 1_000
# Why DynamoDB cancels a transaction (CancellationReasons codes): another claim got there first, or a
# passing conflict or throttle worth retrying. Anything else (a validation error) fails the claim loudly.
_CLAIMED_BY_ANOTHER = "ConditionalCheckFailed"
_TRANSIENT_CANCELLATIONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)


@dataclass(frozen=True)
class Claim:
    """The campaigns this execution now owns for the base date, and those it left alone."""

    claimed: list[str]
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def duplicate(self) -> bool:
        return not self.claimed


@dataclass(frozen=True)
class ExecutionEnd:
    """How an execution ended, from Step Functions' "Execution Status Change" event."""

    status: str  # FAILED, TIMED_OUT or ABORTED, as Step Functions reports it
    error: str
    reason: str

    @property
    def run_status(self) -> str:
        return {"TIMED_OUT": TIMED_OUT, "ABORTED": ABORTED}.get(self.status, FAILED)


class RunClaims(RunTable):
    """The claim and close of run records."""

    def claim(
        self,
        request: RunRequest,
        campaigns: Sequence[CampaignSettings],
        execution_arn: str,
        *,
        execution_timeout: int,
    ) -> Claim:
        """Claim the base date for every campaign not already running or refreshed, atomically.

        A campaign whose run for this date is RUNNING or completed is skipped (a duplicate
        event); one whose run FAILED is claimed again (a completed one too, when the run is forced), and
        so is one still RUNNING after `execution_timeout` seconds, since its execution has ended
        without recording it. A record this execution already claimed (an earlier try of this call)
        stays claimed. All claims land together or none do; a transaction cancelled by a conflict or
        throttle raises RunRecordBusy.
        """
        writes, claimed, skipped = [], [], {}
        for campaign in campaigns:
            existing = self._get(campaign.campaign_name, request.base_date)
            if existing and existing.get("execution_arn") == execution_arn:
                # This execution's own claim, written by an earlier try of this same call.
                claimed.append(campaign.campaign_name)
                continue
            if existing and not self._claimable(existing, execution_timeout, force=request.force):
                skipped[campaign.campaign_name] = str(existing.get("run_status"))
                continue
            writes.append(self._claim_write(request, campaign, execution_arn, existing))
            claimed.append(campaign.campaign_name)
        if not writes:
            return Claim(claimed, skipped)
        try:
            self._table.meta.client.transact_write_items(TransactItems=writes)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = {r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])} - {"None"}
            if reasons == {_CLAIMED_BY_ANOTHER}:
                # Another execution claimed one of these campaigns between our read and write.
                return Claim([], {name: "CLAIMED_CONCURRENTLY" for name in claimed} | skipped)
            if reasons & _TRANSIENT_CANCELLATIONS:
                raise RunRecordBusy(f"the claim was cancelled by {sorted(reasons)}; it can be tried again") from exc
            raise
        return Claim(claimed, skipped)

    def close_unrecorded(
        self, campaign_names: Sequence[str], base_date: str, execution_arn: str, end: ExecutionEnd
    ) -> list[str]:
        """Give a final status to this execution's records still RUNNING after it ended; the names closed.

        A record its own Catch already recorded, or that another execution owns, is left alone."""
        closed = []
        for name in campaign_names:
            try:
                self._table.update_item(
                    Key={"campaign_name": name, "base_date": int(base_date)},
                    UpdateExpression=(
                        "SET run_status = :status, failure_phase = phase, failure_error = :error, "
                        "failure_reason = :reason, ended_at = :now, updated_at = :now"
                    ),
                    ConditionExpression="execution_arn = :execution_arn AND run_status = :running",
                    ExpressionAttributeValues={
                        ":status": end.run_status,
                        ":error": end.error,
                        ":reason": end.reason,
                        ":now": self._iso(),
                        ":execution_arn": execution_arn,
                        ":running": RUNNING,
                    },
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                continue
            closed.append(name)
        return closed

    def running(self, campaign_names: Sequence[str]) -> list[dict[str, Any]]:
        """Every record of these campaigns still RUNNING, whatever its day: its key and execution."""
        found: list[dict[str, Any]] = []
        for name in campaign_names:
            query: dict[str, Any] = {
                "KeyConditionExpression": Key(Attr.CAMPAIGN_NAME).eq(name),
                "FilterExpression": Condition(Attr.RUN_STATUS).eq(RUNNING),
                "ProjectionExpression": f"{Attr.CAMPAIGN_NAME}, {Attr.BASE_DATE}, {Attr.EXECUTION_ARN}",
                "ConsistentRead": True,
            }
            while True:
                page = self._table.query(**query)
                found += page["Items"]
                if "LastEvaluatedKey" not in page:
                    break
                query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found

    def records_of_day(self, campaign_names: Sequence[str], base_date: str) -> dict[str, dict[str, Any]]:
        """Each campaign's record of the day as it stands (empty when there is none), read for an alert."""
        return {name: self._get(name, base_date) or {} for name in campaign_names}

    def _claimable(self, existing: dict[str, Any], execution_timeout: int, *, force: bool) -> bool:
        if existing.get("run_status") in RERUNNABLE or (force and existing.get("run_status") in COMPLETED):
            return True
        started = int(existing.get("started_datetime", self._now()))
        return existing.get("run_status") == RUNNING and started + execution_timeout < self._now()

    def _claim_write(
        self, request: RunRequest, campaign: CampaignSettings, execution_arn: str, existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        now = self._now()
        item: dict[str, Any] = {
            "campaign_name": campaign.campaign_name,
            "base_date": int(request.base_date),
            "run_status": RUNNING,
            "phase": IMPORT,
            "trigger": request.trigger,
            "execution_arn": execution_arn,
            "campaign_arn": campaign.campaign_arn,
            "solution_arn": campaign.solution_arn,
            "solution_name": campaign.solution_name,
            "attempt": 1,
            "started_at": self._iso(now),
            "started_datetime": int(now),
            "updated_at": self._iso(now),
            "previous_attempts": [],
        }
        if request.force:
            item["forced"] = True
        if request.trigger == "glue":
            item |= {
                "glue_job_name": request.glue_job_name,
                "glue_job_run_id": request.glue_job_run_id,
                "event_time": request.event_time,
            }
        put: dict[str, Any] = {"TableName": self._table.name, "Item": item}
        if existing is None:
            put["ConditionExpression"] = "attribute_not_exists(campaign_name)"
        else:
            summary = {k: existing[k] for k in _ATTEMPT_SUMMARY if k in existing}
            if existing["run_status"] == RUNNING:
                summary["run_status"] = ABANDONED
            if len(str(summary.get("failure_reason", ""))) > MAX_SUMMARY_REASON:
                summary["failure_reason"] = str(summary["failure_reason"])[: MAX_SUMMARY_REASON - 1] + "…"
            item["attempt"] = int(existing.get("attempt", 1)) + 1
            history = [*existing.get("previous_attempts", []), summary]
            item["previous_attempts"] = history[-MAX_PREVIOUS_ATTEMPTS:]
            # Unchanged since we read it: no other execution claimed it in between.
            put["ConditionExpression"] = "run_status = :status AND execution_arn = :previous"
            put["ExpressionAttributeValues"] = {
                ":status": existing["run_status"],
                ":previous": existing["execution_arn"],
            }
        return {"Put": put}


def claim(event: dict[str, Any], settings: Settings, claims: RunClaims) -> dict[str, Any]:
    """The `claim` action: the run the execution's input asks for, claimed for the campaigns it may run."""
    execution_arn = str(event["execution_arn"])
    request = parse_run_input(event.get("input"), glue_job_names=settings.glue_job_names, time_zone=settings.time_zone)
    log = run_logger(__name__, execution_arn=execution_arn, base_date=request.base_date)
    names = [c.campaign_name for c in settings.campaigns]
    if unknown := [name for name in request.campaigns if name not in names]:
        raise InvalidRunInput(f"campaigns {unknown} are not configured; the configured campaigns are {names}")
    chosen = [c for c in settings.campaigns if not request.campaigns or c.campaign_name in request.campaigns]
    result = claims.claim(request, chosen, execution_arn, execution_timeout=settings.execution_timeout_seconds)
    if result.duplicate:
        log.info("duplicate run: every campaign is already running or refreshed", extra={"skipped": result.skipped})
    else:
        log.info("run claimed", extra={"claimed": result.claimed, "skipped": result.skipped})
    return {
        "duplicate": result.duplicate,
        "base_date": request.base_date,
        "trigger": request.trigger,
        "force": request.force,
        "execution_arn": execution_arn,
        "campaigns": [
            {"campaign_name": c.campaign_name, "campaign_arn": c.campaign_arn}
            for c in settings.campaigns
            if c.campaign_name in result.claimed
        ],
        "skipped": result.skipped,
        "skipped_campaign_names": sorted(result.skipped),
    }


# The ends Step Functions reports without our Catch having run, and what to say when it gives no error.
_ENDS = {
    "TIMED_OUT": ("ExecutionTimedOut", "The execution ran past the state machine's timeout", "timed out"),
    "ABORTED": ("ExecutionAborted", "The execution was stopped before it finished", "was stopped"),
    "FAILED": ("ExecutionFailed", "The execution failed without running its own failure path", "failed"),
}


def close(event: dict[str, Any], settings: Settings, claims: RunClaims, sns: Any) -> dict[str, Any]:
    """The `close` action, on Step Functions' status change event of an execution that ended unrecorded."""
    detail = event.get("execution")
    if not isinstance(detail, dict) or detail.get("status") not in _ENDS:
        raise InvalidRunInput("close needs the detail of a FAILED, TIMED_OUT or ABORTED execution status change")
    execution_arn, status = str(detail["executionArn"]), str(detail["status"])
    try:
        request = parse_run_input(
            json.loads(detail.get("input") or "null"),
            glue_job_names=settings.glue_job_names,
            time_zone=settings.time_zone,
        )
    except (InvalidRunInput, ValueError):
        return {"closed": []}  # its input was rejected before anything was claimed
    default_error, default_reason, verb = _ENDS[status]
    end = ExecutionEnd(status, str(detail.get("error") or default_error), str(detail.get("cause") or default_reason))
    log = run_logger(__name__, execution_arn=execution_arn, base_date=request.base_date)
    names = [c.campaign_name for c in settings.campaigns]
    before = claims.records_of_day(names, request.base_date)
    closed = claims.close_unrecorded(names, request.base_date, execution_arn, end)
    if closed and _alerted_by_the_definition(detail):
        log.warning("failure record written at the execution's end", extra={"error": end.error, "closed": closed})
    elif closed:
        log.warning("execution ended unrecorded", extra={"status": status, "closed": closed})
        campaigns = ", ".join(f"{name} (in {before[name].get('phase') or 'an unknown phase'})" for name in closed)
        sns.publish(
            TopicArn=settings.alert_topic_arn,
            Subject=f"Personalize refresh {verb}",
            Message=(
                f"The Personalize refresh for base date {request.base_date} {verb} before it could record "
                f"its outcome; campaigns keep the version they served.\n"
                f"Recorded {end.run_status}: {campaigns}\n"
                f"Error: {end.error}\nReason: {end.reason}\nExecution: {execution_arn}\n"
                f'The day can run again now: start the state machine with {{"base_date": "{request.base_date}"}}.'
                + "".join(_still_training(before[name]) for name in closed)
            ),
        )
    return {"closed": closed, "base_date": request.base_date, "run_status": end.run_status}


def _still_training(record: dict[str, Any]) -> str:
    """What to say of a solution version an ended execution left training: Personalize goes on (and bills)."""
    version = record.get("solution_version_arn")
    if record.get("phase") != TRAINING or not version:
        return ""
    return (
        f"\nSolution version {version} may still be training: a re-run of the day picks it up. To stop it instead: "
        f"aws personalize stop-solution-version-creation --solution-version-arn {version}"
    )


def _alerted_by_the_definition(detail: dict[str, Any]) -> bool:
    """Whether the execution ended in one of the definition's own Fail states, each of which alerts first.

    A Fail state may not raise a `States.*` error, so an execution FAILED under any other name went
    through its failure path: it alerted (saying the record could not be written) and only the record
    is left to close. TIMED_OUT, ABORTED and `States.*` ends (uncatchable errors, the history quota)
    ran no failure path, nor did an end that names no error: nobody has been told yet."""
    error = str(detail.get("error") or "")
    return detail["status"] == "FAILED" and bool(error) and not error.startswith("States.")


# What close reads of an execution's end: the status change event's detail, or DescribeExecution's answer.
_END_DETAIL = ("executionArn", "stateMachineArn", "status", "input", "error", "cause")


def sweep(settings: Settings, claims: RunClaims, stepfunctions: Any, sns: Any) -> dict[str, Any]:
    """The `sweep` action, on a schedule: close every record still RUNNING whose execution has ended FAILED,
    TIMED_OUT or ABORTED, as that execution's status change event would have (`close`, with what
    DescribeExecution says of the end). A record whose execution still runs, or SUCCEEDED, or no longer exists
    is left alone: `personalize-refresh reconcile` reports those."""
    running = claims.running([c.campaign_name for c in settings.campaigns])
    closed: list[dict[str, Any]] = []
    for execution_arn in sorted({str(record.get(Attr.EXECUTION_ARN, "")) for record in running} - {""}):
        try:
            execution = stepfunctions.describe_execution(executionArn=execution_arn)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ExecutionDoesNotExist":
                raise
            run_logger(__name__, execution_arn=execution_arn).warning("a RUNNING record's execution does not exist")
            continue
        if execution["status"] not in _ENDS:
            continue
        detail = {key: execution.get(key) for key in _END_DETAIL}
        result = close({"action": "close", "execution": detail}, settings, claims, sns)
        if result["closed"]:
            closed.append({"execution_arn": execution_arn, **result})
    return {"running": len(running), "closed": closed}
