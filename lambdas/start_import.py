"""Start import: claim the day's run, then start one dataset import job per configured dataset.

Invoked twice by the state machine: `claim` resolves the base date from the untrusted
execution input and claims the run records (nothing else is touched for a duplicate);
`import` starts or reuses the import jobs under deterministic names. The other end of a
claim is `close`: Step Functions' status change event for an execution that ended without
its own Catch running (a timeout, an operator's stop, an uncatchable error) gives that
execution's records still RUNNING their final status, and alerts once.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from typing import Any

import boto3
from botocore.exceptions import ClientError

from refresh_common import clock, personalize, polling
from refresh_common.automation import automation_warnings
from refresh_common.data import DataUnreadable, snapshot
from refresh_common.decisions import ImportPlan, import_plan
from refresh_common.errors import AutomationConflict, InvalidRunInput, NameAttemptsExhausted
from refresh_common.inputs import parse_run_input
from refresh_common.logs import run_logger
from refresh_common.naming import import_job_arn, import_job_names
from refresh_common.run_record import ExecutionEnd, History, ImportJobStarted, RunRecords, run_table
from refresh_common.schema import TRAINING
from refresh_common.settings import DatasetSettings, Settings, load_settings


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = load_settings()
    records = RunRecords(run_table(settings.table_name))
    action = event.get("action") if isinstance(event, dict) else None
    if action == "claim":
        return claim(event, settings, records)
    if action == "import":
        with personalize.unavailable_as_retryable():
            client = personalize.client(settings.region)
            guard_automation(event, settings, records, client, _sns())
            return start_imports(event, settings, records, client, _s3())
    if action == "close":
        return close(event, settings, records, _sns())
    raise InvalidRunInput(f"unknown action {action!r}; expected 'claim', 'import' or 'close'")


def claim(event: dict[str, Any], settings: Settings, records: RunRecords) -> dict[str, Any]:
    execution_arn = str(event["execution_arn"])
    request = parse_run_input(event.get("input"), glue_job_names=settings.glue_job_names, time_zone=settings.time_zone)
    log = run_logger(__name__, execution_arn=execution_arn, base_date=request.base_date)
    names = [c.campaign_name for c in settings.campaigns]
    if unknown := [name for name in request.campaigns if name not in names]:
        raise InvalidRunInput(f"campaigns {unknown} are not configured; the configured campaigns are {names}")
    chosen = [c for c in settings.campaigns if not request.campaigns or c.campaign_name in request.campaigns]
    result = records.claim(request, chosen, execution_arn, execution_timeout=settings.execution_timeout_seconds)
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


def guard_automation(event: dict[str, Any], settings: Settings, records: RunRecords, client: Any, sns: Any) -> None:
    """Before any job: refuse to run beside Personalize's own automation, or record and alert a warning
    (once per run: only the write that first records the warnings alerts)."""
    run = event["run"]
    base_date, execution_arn = run["base_date"], run["execution_arn"]
    names = [c["campaign_name"] for c in run["campaigns"]]
    warnings = automation_warnings(client, [settings.campaign(name) for name in names])
    if not warnings:
        return
    if settings.automation_guard == "refuse":
        raise AutomationConflict(
            "Personalize's own automation is on (automation_guard is refuse): " + "; ".join(warnings)
        )
    log = run_logger(__name__, execution_arn=execution_arn, base_date=base_date)
    log.warning("running beside Personalize's own automation", extra={"warnings": warnings})
    if records.record_warnings(names, base_date, execution_arn, warnings):
        sns.publish(
            TopicArn=settings.alert_topic_arn,
            Subject="Personalize refresh runs beside Personalize's own automation",
            Message=(
                f"The Personalize refresh for base date {base_date} runs anyway (automation_guard is warn):\n"
                + "\n".join(f"- {warning}" for warning in warnings)
                + f"\nExecution: {execution_arn}"
            ),
        )


def start_imports(
    event: dict[str, Any], settings: Settings, records: RunRecords, client: Any, s3: Any = None
) -> dict[str, Any]:
    """Plan each dataset (import, how, or skip: see decisions.import_plan), start the imports, and end
    SKIPPED the campaigns whose data did not change. Without `s3` the data is not read: every dataset
    is imported as configured."""
    run = event["run"]
    base_date, execution_arn, force = run["base_date"], run["execution_arn"], bool(run.get("force", False))
    log = run_logger(__name__, execution_arn=execution_arn, base_date=base_date)
    names = [c["campaign_name"] for c in run["campaigns"]]
    history = records.last_imports([c.campaign_name for c in settings.campaigns], base_date) if s3 else History()
    plans = [_plan(client, s3, dataset, base_date, history, force) for dataset in settings.datasets]
    afresh_since = records.afresh_since(names, base_date)
    jobs = [
        _start_import(client, settings, dataset, base_date, plan.mode, afresh_since)
        for dataset, plan in zip(settings.datasets, plans, strict=True)
        if plan.action == "import"
    ]
    polls = _poll_plans(records, settings, names, base_date, [job.dataset_name for job in jobs])
    jobs = [replace(job, poll_plan=polls[job.dataset_name].summary()) for job in jobs]
    skipped = _skipped_campaigns(client, settings, names, plans, history, force)
    skip_reason = "; ".join(f"{plan.dataset_name}: {plan.reason}" for plan in plans if plan.action == "skip")
    limit = clock.phase_limit(settings.phase_timeouts["import_seconds"])
    if skipped:
        records.record_skipped(skipped, base_date, execution_arn, jobs, plans, skip_reason)
    records.record_import_started([n for n in names if n not in skipped], base_date, execution_arn, jobs, plans)
    for plan in plans:
        log.info("dataset planned", extra={"dataset": plan.dataset_name, "action": plan.action, "reason": plan.reason})
    return {
        "campaigns": [
            {
                "campaign_name": c["campaign_name"],
                "campaign_arn": c["campaign_arn"],
                "skip": c["campaign_name"] in skipped,
                "skip_reason": skip_reason if c["campaign_name"] in skipped else "",
            }
            for c in run["campaigns"]
        ],
        "import_jobs": [
            {
                "primary": index == 0,
                "dataset_name": job.dataset_name,
                "job_name": job.job_name,
                "dataset_import_job_arn": job.job_arn,
                "status": job.status,
                "poll": polling.walk(polls[job.dataset_name]),
                **limit,
            }
            for index, job in enumerate(jobs)
        ],
    }


def _plan(client: Any, s3: Any, dataset: DatasetSettings, base_date: str, history: History, force: bool) -> ImportPlan:
    data = None
    if s3 is not None:
        try:
            data = snapshot(s3, dataset.data_location.replace("{base_date}", base_date))
        except DataUnreadable:
            data = None  # Personalize will say what is wrong with the location, if anything
    has_active = dataset.import_mode == "INCREMENTAL" and _has_active_import(client, dataset)
    return import_plan(
        dataset.name,
        dataset.import_mode,
        data,
        imported=history.imported.get(dataset.name),
        has_active_import=has_active,
        force=force,
    )


def _poll_plans(
    records: RunRecords, settings: Settings, names: list[str], base_date: str, datasets: list[str]
) -> dict[str, polling.PollPlan]:
    """Each import's polls, planned from how long that dataset's imports took before (any campaign's
    records hold them; the first's are read, once for every dataset)."""
    earlier = records.import_durations(names[0], base_date, datasets) if names and datasets else {}
    bounds = settings.poll_bounds("import_seconds")
    return {dataset: polling.plan(earlier.get(dataset, []), bounds) for dataset in datasets}


def _has_active_import(client: Any, dataset: DatasetSettings) -> bool:
    pages = client.get_paginator("list_dataset_import_jobs").paginate(datasetArn=dataset.dataset_arn)
    return any(job.get("status") == "ACTIVE" for page in pages for job in page["datasetImportJobs"])


def _skipped_campaigns(
    client: Any, settings: Settings, names: list[str], plans: list[ImportPlan], history: History, force: bool
) -> list[str]:
    """Campaigns every dataset of whose dataset group holds what the campaign's last completed run saw."""
    if force or not any(plan.action == "skip" for plan in plans):
        return []
    fingerprints = {plan.dataset_name: plan.data.fingerprint for plan in plans if plan.data is not None}
    skipped = []
    for name in names:
        campaign = settings.campaign(name)
        group_arn = client.describe_solution(solutionArn=campaign.solution_arn)["solution"].get("datasetGroupArn")
        group = str(group_arn).rsplit("/", 1)[-1] if group_arn else None
        depends = [d.name for d in settings.datasets if group is None or d.dataset_group == group]
        seen = history.completed.get(name, {})
        if depends and all(d in fingerprints and seen.get(d) == fingerprints[d] for d in depends):
            skipped.append(name)
    return skipped


def _start_import(
    client: Any, settings: Settings, dataset: DatasetSettings, base_date: str, mode: str, afresh_since: float | None
) -> ImportJobStarted:
    """Create the day's import job, or reuse the one an earlier attempt created under the same name (not when
    the run starts afresh: see personalize.reusable)."""
    for job_name in import_job_names(settings.job_name_prefix, dataset.dataset_group, dataset.name, base_date):
        arn = import_job_arn(dataset.dataset_arn, job_name)
        try:
            client.create_dataset_import_job(
                jobName=job_name,
                datasetArn=dataset.dataset_arn,
                dataSource={"dataLocation": dataset.data_location.replace("{base_date}", base_date)},
                roleArn=settings.personalize_role_arn,
                importMode=mode,
            )
            return ImportJobStarted(dataset.name, job_name, arn, "CREATE PENDING")
        except ClientError as exc:
            if personalize.error_code(exc) != "ResourceAlreadyExistsException":
                raise
        job = client.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"]
        if personalize.reusable(job, afresh_since=afresh_since):
            return ImportJobStarted(dataset.name, job_name, arn, job["status"])
    raise NameAttemptsExhausted(
        f"every import job name for {dataset.name} on {base_date} is taken by a failed or earlier job"
    )


# The ends Step Functions reports without our Catch having run, and what to say when it gives no error.
_ENDS = {
    "TIMED_OUT": ("ExecutionTimedOut", "The execution ran past the state machine's timeout", "timed out"),
    "ABORTED": ("ExecutionAborted", "The execution was stopped before it finished", "was stopped"),
    "FAILED": ("ExecutionFailed", "The execution failed without running its own failure path", "failed"),
}


def close(event: dict[str, Any], settings: Settings, records: RunRecords, sns: Any) -> dict[str, Any]:
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
    before = records.records_of_day(names, request.base_date)
    closed = records.close_unrecorded(names, request.base_date, execution_arn, end)
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


@cache
def _s3() -> Any:
    return boto3.client("s3")


@cache
def _sns() -> Any:
    return boto3.client("sns")
