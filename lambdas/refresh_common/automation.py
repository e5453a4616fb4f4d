"""Personalize's own automation, read at the start of every run.

`CreateSolution.performAutoTraining` defaults to true: Personalize then trains a version by itself every
few days (trainingType AUTOMATIC), and a campaign with `campaignConfig.syncWithLatestSolutionVersion`
deploys every new version of its solution with no check at all, and refuses an explicit version in
UpdateCampaign. Beside this pipeline the first collides with its trainings and the second skips its
quality gate, so each is named with the command that turns it off.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .settings import CampaignSettings


def automation_warnings(client: Any, campaigns: Iterable[CampaignSettings]) -> list[str]:
    """One line per automation found on the campaigns' solutions and campaigns, each with its fix."""
    warnings = []
    for campaign in campaigns:
        solution = client.describe_solution(solutionArn=campaign.solution_arn)["solution"]
        training = _auto_training(solution)
        if training:
            warnings.append(
                f"solution {campaign.solution_name} {training}: "
                f"aws personalize update-solution --solution-arn {campaign.solution_arn} --no-perform-auto-training"
            )
        described = client.describe_campaign(campaignArn=campaign.campaign_arn)["campaign"]
        config = described.get("campaignConfig") or {}
        if config.get("syncWithLatestSolutionVersion"):
            # An update-campaign that omits minProvisionedTPS or a campaignConfig field resets it: the fix keeps
            # them all, turning only the sync off, and pins the version served.
            kept = _shorthand({**config, "syncWithLatestSolutionVersion": False})
            warnings.append(
                f"campaign {campaign.campaign_name} deploys every new version unchecked "
                f"(syncWithLatestSolutionVersion): aws personalize update-campaign --campaign-arn "
                f"{campaign.campaign_arn} --solution-version-arn {described.get('solutionVersionArn')} "
                f"--min-provisioned-tps {described.get('minProvisionedTPS')} --campaign-config '{kept}'"
            )
    return warnings


def _auto_training(solution: dict[str, Any]) -> str | None:
    """How the solution trains by itself, or None. An UpdateSolution shows what it set under
    latestSolutionUpdate (the solution's own performAutoTraining and solutionConfig keep what CreateSolution
    set): in force once ACTIVE; while pending, what it replaces still is, and a run now meets either."""
    created = bool(solution.get("performAutoTraining"))
    created_schedule = ((solution.get("solutionConfig") or {}).get("autoTrainingConfig") or {}).get(
        "schedulingExpression"
    )
    update = solution.get("latestSolutionUpdate") or {}
    status = update.get("status")
    if status == "CREATE FAILED" or "performAutoTraining" not in update:
        on, schedule, pending = created, created_schedule, False
    else:
        updated_schedule = ((update.get("solutionUpdateConfig") or {}).get("autoTrainingConfig") or {}).get(
            "schedulingExpression"
        )
        on, schedule = bool(update["performAutoTraining"]), updated_schedule or created_schedule
        pending = status != "ACTIVE"
        if pending and created and not on:
            return f"trains by itself ({created_schedule or 'rate(7 days)'}) until its update ({status}) turns it off"
    if not on:
        return None
    when = f" once its update ({status}) is done" if pending else ""
    return f"trains by itself ({schedule or 'rate(7 days)'}){when}"


def _shorthand(structure: dict[str, Any]) -> str:
    """The AWS CLI's shorthand syntax for a structure: no double quotes, so the command reads the same in an
    alert and in the JSON of a Lambda error."""
    return ",".join(f"{key}={_shorthand_value(value)}" for key, value in structure.items())


def _shorthand_value(value: Any) -> str:
    if isinstance(value, dict):
        return f"{{{_shorthand(value)}}}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
