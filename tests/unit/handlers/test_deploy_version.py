"""The deploy version Lambda against moto's DynamoDB, with Personalize stubbed exactly: the campaign update and the
quality gate."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import deploy_version
import pytest
from botocore.stub import Stubber

from refresh_common.claims import RunClaims
from refresh_common.errors import CampaignConfigUnsupported, InvalidRunInput
from refresh_common.run_record import RunRecords
from refresh_common.settings import MetricRule, QualityGate, Settings
from tests.unit.handlers.shared import CAMPAIGN, PREFIX, SOLUTION, VERSION, campaign_event, record


def campaign(latest: dict[str, Any] | None = None) -> dict[str, Any]:
    described: dict[str, Any] = {
        "campaignArn": CAMPAIGN,
        "solutionVersionArn": f"{SOLUTION}/old",
        "minProvisionedTPS": 5,
        "campaignConfig": {"itemExplorationConfig": {"explorationWeight": "0.3"}},
        "status": "ACTIVE",
    }
    if latest:
        described["latestCampaignUpdate"] = latest
    return {"campaign": described}


def metrics(stubber: Stubber, new: dict[str, float], serving: dict[str, float]) -> None:
    """GetSolutionMetrics of the new version, then of the version the campaign serves."""
    stubber.add_response("get_solution_metrics", {"metrics": new}, {"solutionVersionArn": VERSION})
    stubber.add_response("get_solution_metrics", {"metrics": serving}, {"solutionVersionArn": f"{SOLUTION}/old"})


def test_deploy_keeps_the_campaigns_tps_and_config(
    settings: Settings, records: RunRecords, run_claims: RunClaims, table: Any, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    stubber.add_response("describe_campaign", campaign(), {"campaignArn": CAMPAIGN})
    metrics(stubber, {"coverage": 0.4}, {"coverage": 0.5})
    stubber.add_response(
        "update_campaign",
        {"campaignArn": CAMPAIGN},
        {
            "campaignArn": CAMPAIGN,
            "solutionVersionArn": VERSION,
            "minProvisionedTPS": 5,
            "campaignConfig": {"itemExplorationConfig": {"explorationWeight": "0.3"}},
        },
    )
    result = deploy_version.deploy_version(
        campaign_event(settings, run_claims, solution_version_arn=VERSION), settings, records, client
    )
    assert result.pop("limit")["limit"] == "3 h"  # the default deployment limit
    assert result.pop("poll")["next"] == 60
    assert result == {
        "solution_version_arn": VERSION,
        "requested_version_arn": VERSION,
        "status": "CREATE PENDING",
        "gated": False,
        "gate_decision": "deploy",
        "gate_reason": "no quality gate configured",
        "metrics": {"coverage": 0.4},
        "serving_metrics": {"coverage": 0.5},
    }
    item = record(table)
    assert (item["phase"], item["campaign_update_status"]) == ("DEPLOYMENT", "CREATE PENDING")
    # Without a gate every version is deployed, and both versions' metrics are kept.
    assert (item["solution_version_metrics"], item["serving_version_metrics"]) == (
        {"coverage": Decimal("0.4")},
        {"coverage": Decimal("0.5")},
    )
    assert "quality_gate" not in item


def gated(settings: Settings, **gate: Any) -> Settings:
    rules = (MetricRule("normalized_discounted_cumulative_gain_at_25", max_drop_percent=2),)
    campaign = replace(settings.campaigns[0], quality_gate=QualityGate(rules, **gate))
    return replace(settings, campaigns=(campaign,))


def test_deploy_holds_back_a_version_the_gate_refuses_and_records_it_gated(
    settings: Settings, records: RunRecords, run_claims: RunClaims, table: Any, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    settings = gated(settings)
    stubber.add_response("describe_campaign", campaign())
    ndcg = "normalized_discounted_cumulative_gain_at_25"
    metrics(stubber, {ndcg: 0.27, "coverage": 0.4}, {ndcg: 0.30, "coverage": 0.4})

    result = deploy_version.deploy_version(
        campaign_event(settings, run_claims, solution_version_arn=VERSION), settings, records, client
    )

    stubber.assert_no_pending_responses()  # and no UpdateCampaign was made: the stubber would refuse it
    assert (result["gated"], result["gate_decision"], result["status"]) == (True, "hold", "GATED")
    assert result["gate_reason"] == f"{ndcg} 0.3 -> 0.27 (-10.0 %, at most -2 %)"
    item = record(table)
    assert (item["run_status"], item["phase"]) == ("GATED", "DONE")
    assert item["quality_gate"] == {"decision": "hold", "reason": result["gate_reason"]}
    assert item["serving_version_metrics"][ndcg] == Decimal("0.3")


@pytest.mark.parametrize(("without_metrics", "held"), [("deploy", False), ("hold", True)])
def test_deploy_decides_a_version_without_metrics_by_the_gate_rule(
    settings: Settings,
    records: RunRecords,
    run_claims: RunClaims,
    personalize: tuple[Any, Stubber],
    without_metrics: str,
    held: bool,
) -> None:
    client, stubber = personalize
    settings = gated(settings, without_metrics=without_metrics)
    stubber.add_response("describe_campaign", campaign())
    metrics(stubber, {}, {"normalized_discounted_cumulative_gain_at_25": 0.3})
    if not held:
        stubber.add_response("update_campaign", {"campaignArn": CAMPAIGN})

    result = deploy_version.deploy_version(
        campaign_event(settings, run_claims, solution_version_arn=VERSION), settings, records, client
    )

    assert result["gated"] is held


def test_deploy_reuses_an_update_to_the_same_version_already_under_way(
    settings: Settings, records: RunRecords, run_claims: RunClaims, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    stubber.add_response("describe_campaign", campaign({"solutionVersionArn": VERSION, "status": "CREATE IN_PROGRESS"}))
    result = deploy_version.deploy_version(
        campaign_event(settings, run_claims, solution_version_arn=VERSION), settings, records, client
    )
    assert result["status"] == "CREATE IN_PROGRESS"
    # The gate was judged by the attempt that started the update.
    assert (result["gate_decision"], result["metrics"]) == ("deploy", {})


def test_deploy_surfaces_resource_in_use_for_the_state_machine_to_retry(
    settings: Settings, records: RunRecords, run_claims: RunClaims, personalize: tuple[Any, Stubber]
) -> None:
    client, stubber = personalize
    stubber.add_response(
        "describe_campaign", campaign({"solutionVersionArn": f"{SOLUTION}/other", "status": "CREATE IN_PROGRESS"})
    )
    metrics(stubber, {}, {})
    stubber.add_client_error("update_campaign", "ResourceInUseException")
    with pytest.raises(client.exceptions.ResourceInUseException):
        deploy_version.deploy_version(
            campaign_event(settings, run_claims, solution_version_arn=VERSION), settings, records, client
        )


def test_deploy_refuses_a_version_of_another_solution(
    settings: Settings, records: RunRecords, run_claims: RunClaims, personalize: tuple[Any, Stubber]
) -> None:
    client, _ = personalize
    event = campaign_event(settings, run_claims, solution_version_arn=f"{PREFIX}:solution/other/0123abcd")
    with pytest.raises(InvalidRunInput, match="is not a version of"):
        deploy_version.deploy_version(event, settings, records, client)


def test_deploy_to_a_synced_campaign_asks_for_latest_with_sync_on_and_keeps_the_rest(
    settings: Settings, records: RunRecords, run_claims: RunClaims, personalize: tuple[Any, Stubber]
) -> None:
    # Given a campaign that follows its solution's latest version
    client, stubber = personalize
    described = campaign()
    described["campaign"]["campaignConfig"] = {
        "itemExplorationConfig": {"explorationWeight": "0.3"},
        "syncWithLatestSolutionVersion": True,
    }
    stubber.add_response("describe_campaign", described, {"campaignArn": CAMPAIGN})
    # Then UpdateCampaign names $LATEST with syncWithLatestSolutionVersion true, keeping TPS and the config
    stubber.add_response(
        "update_campaign",
        {"campaignArn": CAMPAIGN},
        {
            "campaignArn": CAMPAIGN,
            "solutionVersionArn": f"{SOLUTION}/$LATEST",
            "minProvisionedTPS": 5,
            "campaignConfig": {
                "itemExplorationConfig": {"explorationWeight": "0.3"},
                "syncWithLatestSolutionVersion": True,
            },
        },
    )
    result = deploy_version.deploy_version(
        campaign_event(settings, run_claims, solution_version_arn=VERSION), settings, records, client
    )
    stubber.assert_no_pending_responses()
    # And the deployment poll compares latestCampaignUpdate with the form asked for
    assert (result["solution_version_arn"], result["requested_version_arn"]) == (VERSION, f"{SOLUTION}/$LATEST")


def test_deploy_refuses_with_an_sdk_that_would_drop_a_campaign_config_field(
    settings: Settings,
    records: RunRecords,
    run_claims: RunClaims,
    personalize: tuple[Any, Stubber],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the SDK of an older runtime, whose model has no rankingInfluence
    client, stubber = personalize
    shape = client.meta.service_model.shape_for("CampaignConfig")
    older = {name: member for name, member in shape.members.items() if name != "rankingInfluence"}
    model = client.meta.service_model
    monkeypatch.setattr(
        model, "shape_for", lambda name, *a: SimpleNamespace(members=older) if name == "CampaignConfig" else None
    )
    # Then nothing is described nor updated, and the error names the field
    with pytest.raises(CampaignConfigUnsupported, match="rankingInfluence"):
        deploy_version.deploy_version(
            campaign_event(settings, run_claims, solution_version_arn=VERSION), settings, records, client
        )
    stubber.assert_no_pending_responses()


def test_the_campaign_config_fields_are_those_of_the_pinned_botocore(personalize: tuple[Any, Stubber]) -> None:
    client, _ = personalize
    assert set(client.meta.service_model.shape_for("CampaignConfig").members) == deploy_version.CAMPAIGN_CONFIG_FIELDS
