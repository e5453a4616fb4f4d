"""Deploy version: point one campaign at its newly trained solution version, if it is good enough.

The new version's metrics (and the serving version's) are kept in the run record; with a quality gate
configured, a version that breaks one of its rules is held back: the run ends GATED and the campaign
keeps the version it served. The campaign keeps its minProvisionedTPS and campaignConfig. An update
already under way to the same version (an earlier attempt) is reused rather than repeated. Being what acts
on the training's end, it also records how long that end waited for the poll that saw it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import botocore
from botocore.exceptions import ClientError

from refresh_common import clock, decisions, personalize, polling
from refresh_common.errors import CampaignConfigUnsupported, InvalidRunInput
from refresh_common.logs import run_logger
from refresh_common.run_record import RunRecords, run_table
from refresh_common.schema import DEPLOYMENT, GATED
from refresh_common.settings import Settings, load_settings
from refresh_common.task_input import CampaignTask, campaign_task

_REUSABLE_UPDATE = personalize.IN_FLIGHT_STATUSES | {"ACTIVE"}
# The CampaignConfig fields of the botocore pinned in requirements.txt (a test keeps the two in step). The
# Lambda runtime ships its own boto3, whose version AWS does not fix: one that lacks a field drops it from
# DescribeCampaign, so carrying the config over in UpdateCampaign would reset it.
CAMPAIGN_CONFIG_FIELDS = frozenset(
    {"itemExplorationConfig", "enableMetadataWithRecommendations", "syncWithLatestSolutionVersion", "rankingInfluence"}
)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = load_settings()
    with personalize.unavailable_as_retryable():
        return deploy_version(
            event, settings, RunRecords(run_table(settings.table_name)), personalize.client(settings.region)
        )


def deploy_version(event: dict[str, Any], settings: Settings, records: RunRecords, client: Any) -> dict[str, Any]:
    task = campaign_task(event, settings)
    version_arn = event.get("solution_version_arn")
    if not isinstance(version_arn, str) or not version_arn.startswith(task.campaign.solution_arn + "/"):
        raise InvalidRunInput(f"solution_version_arn {version_arn!r} is not a version of {task.campaign.solution_arn}")
    log = run_logger(__name__, execution_arn=task.execution_arn, base_date=task.base_date)
    _record_training_idle(client, records, task, version_arn, log)

    _refuse_an_sdk_that_drops_config(client)
    campaign = client.describe_campaign(campaignArn=task.campaign.campaign_arn)["campaign"]
    latest = campaign.get("latestCampaignUpdate") or {}
    requested_arn = version_arn
    if latest.get("solutionVersionArn") == version_arn and latest.get("status") in _REUSABLE_UPDATE:
        status = str(latest["status"])
        gate = _Gate(decisions.Decision("deploy", "an earlier attempt's update to this version is under way"), {}, {})
        log.info("campaign update already under way", extra={"status": status})
    elif (campaign.get("campaignConfig") or {}).get("syncWithLatestSolutionVersion"):
        # The campaign follows its solution's latest version (let through by automation_guard "warn"): it
        # refuses an explicit version, takes SOLUTION/$LATEST, and no gate can hold a version back from it.
        # UpdateCampaign names $LATEST with syncWithLatestSolutionVersion true in its campaignConfig (API
        # reference, UpdateCampaign); the rest of the config is carried over, as an update that omits it may
        # reset it.
        requested_arn = f"{task.campaign.solution_arn}/$LATEST"
        client.update_campaign(
            campaignArn=campaign["campaignArn"],
            solutionVersionArn=requested_arn,
            minProvisionedTPS=campaign["minProvisionedTPS"],
            campaignConfig={**campaign["campaignConfig"], "syncWithLatestSolutionVersion": True},
        )
        status = "CREATE PENDING"
        gate = _Gate(decisions.Decision("deploy", "the campaign follows its solution's latest version"), {}, {})
        log.warning("the campaign follows its solution's latest version: deployed unchecked")
    elif (gate := _gate(client, records, task, version_arn, campaign)).decision.choice == "hold":
        log.warning("new version held back by the quality gate", extra={"reason": gate.decision.reason})
        # A held-back version is not polled; the state machine reads the field all the same.
        plan = polling.PollPlan([settings.dense_seconds], None, None, "")
        return _result(settings, version_arn, requested_arn, GATED, gate, plan)
    else:
        update: dict[str, Any] = {
            "campaignArn": campaign["campaignArn"],
            "solutionVersionArn": version_arn,
            "minProvisionedTPS": campaign["minProvisionedTPS"],
        }
        if campaign.get("campaignConfig"):
            update["campaignConfig"] = campaign["campaignConfig"]
        client.update_campaign(**update)
        status = "CREATE PENDING"
        log.info(
            "campaign update started",
            extra={"solution_version_arn": version_arn, "previous_version_arn": campaign.get("solutionVersionArn")},
        )
    earlier = records.phase_durations(task.campaign.campaign_name, task.base_date, DEPLOYMENT)
    poll = polling.plan(earlier, settings.poll_bounds("deployment_seconds"))
    records.record_deployment_started(
        task.campaign.campaign_name,
        task.base_date,
        task.execution_arn,
        version_arn=version_arn,
        status=status,
        poll_plan=poll.summary(),
    )
    return _result(settings, version_arn, requested_arn, status, gate, poll)


def _refuse_an_sdk_that_drops_config(client: Any) -> None:
    known = set(client.meta.service_model.shape_for("CampaignConfig").members)
    missing = sorted(CAMPAIGN_CONFIG_FIELDS - known)
    if missing:
        raise CampaignConfigUnsupported(
            f"botocore {botocore.__version__} does not know campaignConfig field(s) {', '.join(missing)}: it "
            "drops them from DescribeCampaign, and updating the campaign with the config it shows could reset "
            "them; deploy with a botocore that knows them"
        )


@dataclass(frozen=True)
class _Gate:
    decision: decisions.Decision
    metrics: dict[str, float]  # the new version's
    serving_metrics: dict[str, float]  # the version the campaign served


def _result(
    settings: Settings, version_arn: str, requested_arn: str, status: str, gate: _Gate, poll: polling.PollPlan
) -> dict[str, Any]:
    """What the state machine keeps: the version UpdateCampaign was asked for (the version, or the solution's
    $LATEST form), the status to poll from and the planned polls, and the gate's decision with its figures for
    the stage events."""
    return {
        "solution_version_arn": version_arn,
        "requested_version_arn": requested_arn,
        "status": status,
        "gated": gate.decision.choice == "hold",
        "gate_decision": gate.decision.choice,
        "gate_reason": gate.decision.reason,
        "metrics": gate.metrics,
        "serving_metrics": gate.serving_metrics,
        "limit": clock.phase_limit(settings.phase_timeouts["deployment_seconds"]),
        "poll": polling.walk(poll),
    }


def _record_training_idle(client: Any, records: RunRecords, task: CampaignTask, version_arn: str, log: Any) -> None:
    """The training's idle overhead: from the version's end, as Personalize reports it, to the poll that saw it
    (the time the state machine recorded ACTIVE). A version no poll of this run saw end has none."""
    record = records.own(task.campaign.campaign_name, task.base_date)
    seen = record.get("solution_version_updated_at")
    if record.get("solution_version_arn") != version_arn or record.get("solution_version_status") != "ACTIVE":
        return
    if not record.get("solution_version_polls") or not seen:
        return
    # The version's summary, as the gate reads them: no permission to describe versions is needed.
    try:
        summaries = personalize.solution_versions(client, task.campaign.solution_arn)
    except ClientError as error:  # a figure for the record: worth a warning, never a failed refresh
        log.warning("training idle overhead not recorded", extra={"error": str(error)})
        return
    completed = next((v.get("lastUpdatedDateTime") for v in summaries if v["solutionVersionArn"] == version_arn), None)
    if completed is not None:
        idle = polling.Idle(completed, datetime.fromisoformat(seen))
        records.record_training_idle(task.campaign.campaign_name, task.base_date, task.execution_arn, idle)


def _gate(client: Any, records: RunRecords, task: CampaignTask, version_arn: str, campaign: dict[str, Any]) -> _Gate:
    """Read both versions' metrics, keep them in the record, and decide by the campaign's gate (none:
    deploy). A held version's record is GATED from here on."""
    serving_arn = campaign.get("solutionVersionArn")
    new = _metrics(client, version_arn)
    serving = _metrics(client, serving_arn) if serving_arn and serving_arn != version_arn else {}
    gate = task.campaign.quality_gate
    if gate and not serving:
        serving = _full_baseline(client, records, task, version_arn)
    decision = decisions.quality_gate(gate, new, serving) if gate else None
    records.record_gate(
        task.campaign.campaign_name,
        task.base_date,
        task.execution_arn,
        version_metrics=new,
        serving_metrics=serving,
        gate=decision,
    )
    return _Gate(decision or decisions.Decision("deploy", "no quality gate configured"), new, serving)


def _full_baseline(client: Any, records: RunRecords, task: CampaignTask, version_arn: str) -> dict[str, float]:
    """The metrics to hold a new version to when the served one reports none (an UPDATE version): those of
    the newest ACTIVE FULL version the gate passed, which the served UPDATE versions were built on."""
    versions = [
        summary
        for summary in personalize.solution_versions(client, task.campaign.solution_arn)
        if summary["solutionVersionArn"] != version_arn
    ]
    held_back = records.held_back(task.campaign.campaign_name, task.base_date)
    for full in decisions.good_full_versions(versions, held_back):
        metrics = _metrics(client, full["solutionVersionArn"])
        if metrics:
            return metrics
    return {}


def _metrics(client: Any, version_arn: str) -> dict[str, float]:
    return dict(client.get_solution_metrics(solutionVersionArn=version_arn).get("metrics") or {})
