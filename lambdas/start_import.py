"""Start import: claim the day's run, then start one dataset import job per configured dataset.

Invoked twice by the state machine: `claim` resolves the base date from the untrusted
execution input and claims the run records (nothing else is touched for a duplicate);
`import` starts or reuses the import jobs under deterministic names.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from refresh_common import personalize
from refresh_common.errors import InvalidRunInput, NameAttemptsExhausted
from refresh_common.inputs import parse_run_input
from refresh_common.logs import run_logger
from refresh_common.naming import import_job_arn, import_job_names
from refresh_common.run_record import ImportJobStarted, RunRecords, run_table
from refresh_common.settings import DatasetSettings, Settings, load_settings


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = load_settings()
    records = RunRecords(run_table(settings.table_name))
    action = event.get("action") if isinstance(event, dict) else None
    if action == "claim":
        return claim(event, settings, records)
    if action == "import":
        with personalize.unavailable_as_retryable():
            return start_imports(event, settings, records, personalize.client(settings.region))
    raise InvalidRunInput(f"unknown action {action!r}; expected 'claim' or 'import'")


def claim(event: dict[str, Any], settings: Settings, records: RunRecords) -> dict[str, Any]:
    execution_arn = str(event["execution_arn"])
    request = parse_run_input(event.get("input"), glue_job_names=settings.glue_job_names, time_zone=settings.time_zone)
    log = run_logger(__name__, execution_arn=execution_arn, base_date=request.base_date)
    result = records.claim(
        request, settings.campaigns, execution_arn, execution_timeout=settings.execution_timeout_seconds
    )
    if result.duplicate:
        log.info("duplicate run: every campaign is already running or refreshed", extra={"skipped": result.skipped})
    else:
        log.info("run claimed", extra={"claimed": result.claimed, "skipped": result.skipped})
    return {
        "duplicate": result.duplicate,
        "base_date": request.base_date,
        "trigger": request.trigger,
        "execution_arn": execution_arn,
        "campaigns": [
            {"campaign_name": c.campaign_name, "campaign_arn": c.campaign_arn}
            for c in settings.campaigns
            if c.campaign_name in result.claimed
        ],
        "polling": settings.polling,
        "skipped": result.skipped,
    }


def start_imports(event: dict[str, Any], settings: Settings, records: RunRecords, client: Any) -> dict[str, Any]:
    run = event["run"]
    base_date, execution_arn = run["base_date"], run["execution_arn"]
    log = run_logger(__name__, execution_arn=execution_arn, base_date=base_date)
    jobs = [_start_import(client, settings, dataset, base_date) for dataset in settings.datasets]
    records.record_import_started([c["campaign_name"] for c in run["campaigns"]], base_date, execution_arn, jobs)
    for job in jobs:
        log.info("import job started", extra={"job_arn": job.job_arn, "status": job.status})
    return {
        "import_jobs": [
            {
                "primary": index == 0,
                "dataset_name": job.dataset_name,
                "job_name": job.job_name,
                "dataset_import_job_arn": job.job_arn,
                "status": job.status,
            }
            for index, job in enumerate(jobs)
        ]
    }


def _start_import(client: Any, settings: Settings, dataset: DatasetSettings, base_date: str) -> ImportJobStarted:
    """Create the day's import job, or reuse the one an earlier attempt created under the same name."""
    for job_name in import_job_names(settings.job_name_prefix, dataset.dataset_group, dataset.name, base_date):
        arn = import_job_arn(dataset.dataset_arn, job_name)
        try:
            client.create_dataset_import_job(
                jobName=job_name,
                datasetArn=dataset.dataset_arn,
                dataSource={"dataLocation": dataset.data_location.replace("{base_date}", base_date)},
                roleArn=settings.personalize_role_arn,
                importMode=dataset.import_mode,
            )
            return ImportJobStarted(dataset.name, job_name, arn, "CREATE PENDING")
        except ClientError as exc:
            if personalize.error_code(exc) != "ResourceAlreadyExistsException":
                raise
        status = client.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"]["status"]
        if status not in personalize.DEAD_STATUSES:
            return ImportJobStarted(dataset.name, job_name, arn, status)
    raise NameAttemptsExhausted(f"every import job name for {dataset.name} on {base_date} is taken by a failed job")
