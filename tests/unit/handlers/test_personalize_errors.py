"""Personalize's transient errors in the task Lambdas: what the SDK retries itself, and what it raises for the state
machine to retry."""

from __future__ import annotations

from typing import Any

import deploy_version
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from refresh_common import personalize as personalize_client
from refresh_common.claims import RunClaims
from refresh_common.errors import PersonalizeUnavailable
from refresh_common.run_record import RunRecords
from refresh_common.settings import Settings
from tests.unit.handlers.shared import REGION, VERSION, campaign_event


def test_the_lambdas_client_retries_throttles_itself_a_few_times() -> None:
    # Built outside the cache: the cached client is the Lambdas', created under the embedded AWS.
    retries = personalize_client.client.__wrapped__(REGION).meta.config.retries
    assert retries["mode"] == "standard"
    assert retries["total_max_attempts"] > 1


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        ("ThrottlingException", 400, True),
        ("InternalFailure", 500, True),
        ("ServiceUnavailable", 503, True),
        ("LimitExceededException", 400, False),  # retried by name, in minutes
        ("InvalidInputException", 400, False),
    ],
)
def test_a_throttle_or_5xx_that_outlives_the_sdk_retries_is_raised_for_the_state_machine(
    settings: Settings,
    records: RunRecords,
    run_claims: RunClaims,
    personalize: tuple[Any, Stubber],
    code: str,
    status: int,
    retryable: bool,
) -> None:
    client, stubber = personalize
    stubber.add_client_error("describe_campaign", code, http_status_code=status)
    event = {**campaign_event(settings, run_claims), "solution_version_arn": VERSION}
    expected = PersonalizeUnavailable if retryable else ClientError
    with pytest.raises(expected), personalize_client.unavailable_as_retryable():
        deploy_version.deploy_version(event, settings, records, client)
