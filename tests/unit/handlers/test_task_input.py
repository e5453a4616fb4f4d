"""What a campaign's task Lambdas accept of their input: the execution ARN the state machine passes."""

from __future__ import annotations

import pytest

from refresh_common import task_input
from refresh_common.claims import RunClaims
from refresh_common.errors import InvalidRunInput
from refresh_common.settings import Settings
from tests.unit.handlers.shared import campaign_event


@pytest.mark.parametrize("name", ["run.2026-11-29", "a+b=c@d!e", "manual_(back-fill)", "ü-run"])
def test_every_valid_execution_name_is_accepted(settings: Settings, run_claims: RunClaims, name: str) -> None:
    event = campaign_event(settings, run_claims)
    event["execution_arn"] = f"arn:aws:states:ap-northeast-2:123456789012:execution:Refresh:{name}"
    assert task_input.campaign_task(event, settings).execution_arn.endswith(name)


@pytest.mark.parametrize("name", ["has space", "a/b", "a:b", "x" * 81, ""])
def test_an_invalid_execution_arn_is_refused(settings: Settings, run_claims: RunClaims, name: str) -> None:
    event = campaign_event(settings, run_claims)
    event["execution_arn"] = f"arn:aws:states:ap-northeast-2:123456789012:execution:Refresh:{name}"
    with pytest.raises(InvalidRunInput, match="execution_arn"):
        task_input.campaign_task(event, settings)
