"""Personalize emulator driven through real boto3 clients under moto."""

from __future__ import annotations

import datetime
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff
from moto import mock_aws
from moto.personalize.responses import PersonalizeResponse

from local_engine.personalize import PersonalizeEmulator, PersonalizeError, serve
from refresh_common.automation import automation_warnings

UTC = datetime.UTC
START = datetime.datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
REGION = "us-east-1"
ACCOUNT = "123456789012"
PREFIX = f"arn:aws:personalize:{REGION}:{ACCOUNT}"
DATASET_ARN = f"{PREFIX}:dataset/shop/INTERACTIONS"
FRESH_DATASET_ARN = f"{PREFIX}:dataset/shop/ITEMS"
SOLUTION_ARN = f"{PREFIX}:solution/shop-recs"
OTHER_SOLUTION_ARN = f"{PREFIX}:solution/shop-ranking"
UPDATABLE_SOLUTION_ARN = f"{PREFIX}:solution/shop-legacy"
CAMPAIGN_ARN = f"{PREFIX}:campaign/shop-live"
GROUP_ARN = f"{PREFIX}:dataset-group/shop"
AUTO_SOLUTION_ARN = f"{PREFIX}:solution/shop-auto"
OTHER_GROUP_DATASET_ARN = f"{PREFIX}:dataset/outlet/INTERACTIONS"
SYNCED_CAMPAIGN_ARN = f"{PREFIX}:campaign/shop-ranking-synced"
SYNC = {"syncWithLatestSolutionVersion": True}
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/PersonalizeImport"
CAMPAIGN_CONFIG = {"itemExplorationConfig": {"explorationWeight": "0.3"}}

PENDING = datetime.timedelta(seconds=60)
IMPORT = datetime.timedelta(hours=1)
TRAINING = datetime.timedelta(hours=6)
DEPLOYMENT = datetime.timedelta(minutes=30)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)

# Default clients retry LimitExceededException with real sleeps; one attempt
# keeps injected errors and the call log one-to-one.
ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})
# botocore's standard retry mode with its default of 3 attempts in all.
STANDARD_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 3})
# What moto's Step Functions interpreter does: no client-side validation.
UNVALIDATED = Config(retries={"total_max_attempts": 1}, parameter_validation=False)


class ManualClock:
    def __init__(self, start: datetime.datetime) -> None:
        self.current = start

    def now(self) -> datetime.datetime:
        return self.current

    def advance(self, delta: datetime.timedelta) -> None:
        self.current += delta


@dataclass
class World:
    clock: ManualClock
    emulator: PersonalizeEmulator
    client: Any
    initial_version: str


@pytest.fixture
def world() -> Iterator[World]:
    clock = ManualClock(START)
    emulator = PersonalizeEmulator(clock.now, account_id=ACCOUNT, region=REGION)
    emulator.add_dataset(DATASET_ARN)
    emulator.add_dataset(FRESH_DATASET_ARN, imported=False)
    emulator.add_solution(SOLUTION_ARN)
    emulator.add_solution(OTHER_SOLUTION_ARN)
    initial = emulator.add_campaign(
        CAMPAIGN_ARN, solution_arn=SOLUTION_ARN, min_provisioned_tps=5, campaign_config=CAMPAIGN_CONFIG
    )
    with mock_aws(), serve(emulator):
        client = boto3.client("personalize", region_name=REGION, config=ONE_ATTEMPT)
        yield World(clock, emulator, client, initial)


def start_import(w: World, name: str = "import-1", **overrides: Any) -> str:
    params: dict[str, Any] = {
        "jobName": name,
        "datasetArn": DATASET_ARN,
        "dataSource": {"dataLocation": "s3://bucket/interactions.csv"},
        "roleArn": ROLE_ARN,
        **overrides,
    }
    return w.client.create_dataset_import_job(**params)["datasetImportJobArn"]


def import_job(w: World, arn: str) -> dict[str, Any]:
    return w.client.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"]


def start_training(w: World, solution_arn: str = SOLUTION_ARN, **overrides: Any) -> str:
    return w.client.create_solution_version(solutionArn=solution_arn, **overrides)["solutionVersionArn"]


def version(w: World, arn: str) -> dict[str, Any]:
    return w.client.describe_solution_version(solutionVersionArn=arn)["solutionVersion"]


def trained_version(w: World, solution_arn: str = SOLUTION_ARN, **overrides: Any) -> str:
    arn = start_training(w, solution_arn, **overrides)
    w.clock.advance(PENDING + TRAINING)
    assert version(w, arn)["status"] == "ACTIVE"
    return arn


def campaign(w: World) -> dict[str, Any]:
    return w.client.describe_campaign(campaignArn=CAMPAIGN_ARN)["campaign"]


def error_of(excinfo: pytest.ExceptionInfo[Any]) -> dict[str, str]:
    return excinfo.value.response["Error"]


# ----- lifecycles --------------------------------------------------------------


def test_import_job_walks_pending_in_progress_active(world: World) -> None:
    arn = start_import(world)
    assert arn == f"{PREFIX}:dataset-import-job/import-1"

    job = import_job(world, arn)
    assert (job["status"], job["lastUpdatedDateTime"]) == ("CREATE PENDING", START)
    assert job["creationDateTime"] == START
    assert job["importMode"] == "FULL"

    world.clock.advance(PENDING - datetime.timedelta(seconds=1))
    assert import_job(world, arn)["status"] == "CREATE PENDING"

    world.clock.advance(datetime.timedelta(seconds=1))
    job = import_job(world, arn)
    assert (job["status"], job["lastUpdatedDateTime"]) == ("CREATE IN_PROGRESS", START + PENDING)

    world.clock.advance(IMPORT)
    job = import_job(world, arn)
    assert (job["status"], job["lastUpdatedDateTime"]) == ("ACTIVE", START + PENDING + IMPORT)
    assert "failureReason" not in job


def test_timestamps_arrive_as_aware_datetimes(world: World) -> None:
    world.clock.advance(datetime.timedelta(microseconds=250_000))
    job = import_job(world, start_import(world))
    stamp = job["creationDateTime"]
    assert isinstance(stamp, datetime.datetime)
    assert stamp.tzinfo is not None
    assert stamp == START + datetime.timedelta(microseconds=250_000)


def test_failed_import_reports_reason_only_once_failed(world: World) -> None:
    world.emulator.faults.fail_job("import", "Column EVENT_TYPE is missing", name="import-2")
    healthy, broken = start_import(world, "import-1"), start_import(world, "import-2")

    world.clock.advance(PENDING)
    assert "failureReason" not in import_job(world, broken)

    world.clock.advance(IMPORT)
    failed = import_job(world, broken)
    assert failed["status"] == "CREATE FAILED"
    assert failed["failureReason"] == "Column EVENT_TYPE is missing"
    assert failed["lastUpdatedDateTime"] == START + PENDING + IMPORT
    assert import_job(world, healthy)["status"] == "ACTIVE"


def test_solution_version_trains_to_active_with_metrics(world: World) -> None:
    arn = start_training(world, name="weekly-1")
    assert arn.startswith(f"{SOLUTION_ARN}/")
    assert len(arn.rsplit("/", 1)[1]) == 8
    assert version(world, arn)["status"] == "CREATE PENDING"

    world.clock.advance(PENDING)
    assert version(world, arn)["status"] == "CREATE IN_PROGRESS"
    with pytest.raises(world.client.exceptions.ResourceInUseException):
        world.client.get_solution_metrics(solutionVersionArn=arn)

    world.clock.advance(TRAINING)
    described = version(world, arn)
    assert described["status"] == "ACTIVE"
    assert described["name"] == "weekly-1"
    assert described["trainingMode"] == "FULL"
    assert described["trainingHours"] == 6.0
    assert described["lastUpdatedDateTime"] == START + PENDING + TRAINING

    metrics = world.client.get_solution_metrics(solutionVersionArn=arn)["metrics"]
    assert {
        "precision_at_25",
        "normalized_discounted_cumulative_gain_at_25",
        "coverage",
        "mean_reciprocal_rank_at_25",
    } <= metrics.keys()
    assert all(0 < value < 1 for value in metrics.values())
    assert world.client.get_solution_metrics(solutionVersionArn=arn)["metrics"] == metrics


def test_set_metrics_overrides_derived_metrics(world: World) -> None:
    world.emulator.set_metrics("weekly-1", {"precision_at_25": 0.5})
    arn = trained_version(world, name="weekly-1")
    metrics = world.client.get_solution_metrics(solutionVersionArn=arn)["metrics"]
    assert metrics == {"precision_at_25": 0.5}


def test_failed_training_has_reason_and_no_metrics(world: World) -> None:
    world.emulator.faults.fail_job("training", "Insufficient interactions")
    arn = start_training(world)
    world.clock.advance(PENDING + TRAINING)

    described = version(world, arn)
    assert (described["status"], described["failureReason"]) == ("CREATE FAILED", "Insufficient interactions")
    assert "trainingHours" not in described
    with pytest.raises(world.client.exceptions.InvalidInputException):
        world.client.get_solution_metrics(solutionVersionArn=arn)


def test_stopping_an_in_progress_version_passes_through_stopping(world: World) -> None:
    arn = start_training(world)
    world.clock.advance(PENDING + datetime.timedelta(minutes=5))
    world.client.stop_solution_version_creation(solutionVersionArn=arn)
    stopped_at = world.clock.now()

    described = version(world, arn)
    assert (described["status"], described["lastUpdatedDateTime"]) == ("CREATE STOPPING", stopped_at)
    world.clock.advance(datetime.timedelta(seconds=60))
    assert version(world, arn)["status"] == "CREATE STOPPED"
    # Stopping frees the solution for a new version.
    start_training(world)


def test_stopping_a_pending_version_stops_at_once(world: World) -> None:
    arn = start_training(world)
    world.client.stop_solution_version_creation(solutionVersionArn=arn)
    assert version(world, arn)["status"] == "CREATE STOPPED"


def test_stopping_a_finished_version_is_rejected(world: World) -> None:
    with pytest.raises(world.client.exceptions.InvalidInputException):
        world.client.stop_solution_version_creation(solutionVersionArn=world.initial_version)


def test_campaign_update_serves_old_version_until_active(world: World) -> None:
    new_version = trained_version(world)
    requested_at = world.clock.now()
    world.client.update_campaign(campaignArn=CAMPAIGN_ARN, solutionVersionArn=new_version)

    described = campaign(world)
    update = described["latestCampaignUpdate"]
    assert described["status"] == "ACTIVE"
    assert described["solutionVersionArn"] == world.initial_version
    assert (update["status"], update["solutionVersionArn"]) == ("CREATE PENDING", new_version)
    assert update["creationDateTime"] == requested_at
    # Not given, so carried over from what the campaign serves.
    assert update["minProvisionedTPS"] == 5
    assert update["campaignConfig"] == CAMPAIGN_CONFIG

    world.clock.advance(PENDING)
    described = campaign(world)
    assert described["latestCampaignUpdate"]["status"] == "CREATE IN_PROGRESS"
    assert (described["status"], described["solutionVersionArn"]) == ("ACTIVE", world.initial_version)

    world.clock.advance(DEPLOYMENT)
    described = campaign(world)
    assert described["latestCampaignUpdate"]["status"] == "ACTIVE"
    assert (described["status"], described["solutionVersionArn"]) == ("ACTIVE", new_version)
    assert described["lastUpdatedDateTime"] == requested_at + PENDING + DEPLOYMENT


def test_update_campaign_returns_campaign_arn(world: World) -> None:
    response = world.client.update_campaign(campaignArn=CAMPAIGN_ARN, minProvisionedTPS=10)
    response.pop("ResponseMetadata")
    assert response == {"campaignArn": CAMPAIGN_ARN}


def test_update_campaign_applies_new_tps_and_config_once_active(world: World) -> None:
    new_config = {"rankingInfluence": {"FRESHNESS": 0.5}}
    world.client.update_campaign(campaignArn=CAMPAIGN_ARN, minProvisionedTPS=10, campaignConfig=new_config)
    assert campaign(world)["minProvisionedTPS"] == 5

    world.clock.advance(PENDING + DEPLOYMENT)
    described = campaign(world)
    assert (described["minProvisionedTPS"], described["campaignConfig"]) == (10, new_config)
    assert described["solutionVersionArn"] == world.initial_version


def test_failed_campaign_update_keeps_serving_old_version(world: World) -> None:
    new_version = trained_version(world)
    world.emulator.faults.fail_job("deployment", "Not enough capacity", name=CAMPAIGN_ARN)
    world.client.update_campaign(campaignArn=CAMPAIGN_ARN, solutionVersionArn=new_version)

    world.clock.advance(PENDING + DEPLOYMENT)
    described = campaign(world)
    update = described["latestCampaignUpdate"]
    assert (update["status"], update["failureReason"]) == ("CREATE FAILED", "Not enough capacity")
    assert (described["status"], described["solutionVersionArn"]) == ("ACTIVE", world.initial_version)

    # The fault was consumed: a retry deploys.
    world.client.update_campaign(campaignArn=CAMPAIGN_ARN, solutionVersionArn=new_version)
    world.clock.advance(PENDING + DEPLOYMENT)
    assert campaign(world)["solutionVersionArn"] == new_version


def test_job_can_fail_without_a_failure_reason(world: World) -> None:
    # The API reference lists failureReason as optional: a CREATE FAILED job
    # may come back without the key at all.
    world.emulator.faults.fail_job("import", None, name="silent")
    world.emulator.faults.fail_job("training", None, name="silent")
    world.emulator.faults.fail_job("deployment", None, name=CAMPAIGN_ARN)
    job_arn = start_import(world, "silent")
    version_arn = start_training(world, name="silent")
    world.client.update_campaign(campaignArn=CAMPAIGN_ARN, minProvisionedTPS=7)
    world.clock.advance(PENDING + TRAINING)

    described = [
        import_job(world, job_arn),
        version(world, version_arn),
        campaign(world)["latestCampaignUpdate"],
        world.client.list_dataset_import_jobs()["datasetImportJobs"][0],
        world.client.list_solution_versions(solutionArn=SOLUTION_ARN)["solutionVersions"][0],
    ]
    assert [d["status"] for d in described] == ["CREATE FAILED"] * 5
    assert all("failureReason" not in d for d in described)
    assert campaign(world)["minProvisionedTPS"] == 5


def test_job_failure_with_a_reason_still_reports_it(world: World) -> None:
    world.emulator.faults.fail_job("training", "Not enough data", name="loud")
    world.emulator.faults.fail_job("training", None, name="silent")
    loud = start_training(world, name="loud")
    world.clock.advance(PENDING + TRAINING)
    silent = start_training(world, name="silent")
    world.clock.advance(PENDING + TRAINING)
    assert version(world, loud)["failureReason"] == "Not enough data"
    assert (version(world, silent)["status"], version(world, silent).get("failureReason")) == ("CREATE FAILED", None)


# ----- automatic training --------------------------------------------------------


def add_auto_solution(w: World, **options: Any) -> str:
    return w.emulator.add_solution(
        AUTO_SOLUTION_ARN, perform_auto_training=True, dataset_group_arn=GROUP_ARN, **options
    )


def versions_of(w: World, solution_arn: str = AUTO_SOLUTION_ARN) -> list[dict[str, Any]]:
    return w.client.list_solution_versions(solutionArn=solution_arn)["solutionVersions"]


def test_first_automatic_training_starts_an_hour_after_the_solution(world: World) -> None:
    add_auto_solution(world)
    world.clock.advance(HOUR - datetime.timedelta(seconds=1))
    assert versions_of(world) == []

    world.clock.advance(datetime.timedelta(seconds=1))
    [summary] = versions_of(world)
    assert (summary["status"], summary["trainingType"], summary["trainingMode"]) == (
        "CREATE PENDING",
        "AUTOMATIC",
        "FULL",
    )
    assert summary["creationDateTime"] == START + HOUR
    solution = world.client.describe_solution(solutionArn=AUTO_SOLUTION_ARN)["solution"]
    assert solution["latestSolutionVersion"]["trainingType"] == "AUTOMATIC"

    world.clock.advance(PENDING + TRAINING)
    described = version(world, summary["solutionVersionArn"])
    assert (described["status"], described["trainingType"], described["trainingHours"]) == ("ACTIVE", "AUTOMATIC", 6.0)
    assert "name" not in described


def test_automatic_training_runs_only_after_new_interactions(world: World) -> None:
    world.emulator.add_dataset(OTHER_GROUP_DATASET_ARN)
    add_auto_solution(world)
    world.clock.advance(HOUR + PENDING + TRAINING)
    assert len(versions_of(world)) == 1

    # Nothing new by the next run: no training.
    world.clock.advance(7 * DAY - PENDING - TRAINING)
    assert len(versions_of(world)) == 1

    # Items, and interactions of another dataset group, are not new interactions.
    start_import(world, "items", datasetArn=FRESH_DATASET_ARN)
    start_import(world, "outlet", datasetArn=OTHER_GROUP_DATASET_ARN)
    world.clock.advance(7 * DAY)
    assert len(versions_of(world)) == 1

    start_import(world, "interactions")
    world.clock.advance(7 * DAY)
    newest = versions_of(world)[0]
    assert (newest["trainingType"], newest["creationDateTime"]) == ("AUTOMATIC", START + HOUR + 21 * DAY)


def test_manual_version_within_the_hour_skips_first_automatic_training(world: World) -> None:
    add_auto_solution(world)
    world.clock.advance(HOUR / 2)
    manual = start_training(world, AUTO_SOLUTION_ARN, name="first")
    world.clock.advance(HOUR + PENDING + TRAINING)
    assert [(v["solutionVersionArn"], v["trainingType"]) for v in versions_of(world)] == [(manual, "MANUAL")]


def test_manual_training_while_an_automatic_one_runs_is_in_use(world: World) -> None:
    add_auto_solution(world)
    world.clock.advance(HOUR + PENDING)
    with pytest.raises(world.client.exceptions.ResourceInUseException) as excinfo:
        start_training(world, AUTO_SOLUTION_ARN, name="manual")
    assert "automatic solution version" in error_of(excinfo)["Message"]

    world.clock.advance(TRAINING)
    manual = start_training(world, AUTO_SOLUTION_ARN, name="manual")
    assert version(world, manual)["trainingType"] == "MANUAL"


def test_automatic_run_due_while_a_version_trains_is_skipped(world: World) -> None:
    world.emulator.set_duration("training", 30 * HOUR)
    add_auto_solution(world, auto_training_days=1)
    start_import(world, "interactions")
    world.clock.advance(HOUR)
    assert len(versions_of(world)) == 1
    # The import went ACTIVE after that version started, but the next run
    # finds it still training.
    world.clock.advance(DAY)
    assert len(versions_of(world)) == 1
    world.clock.advance(DAY)
    assert [v["creationDateTime"] for v in versions_of(world)] == [START + HOUR + 2 * DAY, START + HOUR]


def test_automatic_training_schedule_follows_its_rate(world: World) -> None:
    add_auto_solution(world, auto_training_days=3)
    solution = world.client.describe_solution(solutionArn=AUTO_SOLUTION_ARN)["solution"]
    assert solution["performAutoTraining"] is True
    assert solution["solutionConfig"] == {"autoTrainingConfig": {"schedulingExpression": "rate(3 days)"}}
    assert world.emulator.next_automatic_training(AUTO_SOLUTION_ARN) == START + HOUR
    world.clock.advance(HOUR)
    assert world.emulator.next_automatic_training(AUTO_SOLUTION_ARN) == START + HOUR + 3 * DAY
    assert world.emulator.next_automatic_training(SOLUTION_ARN) is None


@pytest.mark.parametrize("days", [0, 31, True])
def test_automatic_training_rate_is_one_to_thirty_days(world: World, days: int) -> None:
    with pytest.raises(ValueError, match="auto_training_days"):
        add_auto_solution(world, auto_training_days=days)


def test_training_fault_fails_the_next_automatic_version(world: World) -> None:
    world.emulator.faults.fail_job("training", None, name=AUTO_SOLUTION_ARN)
    add_auto_solution(world)
    world.clock.advance(HOUR + PENDING + TRAINING)
    [failed] = versions_of(world)
    assert (failed["status"], failed["trainingType"]) == ("CREATE FAILED", "AUTOMATIC")
    assert "failureReason" not in failed


def test_fault_registered_later_spares_an_automatic_version_already_due(world: World) -> None:
    add_auto_solution(world)
    world.clock.advance(2 * HOUR)
    # The automatic version started an hour ago, before this fault existed.
    world.emulator.faults.fail_job("training", "Too late")
    world.clock.advance(TRAINING)
    [automatic] = versions_of(world)
    assert automatic["status"] == "ACTIVE"
    doomed = start_training(world, AUTO_SOLUTION_ARN)
    world.clock.advance(PENDING + TRAINING)
    assert version(world, doomed)["failureReason"] == "Too late"


# ----- campaigns that follow the latest version --------------------------------------


def add_synced_campaign(w: World) -> str:
    return w.emulator.add_campaign(SYNCED_CAMPAIGN_ARN, solution_arn=OTHER_SOLUTION_ARN, campaign_config=SYNC)


def synced(w: World) -> dict[str, Any]:
    return w.client.describe_campaign(campaignArn=SYNCED_CAMPAIGN_ARN)["campaign"]


def test_synced_campaign_refuses_an_explicit_version(world: World) -> None:
    add_synced_campaign(world)
    newer = trained_version(world, OTHER_SOLUTION_ARN)
    with pytest.raises(world.client.exceptions.InvalidInputException) as excinfo:
        world.client.update_campaign(campaignArn=SYNCED_CAMPAIGN_ARN, solutionVersionArn=newer)
    assert f"{OTHER_SOLUTION_ARN}/$LATEST" in error_of(excinfo)["Message"]
    assert "latestCampaignUpdate" not in synced(world)


@pytest.mark.parametrize("solution_version", [None, "explicit"])
def test_turning_sync_on_needs_the_latest_form(world: World, solution_version: str | None) -> None:
    params: dict[str, Any] = {"campaignArn": CAMPAIGN_ARN, "campaignConfig": SYNC}
    if solution_version is not None:
        params["solutionVersionArn"] = trained_version(world)
    with pytest.raises(world.client.exceptions.InvalidInputException) as excinfo:
        world.client.update_campaign(**params)
    assert "syncWithLatestSolutionVersion" in error_of(excinfo)["Message"]


def test_synced_campaign_follows_each_new_active_version(world: World) -> None:
    seeded = add_synced_campaign(world)
    described = synced(world)
    assert (described["solutionVersionArn"], described["campaignConfig"]) == (seeded, SYNC)

    newer = start_training(world, OTHER_SOLUTION_ARN)
    world.clock.advance(PENDING + TRAINING - datetime.timedelta(seconds=1))
    assert synced(world)["solutionVersionArn"] == seeded
    world.clock.advance(datetime.timedelta(seconds=1))
    described = synced(world)
    assert (described["solutionVersionArn"], described["lastUpdatedDateTime"]) == (newer, START + PENDING + TRAINING)
    assert described["status"] == "ACTIVE"
    assert world.emulator.count("UpdateCampaign") == 0


def test_synced_campaign_keeps_following_through_updates_without_a_version(world: World) -> None:
    add_synced_campaign(world)
    world.client.update_campaign(campaignArn=SYNCED_CAMPAIGN_ARN, minProvisionedTPS=4)
    world.clock.advance(PENDING + DEPLOYMENT)
    newer = trained_version(world, OTHER_SOLUTION_ARN)
    assert (synced(world)["solutionVersionArn"], synced(world)["minProvisionedTPS"]) == (newer, 4)


def test_update_to_latest_form_deploys_newest_active_version_and_follows(world: World) -> None:
    trained = trained_version(world)
    world.client.update_campaign(
        campaignArn=CAMPAIGN_ARN, solutionVersionArn=f"{SOLUTION_ARN}/$LATEST", campaignConfig=SYNC
    )
    # latestCampaignUpdate names the form asked for; the campaign serves the concrete version.
    assert campaign(world)["latestCampaignUpdate"]["solutionVersionArn"] == f"{SOLUTION_ARN}/$LATEST"
    world.clock.advance(PENDING + DEPLOYMENT)
    assert (campaign(world)["solutionVersionArn"], campaign(world)["campaignConfig"]) == (trained, SYNC)

    newest = trained_version(world)
    assert campaign(world)["solutionVersionArn"] == newest


def test_latest_form_without_sync_deploys_once(world: World) -> None:
    trained = trained_version(world)
    world.client.update_campaign(campaignArn=CAMPAIGN_ARN, solutionVersionArn=f"{SOLUTION_ARN}/$LATEST")
    world.clock.advance(PENDING + DEPLOYMENT)
    trained_version(world)
    assert campaign(world)["solutionVersionArn"] == trained


def test_latest_form_of_another_solution_is_rejected(world: World) -> None:
    trained_version(world, OTHER_SOLUTION_ARN)
    with pytest.raises(world.client.exceptions.InvalidInputException) as excinfo:
        world.client.update_campaign(campaignArn=CAMPAIGN_ARN, solutionVersionArn=f"{OTHER_SOLUTION_ARN}/$LATEST")
    assert "does not name the latest version" in error_of(excinfo)["Message"]


def test_turning_sync_off_pins_an_explicit_version(world: World) -> None:
    seeded = add_synced_campaign(world)
    world.client.update_campaign(
        campaignArn=SYNCED_CAMPAIGN_ARN,
        solutionVersionArn=seeded,
        campaignConfig={"syncWithLatestSolutionVersion": False},
    )
    world.clock.advance(PENDING + DEPLOYMENT)
    trained_version(world, OTHER_SOLUTION_ARN)
    assert synced(world)["solutionVersionArn"] == seeded


# ----- errors ------------------------------------------------------------------


def test_reused_import_job_name_already_exists(world: World) -> None:
    start_import(world, "nightly")
    world.clock.advance(PENDING + IMPORT)
    with pytest.raises(world.client.exceptions.ResourceAlreadyExistsException):
        start_import(world, "nightly", datasetArn=FRESH_DATASET_ARN)


def test_reused_solution_version_name_already_exists_within_solution(world: World) -> None:
    trained_version(world, name="weekly")
    with pytest.raises(world.client.exceptions.ResourceAlreadyExistsException):
        start_training(world, name="weekly")
    # Names are scoped to their solution.
    start_training(world, OTHER_SOLUTION_ARN, name="weekly")


def test_sixth_concurrent_import_exceeds_limit(world: World) -> None:
    for index in range(5):
        start_import(world, f"import-{index}")
    with pytest.raises(world.client.exceptions.LimitExceededException):
        start_import(world, "import-5")

    world.clock.advance(PENDING + IMPORT)
    start_import(world, "import-5")


def test_limit_holds_under_concurrent_creates() -> None:
    emulator = PersonalizeEmulator(lambda: START)
    emulator.add_dataset(DATASET_ARN)
    # Widen the gap between the limit check and recording the job (fault
    # lookup sits in between) so that without the lock every thread would
    # pass the check before any job exists.
    take_job_failure = emulator.faults.take_job_failure

    def slow_take_job_failure(*args: Any) -> Any:
        time.sleep(0.001)
        return take_job_failure(*args)

    emulator.faults.take_job_failure = slow_take_job_failure  # type: ignore[method-assign]
    outcomes: list[str] = []
    start_together = threading.Barrier(20)

    def create(index: int) -> None:
        start_together.wait()
        params = {
            "jobName": f"parallel-{index}",
            "datasetArn": DATASET_ARN,
            "dataSource": {"dataLocation": "s3://bucket/x.csv"},
        }
        try:
            emulator.call("CreateDatasetImportJob", params)
            outcomes.append("created")
        except PersonalizeError as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["LimitExceededException"] * 15 + ["created"] * 5
    assert emulator.count("CreateDatasetImportJob") == 20


def test_new_solution_version_while_one_trains_is_in_use(world: World) -> None:
    start_training(world)
    world.clock.advance(PENDING)
    with pytest.raises(world.client.exceptions.ResourceInUseException):
        start_training(world)
    world.clock.advance(TRAINING)
    start_training(world)


def test_update_campaign_mid_update_is_in_use(world: World) -> None:
    world.client.update_campaign(campaignArn=CAMPAIGN_ARN, minProvisionedTPS=2)
    world.clock.advance(PENDING)
    with pytest.raises(world.client.exceptions.ResourceInUseException):
        world.client.update_campaign(campaignArn=CAMPAIGN_ARN, minProvisionedTPS=3)
    world.clock.advance(DEPLOYMENT)
    world.client.update_campaign(campaignArn=CAMPAIGN_ARN, minProvisionedTPS=3)


UNKNOWN_CALLS = [
    ("describe_dataset", {"datasetArn": f"{PREFIX}:dataset/nope/INTERACTIONS"}),
    ("describe_solution", {"solutionArn": f"{PREFIX}:solution/nope"}),
    ("describe_campaign", {"campaignArn": f"{PREFIX}:campaign/nope"}),
    ("describe_dataset_import_job", {"datasetImportJobArn": f"{PREFIX}:dataset-import-job/nope"}),
    ("describe_solution_version", {"solutionVersionArn": f"{SOLUTION_ARN}/deadbeef"}),
    ("get_solution_metrics", {"solutionVersionArn": f"{SOLUTION_ARN}/deadbeef"}),
    ("stop_solution_version_creation", {"solutionVersionArn": f"{SOLUTION_ARN}/deadbeef"}),
    ("list_solution_versions", {"solutionArn": f"{PREFIX}:solution/nope"}),
    ("create_solution_version", {"solutionArn": f"{PREFIX}:solution/nope"}),
    (
        "create_dataset_import_job",
        {
            "jobName": "x",
            "datasetArn": f"{PREFIX}:dataset/nope/INTERACTIONS",
            "dataSource": {"dataLocation": "s3://b/k"},
        },
    ),
    ("update_campaign", {"campaignArn": f"{PREFIX}:campaign/nope"}),
    ("update_campaign", {"campaignArn": CAMPAIGN_ARN, "solutionVersionArn": f"{SOLUTION_ARN}/deadbeef"}),
]


@pytest.mark.parametrize(("method", "params"), UNKNOWN_CALLS)
def test_unknown_resources_are_not_found(world: World, method: str, params: dict[str, Any]) -> None:
    with pytest.raises(world.client.exceptions.ResourceNotFoundException) as excinfo:
        getattr(world.client, method)(**params)
    assert "does not exist" in error_of(excinfo)["Message"]


def test_update_campaign_rejects_version_that_is_not_active(world: World) -> None:
    training = start_training(world)
    with pytest.raises(world.client.exceptions.InvalidInputException) as excinfo:
        world.client.update_campaign(campaignArn=CAMPAIGN_ARN, solutionVersionArn=training)
    assert "not ACTIVE" in error_of(excinfo)["Message"]


def test_update_campaign_rejects_version_of_another_solution(world: World) -> None:
    foreign = trained_version(world, OTHER_SOLUTION_ARN)
    with pytest.raises(world.client.exceptions.InvalidInputException) as excinfo:
        world.client.update_campaign(campaignArn=CAMPAIGN_ARN, solutionVersionArn=foreign)
    assert "does not belong" in error_of(excinfo)["Message"]


@pytest.mark.parametrize(
    "role_arn",
    [f"arn:aws:iam::{ACCOUNT}:user/bob", f"arn:aws:iam::{ACCOUNT}:roleBob"],
    ids=["model-pattern", "semantic"],
)
def test_import_rejects_non_role_arn(world: World, role_arn: str) -> None:
    with pytest.raises(world.client.exceptions.InvalidInputException) as excinfo:
        start_import(world, roleArn=role_arn)
    assert "roleArn" in error_of(excinfo)["Message"]


def test_import_rejects_non_s3_location(world: World) -> None:
    with pytest.raises(world.client.exceptions.InvalidInputException) as excinfo:
        start_import(world, dataSource={"dataLocation": "https://bucket/interactions.csv"})
    assert "dataLocation" in error_of(excinfo)["Message"]


@pytest.mark.parametrize("recipe", ["aws-user-personalization", "aws-hrnn-coldstart"])
def test_update_training_needs_an_active_full_version(world: World, recipe: str) -> None:
    world.emulator.add_solution(UPDATABLE_SOLUTION_ARN, recipe_arn=f"arn:aws:personalize:::recipe/{recipe}")
    with pytest.raises(world.client.exceptions.InvalidInputException) as excinfo:
        start_training(world, UPDATABLE_SOLUTION_ARN, trainingMode="UPDATE")
    assert "trainingMode FULL" in error_of(excinfo)["Message"]

    trained_version(world, UPDATABLE_SOLUTION_ARN)
    arn = start_training(world, UPDATABLE_SOLUTION_ARN, trainingMode="UPDATE")
    assert version(world, arn)["trainingMode"] == "UPDATE"


def test_update_training_takes_its_own_duration_once_set(world: World) -> None:
    world.emulator.add_solution(
        UPDATABLE_SOLUTION_ARN, recipe_arn="arn:aws:personalize:::recipe/aws-user-personalization"
    )
    world.emulator.set_duration("update_training", HOUR)
    full = trained_version(world, UPDATABLE_SOLUTION_ARN)  # FULL: still the "training" duration

    update = start_training(world, UPDATABLE_SOLUTION_ARN, trainingMode="UPDATE")
    world.clock.advance(PENDING + HOUR - datetime.timedelta(seconds=1))
    assert version(world, update)["status"] == "CREATE IN_PROGRESS"
    world.clock.advance(datetime.timedelta(seconds=1))

    assert version(world, update)["status"] == "ACTIVE"
    assert (version(world, full)["trainingHours"], version(world, update)["trainingHours"]) == (6, 1)


def test_update_training_lasts_as_long_as_full_until_set(world: World) -> None:
    world.emulator.add_solution(UPDATABLE_SOLUTION_ARN, recipe_arn="arn:aws:personalize:::recipe/aws-hrnn-coldstart")
    trained_version(world, UPDATABLE_SOLUTION_ARN)

    update = trained_version(world, UPDATABLE_SOLUTION_ARN, trainingMode="UPDATE")

    assert version(world, update)["trainingHours"] == 6


def test_update_training_is_refused_for_user_personalization_v2(world: World) -> None:
    # SOLUTION_ARN uses aws-user-personalization-v2 and has an ACTIVE FULL version.
    with pytest.raises(world.client.exceptions.InvalidInputException) as excinfo:
        start_training(world, SOLUTION_ARN, trainingMode="UPDATE")
    assert "aws-user-personalization-v2" in error_of(excinfo)["Message"]


def test_incremental_import_needs_an_earlier_active_import(world: World) -> None:
    world.emulator.faults.fail_job("import", "Bad rows", name=FRESH_DATASET_ARN)
    start_import(world, "first-try", datasetArn=FRESH_DATASET_ARN)
    world.clock.advance(PENDING + IMPORT)

    # A failed import leaves the dataset without data.
    with pytest.raises(world.client.exceptions.InvalidInputException) as excinfo:
        start_import(world, "delta", datasetArn=FRESH_DATASET_ARN, importMode="INCREMENTAL")
    assert "INCREMENTAL" in error_of(excinfo)["Message"]

    start_import(world, "second-try", datasetArn=FRESH_DATASET_ARN)
    world.clock.advance(PENDING + IMPORT)
    start_import(world, "delta", datasetArn=FRESH_DATASET_ARN, importMode="INCREMENTAL")
    # The seeded dataset counts as already holding data.
    start_import(world, "seeded-delta", importMode="INCREMENTAL")


# ----- fault injection -----------------------------------------------------------


def test_injected_error_raises_n_times_then_clears(world: World) -> None:
    world.emulator.faults.raise_error(
        "CreateSolutionVersion", "LimitExceededException", times=2, message="Too many versions"
    )
    for _ in range(2):
        with pytest.raises(world.client.exceptions.LimitExceededException) as excinfo:
            start_training(world)
        assert error_of(excinfo)["Message"] == "Too many versions"
    start_training(world)
    assert world.emulator.count("CreateSolutionVersion") == 3


def test_injected_error_fires_before_validation(world: World) -> None:
    world.emulator.faults.raise_error("DescribeCampaign", "ThrottlingException")
    with pytest.raises(world.client.exceptions.ClientError) as excinfo:
        world.client.describe_campaign(campaignArn=CAMPAIGN_ARN)
    assert error_of(excinfo)["Code"] == "ThrottlingException"
    assert campaign(world)["status"] == "ACTIVE"


UNDEFINED_ERRORS = [("ThrottlingException", 400), ("InternalFailure", 500), ("ServiceUnavailable", 503)]


@pytest.mark.parametrize(("code", "status"), UNDEFINED_ERRORS)
def test_undefined_error_is_a_plain_client_error_with_aws_status(world: World, code: str, status: int) -> None:
    world.emulator.faults.raise_error("DescribeCampaign", code, message="Try again later")
    with pytest.raises(ClientError) as excinfo:
        world.client.describe_campaign(campaignArn=CAMPAIGN_ARN)
    # Not one of client.exceptions: botocore's Personalize model has no such shape.
    assert type(excinfo.value) is ClientError
    assert error_of(excinfo)["Code"] == code
    assert error_of(excinfo)["Message"] == "Try again later"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_modeled_error_keeps_its_class_and_status_400(world: World) -> None:
    world.emulator.faults.raise_error("UpdateCampaign", "ResourceInUseException")
    with pytest.raises(world.client.exceptions.ResourceInUseException) as excinfo:
        world.client.update_campaign(campaignArn=CAMPAIGN_ARN, minProvisionedTPS=2)
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_http_status_can_be_chosen(world: World) -> None:
    world.emulator.faults.raise_error("DescribeCampaign", "ThrottlingException", http_status=429)
    with pytest.raises(ClientError) as excinfo:
        world.client.describe_campaign(campaignArn=CAMPAIGN_ARN)
    assert (error_of(excinfo)["Code"], excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ThrottlingException",
        429,
    )


@pytest.fixture
def no_retry_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    # Keep botocore's retry decisions, skip its backoff sleeps.
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


@pytest.mark.usefixtures("no_retry_delay")
@pytest.mark.parametrize(("code", "status"), UNDEFINED_ERRORS)
def test_standard_retries_absorb_throttling_and_5xx(world: World, code: str, status: int) -> None:
    client = boto3.client("personalize", region_name=REGION, config=STANDARD_RETRIES)
    world.emulator.faults.raise_error("DescribeCampaign", code, times=2)

    response = client.describe_campaign(campaignArn=CAMPAIGN_ARN)

    assert response["campaign"]["status"] == "ACTIVE"
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert world.emulator.count("DescribeCampaign") == 3


@pytest.mark.usefixtures("no_retry_delay")
def test_standard_retries_give_up_after_three_attempts(world: World) -> None:
    client = boto3.client("personalize", region_name=REGION, config=STANDARD_RETRIES)
    world.emulator.faults.raise_error("DescribeCampaign", "ServiceUnavailable", times=3)
    with pytest.raises(ClientError) as excinfo:
        client.describe_campaign(campaignArn=CAMPAIGN_ARN)
    assert error_of(excinfo)["Code"] == "ServiceUnavailable"
    assert excinfo.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    assert world.emulator.count("DescribeCampaign") == 3


@pytest.mark.usefixtures("no_retry_delay")
def test_standard_retries_leave_modeled_client_errors_alone(world: World) -> None:
    client = boto3.client("personalize", region_name=REGION, config=STANDARD_RETRIES)
    world.emulator.faults.raise_error("DescribeCampaign", "InvalidInputException", times=3)
    with pytest.raises(client.exceptions.InvalidInputException):
        client.describe_campaign(campaignArn=CAMPAIGN_ARN)
    assert world.emulator.count("DescribeCampaign") == 1


def test_named_training_fault_spares_other_versions(world: World) -> None:
    world.emulator.faults.fail_job("training", "OOM", name="big")
    ok = start_training(world, OTHER_SOLUTION_ARN, name="small")
    doomed = start_training(world, SOLUTION_ARN, name="big")
    world.clock.advance(PENDING + TRAINING)
    assert version(world, ok)["status"] == "ACTIVE"
    assert version(world, doomed)["status"] == "CREATE FAILED"


def test_unnamed_deployment_fault_hits_next_update(world: World) -> None:
    world.emulator.faults.fail_job("deployment", "Deployment failed")
    world.client.update_campaign(campaignArn=CAMPAIGN_ARN, minProvisionedTPS=7)
    world.clock.advance(PENDING + DEPLOYMENT)
    described = campaign(world)
    assert described["latestCampaignUpdate"]["status"] == "CREATE FAILED"
    assert described["minProvisionedTPS"] == 5


@pytest.mark.parametrize(
    ("phase", "start", "expected_active_after"),
    [
        ("import", start_import, PENDING + datetime.timedelta(minutes=5)),
        ("training", start_training, PENDING + datetime.timedelta(minutes=5)),
        ("pending", start_import, datetime.timedelta(minutes=5) + IMPORT),
    ],
)
def test_set_duration_changes_job_phases(
    world: World, phase: str, start: Any, expected_active_after: datetime.timedelta
) -> None:
    world.emulator.set_duration(phase, datetime.timedelta(minutes=5))
    arn = start(world)
    describe = import_job if start is start_import else version
    world.clock.advance(expected_active_after - datetime.timedelta(seconds=1))
    assert describe(world, arn)["status"] == "CREATE IN_PROGRESS"
    world.clock.advance(datetime.timedelta(seconds=1))
    assert describe(world, arn)["status"] == "ACTIVE"


def test_set_duration_changes_deployment(world: World) -> None:
    world.emulator.set_duration("deployment", datetime.timedelta(minutes=2))
    world.emulator.set_duration("pending", datetime.timedelta(0))
    world.client.update_campaign(campaignArn=CAMPAIGN_ARN, minProvisionedTPS=9)
    assert campaign(world)["latestCampaignUpdate"]["status"] == "CREATE IN_PROGRESS"
    world.clock.advance(datetime.timedelta(minutes=2))
    assert campaign(world)["minProvisionedTPS"] == 9


def test_fault_api_rejects_unknown_names(world: World) -> None:
    with pytest.raises(ValueError):
        world.emulator.faults.fail_job("export", "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        world.emulator.faults.raise_error("CreateCampaign", "LimitExceededException")
    with pytest.raises(ValueError):
        world.emulator.faults.raise_error("DescribeCampaign", "ThrottlingException", http_status=200)
    with pytest.raises(ValueError):
        world.emulator.set_duration("coffee-break", datetime.timedelta(minutes=1))


# ----- validation against the model ----------------------------------------------

VALID_IMPORT = {
    "jobName": "ok",
    "datasetArn": DATASET_ARN,
    "dataSource": {"dataLocation": "s3://b/k"},
}

INVALID_REQUESTS = [
    ("create_dataset_import_job", {k: v for k, v in VALID_IMPORT.items() if k != "jobName"}, "'jobName'"),
    ("create_dataset_import_job", {**VALID_IMPORT, "jobName": "j" * 64}, "'jobName'"),
    ("create_dataset_import_job", {**VALID_IMPORT, "jobName": "nightly import"}, "'jobName'"),
    ("create_dataset_import_job", {**VALID_IMPORT, "importMode": "PARTIAL"}, "'importMode'"),
    ("create_dataset_import_job", {**VALID_IMPORT, "datasetArn": "not-an-arn"}, "'datasetArn'"),
    ("create_dataset_import_job", {**VALID_IMPORT, "tags": [{"tagKey": "", "tagValue": "v"}]}, "'tags[0].tagKey'"),
    ("create_solution_version", {"solutionArn": SOLUTION_ARN, "trainingMode": "PARTIAL"}, "'trainingMode'"),
    ("update_campaign", {"campaignArn": CAMPAIGN_ARN, "minProvisionedTPS": 0}, "'minProvisionedTPS'"),
    ("update_campaign", {"campaignArn": CAMPAIGN_ARN, "minProvisionedTPS": "2"}, "'minProvisionedTPS'"),
    (
        "update_campaign",
        {"campaignArn": CAMPAIGN_ARN, "campaignConfig": {"rankingInfluence": {"POPULARITY": 1.5}}},
        "'campaignConfig.rankingInfluence.POPULARITY'",
    ),
    ("list_dataset_import_jobs", {"maxResults": 101}, "'maxResults'"),
]


@pytest.mark.parametrize(("method", "params", "parameter"), INVALID_REQUESTS)
def test_model_violations_name_the_parameter(world: World, method: str, params: dict[str, Any], parameter: str) -> None:
    client = boto3.client("personalize", region_name=REGION, config=UNVALIDATED)
    with pytest.raises(client.exceptions.InvalidInputException) as excinfo:
        getattr(client, method)(**params)
    assert parameter in error_of(excinfo)["Message"]
    # Rejected requests still show up in the call log.
    assert world.emulator.calls[-1].params == params


def test_validation_catches_what_botocore_lets_through(world: World) -> None:
    # Default client-side validation does not check patterns.
    with pytest.raises(world.client.exceptions.InvalidInputException) as excinfo:
        start_import(world, "bad name!")
    assert "regular expression" in error_of(excinfo)["Message"]
    assert world.client.list_dataset_import_jobs()["datasetImportJobs"] == []


def test_unknown_members_are_rejected(world: World) -> None:
    # Step Functions-style PascalCase keys would otherwise be silently ignored.
    with pytest.raises(PersonalizeError) as excinfo:
        world.emulator.call("DescribeSolution", {"SolutionArn": SOLUTION_ARN})
    assert excinfo.value.code == "InvalidInputException"
    assert "'SolutionArn'" in excinfo.value.message


# ----- listing, describing, call log ----------------------------------------------


def test_list_import_jobs_filters_sorts_and_paginates(world: World) -> None:
    start_import(world, "a")
    world.clock.advance(datetime.timedelta(minutes=1))
    start_import(world, "b")
    start_import(world, "other", datasetArn=FRESH_DATASET_ARN)

    first = world.client.list_dataset_import_jobs(datasetArn=DATASET_ARN, maxResults=1)
    assert [j["jobName"] for j in first["datasetImportJobs"]] == ["b"]
    second = world.client.list_dataset_import_jobs(datasetArn=DATASET_ARN, maxResults=1, nextToken=first["nextToken"])
    assert [j["jobName"] for j in second["datasetImportJobs"]] == ["a"]
    assert "nextToken" not in second
    assert second["datasetImportJobs"][0]["status"] == "CREATE IN_PROGRESS"

    with pytest.raises(world.client.exceptions.InvalidNextTokenException):
        world.client.list_dataset_import_jobs(datasetArn=FRESH_DATASET_ARN, nextToken=first["nextToken"])


def test_list_solution_versions_and_describe_solution(world: World) -> None:
    newest = start_training(world, name="weekly")
    versions = world.client.list_solution_versions(solutionArn=SOLUTION_ARN)["solutionVersions"]
    assert [(v["solutionVersionArn"], v["status"]) for v in versions] == [
        (newest, "CREATE PENDING"),
        (world.initial_version, "ACTIVE"),
    ]
    solution = world.client.describe_solution(solutionArn=SOLUTION_ARN)["solution"]
    assert solution["status"] == "ACTIVE"
    assert solution["recipeArn"] == "arn:aws:personalize:::recipe/aws-user-personalization-v2"
    assert solution["performAutoTraining"] is False
    assert solution["latestSolutionVersion"]["solutionVersionArn"] == newest
    assert solution["latestSolutionVersion"]["trainingMode"] == "FULL"
    assert solution["latestSolutionVersion"]["trainingType"] == "MANUAL"


def test_describe_dataset(world: World) -> None:
    dataset = world.client.describe_dataset(datasetArn=DATASET_ARN)["dataset"]
    assert dataset["status"] == "ACTIVE"
    assert dataset["datasetType"] == "INTERACTIONS"
    assert dataset["datasetGroupArn"] == f"{PREFIX}:dataset-group/shop"


def test_call_log_records_every_call_including_failures(world: World) -> None:
    world.client.describe_campaign(campaignArn=CAMPAIGN_ARN)
    with pytest.raises(world.client.exceptions.ResourceNotFoundException):
        world.client.describe_solution(solutionArn=f"{PREFIX}:solution/nope")

    assert world.emulator.calls == [
        ("DescribeCampaign", {"campaignArn": CAMPAIGN_ARN}),
        ("DescribeSolution", {"solutionArn": f"{PREFIX}:solution/nope"}),
    ]
    assert world.emulator.count("DescribeSolution") == 1
    assert world.emulator.count("UpdateCampaign") == 0


# ----- moto integration --------------------------------------------------------------


def test_moto_schema_calls_keep_working(world: World) -> None:
    arn = world.client.create_schema(name="interactions", schema=json.dumps({"type": "record"}))["schemaArn"]
    assert world.client.describe_schema(schemaArn=arn)["schema"]["name"] == "interactions"
    assert [s["schemaArn"] for s in world.client.list_schemas()["schemas"]] == [arn]
    assert world.emulator.calls == []


def test_serve_unpatches_on_exit() -> None:
    emulator = PersonalizeEmulator(lambda: START)
    emulator.add_solution(SOLUTION_ARN)
    with mock_aws():
        client = boto3.client("personalize", region_name=REGION, config=ONE_ATTEMPT)
        with serve(emulator):
            assert client.describe_solution(solutionArn=SOLUTION_ARN)["solution"]["status"] == "ACTIVE"
        assert not hasattr(PersonalizeResponse, "describe_solution")
        with pytest.raises(NotImplementedError):
            client.describe_solution(solutionArn=SOLUTION_ARN)


def test_step_functions_interpreter_reaches_emulator() -> None:
    # Bare moto interpreter: camelCase Parameters pass straight to boto3.
    clock = ManualClock(START)
    emulator = PersonalizeEmulator(clock.now)
    emulator.add_solution(SOLUTION_ARN)
    initial = emulator.add_campaign(CAMPAIGN_ARN, solution_arn=SOLUTION_ARN)
    definition = {
        "StartAt": "Describe",
        "States": {
            "Describe": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:personalize:describeCampaign",
                "Parameters": {"campaignArn": CAMPAIGN_ARN},
                # Raw responses carry datetimes moto cannot put in execution output.
                "ResultSelector": {"version.$": "$.campaign.solutionVersionArn"},
                "ResultPath": "$.described",
                "Next": "Missing",
            },
            "Missing": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:personalize:describeCampaign",
                "Parameters": {"campaignArn": f"{PREFIX}:campaign/nope"},
                "Catch": [
                    {
                        "ErrorEquals": ["States.TaskFailed"],
                        "Next": "Caught",
                        "ResultPath": "$.error",
                    }
                ],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), serve(emulator):
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="describe", definition=json.dumps(definition), roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn"
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        result = _wait_for_execution(sfn, execution)

    assert result["status"] == "SUCCEEDED"
    output = json.loads(result["output"])
    assert output["described"] == {"version": initial}
    # Bare moto spells the prefix "personalize."; local_engine.sdk_adapter
    # fixes it to "Personalize." like real Step Functions.
    assert output["error"]["Error"].lower() == "personalize.resourcenotfoundexception"
    assert "campaign/nope does not exist" in output["error"]["Cause"]
    assert emulator.count("DescribeCampaign") == 2


def _wait_for_execution(sfn: Any, execution_arn: str) -> dict[str, Any]:
    # The interpreter runs on its own thread; this waits for it, not for
    # emulated time.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        result = sfn.describe_execution(executionArn=execution_arn)
        if result["status"] != "RUNNING":
            return result
        time.sleep(0.01)
    raise AssertionError("state machine did not finish")


# ----- solution updates and the automation guard -------------------------------------


def automation(w: World, campaign_arn: str = SYNCED_CAMPAIGN_ARN) -> list[str]:
    campaign = SimpleNamespace(
        solution_arn=AUTO_SOLUTION_ARN,
        solution_name="shop-auto",
        campaign_arn=campaign_arn,
        campaign_name=campaign_arn.rsplit("/", 1)[1],
    )
    return automation_warnings(w.client, [cast(Any, campaign)])


def test_update_solution_shows_under_latest_solution_update_and_stops_automatic_training(world: World) -> None:
    add_auto_solution(world)
    world.client.update_solution(solutionArn=AUTO_SOLUTION_ARN, performAutoTraining=False)

    solution = world.client.describe_solution(solutionArn=AUTO_SOLUTION_ARN)["solution"]
    # The solution keeps what CreateSolution set; the update shows what it asked for, and its status.
    assert solution["performAutoTraining"] is True
    assert (solution["latestSolutionUpdate"]["performAutoTraining"], solution["latestSolutionUpdate"]["status"]) == (
        False,
        "CREATE PENDING",
    )
    with pytest.raises(world.client.exceptions.ResourceInUseException):
        world.client.update_solution(solutionArn=AUTO_SOLUTION_ARN, performAutoTraining=True)
    world.clock.advance(7 * DAY)
    assert (
        world.client.describe_solution(solutionArn=AUTO_SOLUTION_ARN)["solution"]["latestSolutionUpdate"]["status"]
        == "ACTIVE"
    )
    assert versions_of(world) == []


def test_update_solution_turning_training_on_trains_an_hour_after_it_is_done(world: World) -> None:
    world.emulator.add_solution(AUTO_SOLUTION_ARN, perform_auto_training=False, dataset_group_arn=GROUP_ARN)
    world.client.update_solution(
        solutionArn=AUTO_SOLUTION_ARN,
        performAutoTraining=True,
        solutionUpdateConfig={"autoTrainingConfig": {"schedulingExpression": "rate(3 days)"}},
    )
    world.clock.advance(2 * PENDING + HOUR)
    [summary] = versions_of(world)
    assert summary["trainingType"] == "AUTOMATIC"


def test_the_guard_reads_automatic_training_as_the_latest_solution_update_sets_it(world: World) -> None:
    # Given a solution created with automatic training, turned off by an update
    add_auto_solution(world)
    world.emulator.add_campaign(CAMPAIGN_ARN, solution_arn=AUTO_SOLUTION_ARN)
    world.client.update_solution(solutionArn=AUTO_SOLUTION_ARN, performAutoTraining=False)
    # While the update is pending the solution still trains by itself
    (pending,) = automation(world, CAMPAIGN_ARN)
    assert "until its update (CREATE PENDING) turns it off" in pending
    # Once it is ACTIVE, nothing is left to warn of
    world.clock.advance(2 * PENDING)
    assert automation(world, CAMPAIGN_ARN) == []


def test_the_guard_sees_automatic_training_turned_on_by_an_update(world: World) -> None:
    world.emulator.add_solution(AUTO_SOLUTION_ARN, perform_auto_training=False, dataset_group_arn=GROUP_ARN)
    world.emulator.add_campaign(CAMPAIGN_ARN, solution_arn=AUTO_SOLUTION_ARN)
    world.client.update_solution(
        solutionArn=AUTO_SOLUTION_ARN,
        performAutoTraining=True,
        solutionUpdateConfig={"autoTrainingConfig": {"schedulingExpression": "rate(3 days)"}},
    )
    world.clock.advance(2 * PENDING)
    (warning,) = automation(world, CAMPAIGN_ARN)
    assert warning.startswith("solution shop-auto trains by itself (rate(3 days)): aws personalize update-solution")


def test_the_fix_for_a_synced_campaign_keeps_its_tps_and_config_and_pins_the_served_version(world: World) -> None:
    world.emulator.add_solution(AUTO_SOLUTION_ARN, dataset_group_arn=GROUP_ARN)
    config = {**CAMPAIGN_CONFIG, **SYNC}
    served = world.emulator.add_campaign(
        SYNCED_CAMPAIGN_ARN, solution_arn=AUTO_SOLUTION_ARN, min_provisioned_tps=7, campaign_config=config
    )
    (warning,) = automation(world)
    command = warning.split(": ", 1)[1]
    assert command == (
        f"aws personalize update-campaign --campaign-arn {SYNCED_CAMPAIGN_ARN} --solution-version-arn {served} "
        "--min-provisioned-tps 7 --campaign-config "
        "'itemExplorationConfig={explorationWeight=0.3},syncWithLatestSolutionVersion=false'"
    )
    # What the command sends turns only the sync off.
    world.client.update_campaign(
        campaignArn=SYNCED_CAMPAIGN_ARN,
        solutionVersionArn=served,
        minProvisionedTPS=7,
        campaignConfig={**CAMPAIGN_CONFIG, "syncWithLatestSolutionVersion": False},
    )
    world.clock.advance(PENDING + DEPLOYMENT)
    described = world.client.describe_campaign(campaignArn=SYNCED_CAMPAIGN_ARN)["campaign"]
    assert (described["minProvisionedTPS"], described["campaignConfig"]) == (
        7,
        {**CAMPAIGN_CONFIG, "syncWithLatestSolutionVersion": False},
    )
    assert automation(world) == []
