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
        if solution.get("performAutoTraining"):
            schedule = (solution.get("solutionConfig") or {}).get("autoTrainingConfig", {}).get("schedulingExpression")
            warnings.append(
                f"solution {campaign.solution_name} trains by itself ({schedule or 'rate(7 days)'}): "
                f"aws personalize update-solution --solution-arn {campaign.solution_arn} --no-perform-auto-training"
            )
        described = client.describe_campaign(campaignArn=campaign.campaign_arn)["campaign"]
        if (described.get("campaignConfig") or {}).get("syncWithLatestSolutionVersion"):
            warnings.append(
                f"campaign {campaign.campaign_name} deploys every new version unchecked "
                f"(syncWithLatestSolutionVersion): aws personalize update-campaign --campaign-arn "
                f"{campaign.campaign_arn} --campaign-config syncWithLatestSolutionVersion=false"
            )
    return warnings
