"""Start import: the Lambda that claims the day's run, starts one dataset import job per configured dataset,
and closes the run of an execution that ended unrecorded.

Invoked twice by the state machine: `claim` resolves the base date from the untrusted execution input and
claims the run records (nothing else is touched for a duplicate); `import` starts or reuses the import jobs
under deterministic names. Step Functions' status change event for an execution that ended without its own
Catch running invokes it with `close`, and an hourly schedule with `sweep`, which closes the records whose
event was lost. Claim, close and sweep are refresh_common.claims; the imports are here.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any

import boto3
from botocore.exceptions import ClientError

from refresh_common import claims, clock, personalize, polling
from refresh_common.automation import automation_warnings
from refresh_common.data import DataUnreadable, snapshot
from refresh_common.decisions import ImportPlan, import_plan
from refresh_common.errors import AutomationConflict, ImportRoomExhausted, InvalidRunInput, NameAttemptsExhausted
from refresh_common.logs import run_logger
from refresh_common.naming import child_execution_name, import_job_arn, import_job_names
from refresh_common.run_record import History, ImportJobStarted, RunRecords, run_table
from refresh_common.schema import WAITING_FOR_ROOM
from refresh_common.settings import DatasetSettings, Settings, load_settings


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = load_settings()
    table = run_table(settings.table_name)
    action = event.get("action") if isinstance(event, dict) else None
    if action == "claim":
        return claims.claim(event, settings, claims.RunClaims(table))
    if action == "import":
        records = RunRecords(table)
        with personalize.unavailable_as_retryable():
            client = personalize.client(settings.region)
            guard_automation(event, settings, records, client, _sns())
            return start_imports(
                event, settings, records, client, _s3(), creator=personalize.creating_client(settings.region)
            )
    if action == "import_dataset":
        with personalize.unavailable_as_retryable():
            client = personalize.client(settings.region)
            creator = personalize.creating_client(settings.region)
            return start_waiting_import(event, settings, RunRecords(table), client, creator=creator)
    if action == "close":
        return claims.close(event, settings, claims.RunClaims(table), _sns())
    if action == "sweep":
        return claims.sweep(settings, claims.RunClaims(table), _stepfunctions(), _sns())
    raise InvalidRunInput(
        f"unknown action {action!r}; expected 'claim', 'import', 'import_dataset', 'close' or 'sweep'"
    )


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
    event: dict[str, Any],
    settings: Settings,
    records: RunRecords,
    client: Any,
    s3: Any = None,
    *,
    creator: Any = None,
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
    afresh_since = records.afresh_since(names, base_date, forced=force)
    jobs: list[ImportJobStarted] = []
    for dataset, plan in zip(settings.datasets, plans, strict=True):
        if plan.action != "import":
            continue
        if jobs and jobs[-1].status == WAITING_FOR_ROOM:
            # No room for the one before: none for this one either (asking would spend the SDK's backoff on
            # every dataset); its execution asks once there may be room.
            jobs.append(_waiting(settings, dataset, base_date, plan.mode))
            continue
        jobs.append(_start_import(client, settings, dataset, base_date, plan.mode, afresh_since, creator=creator))
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
                "execution_name": child_execution_name(f"{c['campaign_name']}-{base_date}", execution_arn),
            }
            for c in run["campaigns"]
        ],
        "import_jobs": [
            {
                "primary": index == 0,
                **_job_item(job, polls[job.dataset_name], limit),
                "execution_name": child_execution_name(job.job_name, execution_arn),
            }
            for index, job in enumerate(jobs)
        ],
    }


def _job_item(job: ImportJobStarted, poll: polling.PollPlan, limit: dict[str, str]) -> dict[str, Any]:
    """What the dataset's import execution polls: the job, its planned polls and its limit."""
    return {
        "dataset_name": job.dataset_name,
        "job_name": job.job_name,
        "dataset_import_job_arn": job.job_arn,
        "status": job.status,
        **({"import_mode": job.import_mode} if job.import_mode else {}),
        "poll": polling.walk(poll),
        **limit,
    }


def start_waiting_import(
    event: dict[str, Any], settings: Settings, records: RunRecords, client: Any, *, creator: Any = None
) -> dict[str, Any]:
    """The `import_dataset` action: create the import job Start import had no room for, once Personalize has
    room, recorded in every campaign's record of the run; ImportRoomExhausted while it still has none."""
    run, name = event["run"], str(event["dataset_name"])
    base_date, execution_arn = run["base_date"], run["execution_arn"]
    (dataset,) = [d for d in settings.datasets if d.name == name]
    names = [c["campaign_name"] for c in run["campaigns"]]
    afresh_since = records.afresh_since(names, base_date, forced=bool(run.get("force")))
    job = _start_import(client, settings, dataset, base_date, str(event["import_mode"]), afresh_since, creator=creator)
    if job.status == WAITING_FOR_ROOM:
        raise ImportRoomExhausted(f"no room for {job.job_name}: Personalize runs its quota of import jobs")
    poll = _poll_plans(records, settings, names, base_date, [name])[name]
    job = replace(job, poll_plan=poll.summary())
    records.record_import_created(names, base_date, execution_arn, job)
    run_logger(__name__, execution_arn=execution_arn, base_date=base_date).info(
        "import started once there was room", extra={"dataset": name, "job": job.job_name}
    )
    limit = clock.phase_limit(settings.phase_timeouts["import_seconds"])
    return {"primary": bool(event.get("primary")), **_job_item(job, poll, limit)}


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


def _waiting(settings: Settings, dataset: DatasetSettings, base_date: str, mode: str) -> ImportJobStarted:
    """A job not asked for yet: its first name, WAITING_FOR_ROOM (its execution creates it, or finds it)."""
    name = next(import_job_names(settings.job_name_prefix, dataset.dataset_group, dataset.job_part, base_date))
    return ImportJobStarted(
        dataset.name, name, import_job_arn(dataset.dataset_arn, name), WAITING_FOR_ROOM, import_mode=mode
    )


def _start_import(
    client: Any,
    settings: Settings,
    dataset: DatasetSettings,
    base_date: str,
    mode: str,
    afresh_since: float | None,
    *,
    creator: Any = None,
) -> ImportJobStarted:
    """Create the day's import job (with `creator`, personalize.creating_client; `client` by default), or reuse
    the one an earlier attempt created under the same name (not when the run starts afresh: see
    personalize.reusable)."""
    for job_name in import_job_names(settings.job_name_prefix, dataset.dataset_group, dataset.job_part, base_date):
        arn = import_job_arn(dataset.dataset_arn, job_name)
        try:
            (creator or client).create_dataset_import_job(
                jobName=job_name,
                datasetArn=dataset.dataset_arn,
                dataSource={"dataLocation": dataset.data_location.replace("{base_date}", base_date)},
                roleArn=settings.personalize_role_arn,
                importMode=mode,
            )
            return ImportJobStarted(dataset.name, job_name, arn, "CREATE PENDING")
        except ClientError as exc:
            if personalize.error_code(exc) == "LimitExceededException":
                # The region runs its quota of import jobs: the dataset's execution creates it when there is room.
                return ImportJobStarted(dataset.name, job_name, arn, WAITING_FOR_ROOM, import_mode=mode)
            if personalize.error_code(exc) != "ResourceAlreadyExistsException":
                raise
        job = client.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"]
        if personalize.reusable(job, afresh_since=afresh_since):
            return ImportJobStarted(dataset.name, job_name, arn, job["status"])
    raise NameAttemptsExhausted(
        f"every import job name for {dataset.name} on {base_date} is taken by a failed or earlier job"
    )


@cache
def _s3() -> Any:
    return boto3.client("s3")


@cache
def _sns() -> Any:
    return boto3.client("sns")


@cache
def _stepfunctions() -> Any:
    return boto3.client("stepfunctions")
