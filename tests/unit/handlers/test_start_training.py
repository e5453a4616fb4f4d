"""The start training Lambda against moto's DynamoDB, with Personalize stubbed exactly."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import start_training
from botocore.stub import Stubber

from refresh_common import clock
from refresh_common.claims import RunClaims
from refresh_common.errors import InvalidRunInput
from refresh_common.run_record import RunRecords
from refresh_common.settings import Settings, TrainingPolicy
from tests.unit.handlers.shared import PREFIX, SOLUTION, USER_PERSONALIZATION, VERSION, campaign_event, record


def test_start_training_creates_a_full_version_named_for_the_day(
    settings: Settings, records: RunRecords, run_claims: RunClaims, table: Any, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    stubber.add_response(
        "create_solution_version",
        {"solutionVersionArn": VERSION},
        {"name": "refresh-20261129", "solutionArn": SOLUTION, "trainingMode": "FULL"},
    )
    result = start_training.start_training(campaign_event(settings, run_claims), settings, records, client)
    limit, poll = result.pop("limit"), result.pop("poll")
    # No earlier training: polls from 60 s, growing to the longest wait (300 s by default), covering 24 h.
    assert (poll["index"], poll["next"], poll["waits"][:3], max(poll["waits"])) == (0, 60, [60, 75, 94], 300)
    assert record(table)["training_poll_plan"]["reason"].startswith("no earlier run")
    assert result == {
        "solution_version_arn": VERSION,
        "solution_version_name": "refresh-20261129",
        "status": "CREATE PENDING",
        "training_mode": "FULL",
        "training_mode_reason": "the campaign's training policy is FULL",
    }
    assert record(table)["training_mode_reason"] == result["training_mode_reason"]
    assert limit["limit"] == "24 h"  # the default training limit
    assert limit["checked_at"] < limit["deadline"]
    item = record(table)
    assert (item["phase"], item["solution_version_arn"], item["solution_version_status"]) == (
        "TRAINING",
        VERSION,
        "CREATE PENDING",
    )
    assert item["solution_name"] == "shop-user-personalization"


def test_start_training_goes_on_when_an_import_end_cannot_be_read_for_its_idle_figure(
    settings: Settings, records: RunRecords, run_claims: RunClaims, table: Any, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    event = campaign_event(settings, run_claims)
    table.update_item(  # the import as the state machine records it once a poll saw it ACTIVE
        Key={"campaign_name": "shop-home-recommendations", "base_date": 20261129},
        UpdateExpression="SET dataset_import_jobs = :jobs",
        ExpressionAttributeValues={
            ":jobs": {
                "interactions": {
                    "arn": f"{PREFIX}:dataset-import-job/j",
                    "status": "ACTIVE",
                    "polls": 3,
                    "updated_at": "2026-11-29T01:00:00Z",
                }
            }
        },
    )
    stubber.add_client_error("describe_dataset_import_job", "AccessDeniedException")
    stubber.add_response("create_solution_version", {"solutionVersionArn": VERSION})

    result = start_training.start_training(event, settings, records, client)

    assert result["solution_version_arn"] == VERSION
    assert "idle_seconds" not in record(table)["dataset_import_jobs"]["interactions"]


def test_start_training_ages_the_last_full_version_by_the_lambdas_clock(
    settings: Settings,
    records: RunRecords,
    run_claims: RunClaims,
    personalize: tuple[Any, Stubber],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a FULL version trained years from the wall clock, and the Lambdas' clock a week after it
    trained = datetime(2031, 3, 2, tzinfo=UTC)
    campaign = replace(settings.campaigns[0], training=TrainingPolicy("UPDATE", full_every_days=7))
    settings = replace(settings, campaigns=(campaign,))
    event = campaign_event(settings, run_claims)
    monkeypatch.setattr(clock, "now", lambda: trained.timestamp() + 7 * 86_400)
    client, stubber = personalize
    stubber.add_response("describe_solution", {"solution": {"recipeArn": USER_PERSONALIZATION}})
    stubber.add_response(
        "list_solution_versions",
        {
            "solutionVersions": [
                {
                    "solutionVersionArn": f"{SOLUTION}/full",
                    "status": "ACTIVE",
                    "trainingMode": "FULL",
                    "creationDateTime": trained,
                }
            ]
        },
    )
    stubber.add_response(
        "create_solution_version",
        {"solutionVersionArn": VERSION},
        {"name": "refresh-20261129", "solutionArn": SOLUTION, "trainingMode": "FULL"},
    )

    result = start_training.start_training(event, settings, records, client)

    assert result["training_mode"] == "FULL"
    assert result["training_mode_reason"].startswith("the last FULL version is 7.0 days old")


@pytest.mark.parametrize("code", ["ResourceAlreadyExistsException", "ResourceInUseException"])
def test_start_training_reuses_its_own_version_from_an_earlier_attempt(
    settings: Settings, records: RunRecords, run_claims: RunClaims, personalize: tuple[Any, Stubber], code: str
) -> None:
    client, stubber = personalize
    stubber.add_client_error("create_solution_version", code)
    stubber.add_response(
        "list_solution_versions",
        {
            "solutionVersions": [
                {"solutionVersionArn": f"{SOLUTION}/old", "creationDateTime": datetime(2026, 11, 22, tzinfo=UTC)},
                {"solutionVersionArn": VERSION, "creationDateTime": datetime(2026, 11, 29, tzinfo=UTC)},
            ]
        },
        {"solutionArn": SOLUTION},
    )
    # Newest first: the version of the earlier attempt is found with one describe.
    stubber.add_response(
        "describe_solution_version",
        {
            "solutionVersion": {
                "name": "refresh-20261129",
                "solutionVersionArn": VERSION,
                "status": "CREATE IN_PROGRESS",
            }
        },
    )
    result = start_training.start_training(campaign_event(settings, run_claims), settings, records, client)
    assert (result["solution_version_arn"], result["status"]) == (VERSION, "CREATE IN_PROGRESS")


def test_start_training_describes_a_bounded_number_of_versions_looking_for_its_own(
    settings: Settings, records: RunRecords, run_claims: RunClaims, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    stubber.add_client_error("create_solution_version", "ResourceAlreadyExistsException")
    many = [
        {"solutionVersionArn": f"{SOLUTION}/v{i:04d}", "creationDateTime": datetime(2026, 1, 1, tzinfo=UTC)}
        for i in range(500)
    ]
    stubber.add_response("list_solution_versions", {"solutionVersions": many})
    for _ in range(start_training.MAX_VERSIONS_DESCRIBED):
        stubber.add_response("describe_solution_version", {"solutionVersion": {"name": "someone-else"}})

    with pytest.raises(client.exceptions.ResourceAlreadyExistsException):
        start_training.start_training(campaign_event(settings, run_claims), settings, records, client)


def test_start_training_backs_off_when_another_version_is_training(
    settings: Settings, records: RunRecords, run_claims: RunClaims, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    stubber.add_client_error("create_solution_version", "ResourceInUseException")
    stubber.add_response("list_solution_versions", {"solutionVersions": []})
    with pytest.raises(client.exceptions.ResourceInUseException):
        start_training.start_training(campaign_event(settings, run_claims), settings, records, client)


def test_start_training_refuses_an_unconfigured_campaign(
    settings: Settings, records: RunRecords, run_claims: RunClaims, personalize: tuple[Any, Stubber]
) -> None:
    client, _ = personalize
    event = campaign_event(settings, run_claims)
    event["campaign_name"] = "someone-elses-campaign"
    with pytest.raises(InvalidRunInput, match="is not one of the configured campaigns"):
        start_training.start_training(event, settings, records, client)
