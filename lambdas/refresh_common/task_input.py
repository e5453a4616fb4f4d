"""Validation of what the state machine passes to the per-campaign Lambdas."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import InvalidRunInput
from .inputs import BASE_DATE
from .settings import CampaignSettings, Settings

# State machine and execution names: 1 to 80 characters, none of them white space, brackets, wildcards,
# control characters or " # % \ ^ | ~ ` $ & , ; : / (StartExecution's `name`); "." "+" "=" "@" "!" are fine.
_NAME = r"""[^\s<>{}\[\]?*"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}"""
_EXECUTION_ARN = re.compile(rf"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{{12}}:execution:{_NAME}:{_NAME}$")


@dataclass(frozen=True)
class CampaignTask:
    campaign: CampaignSettings
    base_date: str
    execution_arn: str


def campaign_task(event: Any, settings: Settings) -> CampaignTask:
    """The configured campaign named in `event`, with the run's base date and execution."""
    if not isinstance(event, dict):
        raise InvalidRunInput("task input must be a JSON object")
    names = [c.campaign_name for c in settings.campaigns]
    name = event.get("campaign_name")
    if name not in names:
        raise InvalidRunInput(f"campaign_name {name!r} is not one of the configured campaigns {names}")
    base_date, execution_arn = event.get("base_date"), event.get("execution_arn")
    if not isinstance(base_date, str) or not BASE_DATE.match(base_date):
        raise InvalidRunInput(f"base_date must be YYYYMMDD, got {base_date!r}")
    if not isinstance(execution_arn, str) or not _EXECUTION_ARN.match(execution_arn):
        raise InvalidRunInput(f"execution_arn must be a Step Functions execution ARN, got {execution_arn!r}")
    return CampaignTask(settings.campaign(name), base_date, execution_arn)
