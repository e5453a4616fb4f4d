"""One policy's refreshes on the local engine, and the figures of each, read from the execution histories, the run
records and the Personalize emulator's log of calls.

A refresh is three kinds of execution: the refresh's own, which starts and awaits one execution per dataset's
import and one per campaign's training and deployment. Every figure but the largest history is over all of them.

* state transitions: states entered, plus each retry of a Task (Step Functions bills both);
* Lambda invocations: every Lambda Task attempt; those made by a state of a poll loop are counted apart;
* history events: the length of every execution's history, summed; and the largest single one (the one that
  meets Step Functions' quota of events first);
* idle overhead: per phase, from the moment its job reached its final status (Personalize's
  lastUpdatedDateTime) to the first describe call of that job at or after it, the poll that saw it; for the
  project's own policy, checked against what the run record says of it;
* cost: transitions, Lambda requests and Lambda duration at list price.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from infra.config import RefreshConfig
from local_engine.refresh import LocalRefresh, PersonalizeCall
from refresh_common.schema import DEPLOYMENT, Attr, ImportJobAttr, seen_after

from . import poll_lambda
from .policies import Policy, poller_states
from .scenarios import Durations

# List prices (us-east-1; ap-northeast-2 is the same for all three).
PRICE_PER_TRANSITION = 0.025 / 1000  # USD, Standard workflows
PRICE_PER_LAMBDA_REQUEST = 0.20 / 1_000_000  # USD
PRICE_PER_GB_SECOND = 0.0000166667  # USD, x86 list price (arm64 is 20 % less)
# The engine runs the handlers in-process, so their duration on AWS is not measured: each invocation is billed
# this long (a describe call, or a few Personalize and DynamoDB calls, take some hundred milliseconds).
ASSUMED_LAMBDA_SECONDS = 0.5

PHASES = ("import", "training", "deployment")
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Figures:
    transitions: int
    lambda_invocations: int
    poll_lambda_invocations: int  # made by a state inside a phase's poll loop
    polls: int  # describe calls of the phases' jobs
    history_events: int  # over every execution of the run
    largest_history: int  # events of the run's largest single execution
    executions: int  # the refresh's own and its children
    idle_seconds: dict[str, float]  # per phase
    lambda_gb_seconds: float

    @property
    def idle_total(self) -> float:
        return sum(self.idle_seconds.values())

    @property
    def cost(self) -> float:
        return (
            self.transitions * PRICE_PER_TRANSITION
            + self.lambda_invocations * PRICE_PER_LAMBDA_REQUEST
            + self.lambda_gb_seconds * PRICE_PER_GB_SECOND
        )


class RefreshDidNotSucceed(RuntimeError):
    """A measured refresh failed: its figures would say nothing about polling."""


class RecordDisagrees(RuntimeError):
    """The run record's idle overhead is not what Personalize's log and the execution say: one of them is wrong."""


# How far the record may be from the calls' log: a poll and the record write after it share their simulated
# moment, and the record keeps tenths of a second.
RECORD_TOLERANCE = 1.0  # seconds


@contextmanager
def deployed(template: dict[str, Any], config: RefreshConfig) -> Iterator[LocalRefresh]:
    """One deployment of a policy's template, for all of its refreshes."""
    poll_lambda._client.cache_clear()  # a new Lambda container for a new deployment
    with LocalRefresh(template, config) as refresh:
        yield refresh


def start_afresh(refresh: LocalRefresh) -> None:
    """Empty the run table, so that the next refresh sees no earlier run; and move to the next week."""
    table = refresh.client("dynamodb")
    name = refresh.deployment.table_name
    for item in table.scan(TableName=name, ConsistentRead=True)["Items"]:
        table.delete_item(TableName=name, Key={"campaign_name": item["campaign_name"], "base_date": item["base_date"]})
    _next_week(refresh)


def run_refresh(refresh: LocalRefresh, policy: Policy, durations: Durations) -> Figures:
    """One refresh started by the Glue event, with the phases taking `durations`; its figures."""
    emulator = refresh.emulator
    emulator.set_duration("import", durations.import_)
    emulator.set_duration("training", durations.training)
    emulator.set_duration("deployment", durations.deployment)
    run = refresh_once(refresh, label=f"policy {policy.label}")
    if policy.is_projects_own and len(run.records) == 1:
        # A record's idle times are its campaign's and the bench's the run's: the same with one campaign, as in
        # the configuration the polling policies are measured with.
        check_record(run.records[0], run.figures.idle_seconds)
    _next_week(refresh)
    return run.figures


@dataclass(frozen=True)
class Run:
    """One refresh: its figures, its run records (one per campaign) and each execution's history by ARN, the
    refresh's own first."""

    figures: Figures
    records: list[dict[str, Any]]
    histories: dict[str, list[dict[str, Any]]]
    started: datetime  # simulated time
    ended: datetime


def refresh_once(refresh: LocalRefresh, *, label: str = "the refresh") -> Run:
    """Start a refresh by the Glue event and wait for its end."""
    calls_before = len(refresh.personalize_calls)
    started = refresh.clock.now()
    (arn,) = refresh.put_glue_event()
    description = refresh.wait(arn)
    calls = refresh.personalize_calls[calls_before:]
    if description["status"] != "SUCCEEDED":
        ended = " ".join(str(description[k]) for k in ("error", "cause") if description.get(k))
        raise RefreshDidNotSucceed(f"{label}: the refresh ended {description['status']} {ended}".rstrip())
    records = [r for r in refresh.run_records() if r["execution_arn"] == arn]
    histories = run_histories(refresh, arn)
    figures = _figures(refresh, list(histories.values()), records, calls)
    return Run(figures, records, histories, started, description["stopDate"])


def run_histories(refresh: LocalRefresh, arn: str) -> dict[str, list[dict[str, Any]]]:
    """The history of each execution of the run by ARN: the refresh's own, then each it started, and theirs."""
    histories = {arn: refresh.execution_history(arn)}
    for child in refresh.children(histories[arn]):
        histories |= run_histories(refresh, child)
    return histories


def _next_week(refresh: LocalRefresh) -> None:
    """Move the clock to the next weekly export, a week after the last one started."""
    elapsed = refresh.clock.elapsed
    weeks = elapsed // WEEK + 1
    refresh.clock.advance((weeks * WEEK - elapsed).total_seconds())


def _figures(
    refresh: LocalRefresh,
    histories: list[list[dict[str, Any]]],
    records: list[dict[str, Any]],
    calls: list[PersonalizeCall],
) -> Figures:
    pollers = poller_states()
    memory = _function_memory_gb(refresh)
    entered = scheduled = task_states = lambda_invocations = poll_lambda_invocations = 0
    gb_seconds = 0.0
    for event, state_of in _events(histories):
        kind = event["type"]
        if kind.endswith("StateEntered"):
            state_of[event["id"]] = event["stateEnteredEventDetails"]["name"]
            entered += 1
            task_states += kind == "TaskStateEntered"
        else:
            state_of[event["id"]] = state_of.get(event["previousEventId"], "")
        if kind == "TaskScheduled":
            scheduled += 1
            details = event["taskScheduledEventDetails"]
            if details["resourceType"] == "lambda":
                lambda_invocations += 1
                poll_lambda_invocations += state_of[event["id"]] in pollers
                function_name = json.loads(details["parameters"])["FunctionName"].split(":")[6]
                gb_seconds += memory[function_name] * ASSUMED_LAMBDA_SECONDS
    return Figures(
        transitions=entered + scheduled - task_states,  # each Task schedules once, and once more per retry
        lambda_invocations=lambda_invocations,
        poll_lambda_invocations=poll_lambda_invocations,
        polls=_polls(records, calls),
        history_events=sum(len(history) for history in histories),
        largest_history=max(len(history) for history in histories),
        executions=len(histories),
        idle_seconds=_idle(refresh, records, calls),
        lambda_gb_seconds=gb_seconds,
    )


def _events(histories: list[list[dict[str, Any]]]) -> Iterator[tuple[dict[str, Any], dict[int, str]]]:
    """Every event of every execution, with the names of the states its execution has entered so far by event
    id (ids count from 1 in each execution)."""
    for history in histories:
        state_of: dict[int, str] = {}
        for event in history:
            yield event, state_of


def recorded_idle(record: dict[str, Any]) -> dict[str, float]:
    """Each phase's idle overhead as the run record has it: the imports' (summed, as the bench sums them) and the
    training's as the Lambdas that act on them wrote them, the deployment's from its two recorded times."""
    imports = record[Attr.DATASET_IMPORT_JOBS].values()
    return {
        "import": sum(float(job.get(ImportJobAttr.IDLE_SECONDS, 0)) for job in imports),
        "training": float(record.get(Attr.SOLUTION_VERSION_IDLE_SECONDS, 0)),
        "deployment": seen_after(record, DEPLOYMENT) or 0.0,
    }


def check_record(record: dict[str, Any], measured: dict[str, float]) -> None:
    """Raise RecordDisagrees unless the record's idle overhead is the bench's, phase by phase."""
    recorded = recorded_idle(record)
    wrong = {p: (recorded[p], measured[p]) for p in PHASES if abs(recorded[p] - measured[p]) > RECORD_TOLERANCE}
    if wrong:
        raise RecordDisagrees(
            "; ".join(f"{phase}: the record says {r:.1f} s, the calls {m:.1f} s" for phase, (r, m) in wrong.items())
        )


def _function_memory_gb(refresh: LocalRefresh) -> dict[str, float]:
    resources = refresh.template["Resources"]
    return {
        name: resources[logical_id]["Properties"]["MemorySize"] / 1024
        for logical_id, name in refresh.deployment.functions.items()
    }


# What describes each phase's job, and the parameter naming the job.
_DESCRIBES = {
    "import": "DescribeDatasetImportJob",
    "training": "DescribeSolutionVersion",
    "deployment": "DescribeCampaign",
}
_CREATES = {
    "import": "CreateDatasetImportJob",
    "training": "CreateSolutionVersion",
    "deployment": "UpdateCampaign",
}
_JOB_PARAMETER = {
    "DescribeDatasetImportJob": "datasetImportJobArn",
    "DescribeSolutionVersion": "solutionVersionArn",
    "DescribeCampaign": "campaignArn",
}


def _job_of(call: PersonalizeCall) -> str | None:
    parameter = _JOB_PARAMETER.get(call.operation)
    return call.params.get(parameter) if parameter else None


def _jobs(records: list[dict[str, Any]]) -> dict[str, str]:
    """The run's jobs of each phase, by ARN (a campaign update is known by its campaign); campaigns that share a
    solution share its training, and each record may name the same imports."""
    jobs: dict[str, str] = {}
    for record in records:
        jobs |= {job["arn"]: "import" for job in record["dataset_import_jobs"].values() if job.get("arn")}
        jobs |= {record["solution_version_arn"]: "training", record["campaign_arn"]: "deployment"}
    return jobs


def _polls(records: list[dict[str, Any]], calls: list[PersonalizeCall]) -> int:
    """Describe calls of each phase's job once the phase's first job was created (a Lambda may describe a campaign
    before updating it)."""
    polls = 0
    for job, phase in _jobs(records).items():
        created = next(i for i, call in enumerate(calls) if call.operation == _CREATES[phase])
        polls += sum(1 for call in calls[created:] if call.operation == _DESCRIBES[phase] and _job_of(call) == job)
    return polls


def _idle(refresh: LocalRefresh, records: list[dict[str, Any]], calls: list[PersonalizeCall]) -> dict[str, float]:
    idle = dict.fromkeys(PHASES, 0.0)
    for job, phase in _jobs(records).items():
        ended = _ended_at(refresh, phase, job)
        seen = [call.at for call in calls if call.operation == _DESCRIBES[phase] and _job_of(call) == job]
        seen = [at for at in seen if at >= ended]
        if not seen:
            raise RefreshDidNotSucceed(f"no poll of {job} after it ended at {ended}")
        idle[phase] += (min(seen) - ended).total_seconds()
    return idle


def _ended_at(refresh: LocalRefresh, phase: str, job: str) -> datetime:
    """When Personalize says the job reached its final status."""
    personalize = refresh.client("personalize")
    if phase == "import":
        ended = personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"]
    elif phase == "training":
        ended = personalize.describe_solution_version(solutionVersionArn=job)["solutionVersion"]
    else:
        ended = personalize.describe_campaign(campaignArn=job)["campaign"]["latestCampaignUpdate"]
    moment: datetime = ended["lastUpdatedDateTime"]
    return moment
