"""Start training: create the day's solution version for one campaign's solution.

The training mode (FULL or UPDATE) is decided from the campaign's policy, the solution's recipe and its
versions; a quality gate's metrics are checked against the serving version's before hours of training
are spent. A re-run reuses the version an earlier attempt created under the same deterministic name,
unless that version failed or was stopped. Being what acts on the imports' end, it also records how long
that end waited for the poll that saw it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from refresh_common import clock, decisions, personalize, polling
from refresh_common.errors import NameAttemptsExhausted, QualityGateMisconfigured
from refresh_common.logs import run_logger
from refresh_common.naming import solution_version_names
from refresh_common.run_record import RunRecords, afresh_since, run_table
from refresh_common.schema import TRAINING
from refresh_common.settings import CampaignSettings, Settings, load_settings
from refresh_common.task_input import CampaignTask, campaign_task

# Versions described at most while looking for the one an earlier attempt created: a re-run comes
# days, not hundreds of versions, after the attempt it repeats.
MAX_VERSIONS_DESCRIBED = 30
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = load_settings()
    with personalize.unavailable_as_retryable():
        return start_training(
            event,
            settings,
            RunRecords(run_table(settings.table_name)),
            personalize.client(settings.region),
            creator=personalize.creating_client(settings.region),
        )


def start_training(
    event: dict[str, Any], settings: Settings, records: RunRecords, client: Any, *, creator: Any = None
) -> dict[str, Any]:
    task = campaign_task(event, settings)
    log = run_logger(__name__, execution_arn=task.execution_arn, base_date=task.base_date)
    own = records.own(task.campaign.campaign_name, task.base_date)
    _record_import_idle(client, records, task, own, log)
    _check_gate_metrics(client, task.campaign)
    mode = _training_mode(client, task.campaign, records.held_back(task.campaign.campaign_name, task.base_date))
    name, arn, status = _create_or_reuse(
        client, settings, task.campaign, task.base_date, mode.choice, afresh_since(own), creator=creator or client
    )
    earlier = records.phase_durations(task.campaign.campaign_name, task.base_date, TRAINING, mode=mode.choice)
    poll = polling.plan(earlier, settings.poll_bounds("training_seconds"))
    records.record_training_started(
        task.campaign.campaign_name,
        task.base_date,
        task.execution_arn,
        version_arn=arn,
        status=status,
        mode=mode,
        poll_plan=poll.summary(),
    )
    log.info("training started", extra={"solution_version_arn": arn, "status": status, "mode": mode.choice})
    return {
        "solution_version_arn": arn,
        "solution_version_name": name,
        "status": status,
        "training_mode": mode.choice,
        "poll": polling.walk(poll),
        "training_mode_reason": mode.reason,
        "limit": clock.phase_limit(settings.phase_timeouts["training_seconds"]),
    }


def _record_import_idle(client: Any, records: RunRecords, task: CampaignTask, own: dict[str, Any], log: Any) -> None:
    """Each import's idle overhead: from its end, as Personalize reports it, to the poll that saw it (the time
    the state machine recorded ACTIVE). An import no poll of this run saw end (one an earlier attempt left
    ACTIVE) has none."""
    ends = {}
    for dataset, job in (own.get("dataset_import_jobs") or {}).items():
        if job.get("status") != "ACTIVE" or not job.get("polls") or not job.get("arn") or not job.get("updated_at"):
            continue
        try:
            described = client.describe_dataset_import_job(datasetImportJobArn=job["arn"])["datasetImportJob"]
        except ClientError as error:  # a figure for the record: worth a warning, never a failed refresh
            log.warning("import idle overhead not recorded", extra={"dataset": dataset, "error": str(error)})
            continue
        if described.get("lastUpdatedDateTime") is not None:
            ends[dataset] = polling.Idle(described["lastUpdatedDateTime"], datetime.fromisoformat(job["updated_at"]))
    records.record_import_idle(task.campaign.campaign_name, task.base_date, task.execution_arn, ends)


def _training_mode(client: Any, campaign: CampaignSettings, held_back: set[str]) -> decisions.Decision:
    if campaign.training.mode == "FULL":
        return decisions.training_mode(campaign.training, "", [], _now())
    recipe = client.describe_solution(solutionArn=campaign.solution_arn)["solution"]["recipeArn"]
    versions = personalize.solution_versions(client, campaign.solution_arn)
    return decisions.training_mode(campaign.training, recipe, versions, _now(), held_back)


def _now() -> datetime:
    return datetime.fromtimestamp(clock.now(), tz=UTC)


def _check_gate_metrics(client: Any, campaign: CampaignSettings) -> None:
    """Refuse, before training, a gate on metrics the serving version does not report (names differ by
    recipe). A serving version with no metrics at all (an UPDATE version) proves nothing either way."""
    if campaign.quality_gate is None:
        return
    serving = client.describe_campaign(campaignArn=campaign.campaign_arn)["campaign"]["solutionVersionArn"]
    reported = client.get_solution_metrics(solutionVersionArn=serving).get("metrics") or {}
    missing = [rule.metric for rule in campaign.quality_gate.rules if rule.metric not in reported]
    if reported and missing:
        raise QualityGateMisconfigured(
            f"quality_gate of {campaign.campaign_name}: the solution's versions do not report "
            f"{', '.join(missing)}; they report {', '.join(sorted(reported))}"
        )


def _create_or_reuse(
    client: Any,
    settings: Settings,
    campaign: CampaignSettings,
    base_date: str,
    mode: str,
    afresh_since: float | None,
    *,
    creator: Any,
) -> tuple[str, str, str]:
    for name in solution_version_names(settings.job_name_prefix, base_date):
        try:
            arn = creator.create_solution_version(name=name, solutionArn=campaign.solution_arn, trainingMode=mode)[
                "solutionVersionArn"
            ]
            return name, arn, "CREATE PENDING"
        except ClientError as exc:
            if personalize.error_code(exc) not in ("ResourceAlreadyExistsException", "ResourceInUseException"):
                raise
            existing = _find_version(client, campaign.solution_arn, name)
            if existing is None:
                # In use by a version that is not ours: let the state machine back off and retry.
                raise
        if personalize.reusable(existing, afresh_since=afresh_since):
            return name, existing["solutionVersionArn"], existing["status"]
    raise NameAttemptsExhausted(f"every solution version name for {campaign.solution_name} on {base_date} is taken")


def _find_version(client: Any, solution_arn: str, name: str) -> dict[str, Any] | None:
    """The solution's version called `name`. Summaries carry no name, so versions are described one
    by one: newest first (the list's order is not documented), and at most MAX_VERSIONS_DESCRIBED."""
    summaries = personalize.solution_versions(client, solution_arn)
    summaries.sort(key=lambda summary: summary.get("creationDateTime") or _LONG_AGO, reverse=True)
    for summary in summaries[:MAX_VERSIONS_DESCRIBED]:
        version = client.describe_solution_version(solutionVersionArn=summary["solutionVersionArn"])
        if version["solutionVersion"].get("name") == name:
            return dict(version["solutionVersion"])
    return None
