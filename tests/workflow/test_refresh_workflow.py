"""Workflow tests: the synthesized state machine executed on the embedded AWS, with the real handlers,
the Personalize emulator and the virtual clock. Every duration asserted here is simulated time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from infra.config import RefreshConfig, parse_config
from local_engine.refresh import LocalRefresh
from local_engine.synth import synthesize
from tests.conftest import example_raw, stop_when_training_starts

CAMPAIGN = "shop-home-recommendations"
BASE_DATE = 20261129  # the default start is 01:00 on Sunday the 29th in Seoul


@pytest.fixture(scope="module")
def example_json(example_template: Any) -> dict[str, Any]:
    return example_template.to_json()


@pytest.fixture(scope="module")
def short_timeout_template() -> dict[str, Any]:
    return synthesize(parse_config({**example_raw(), "execution_timeout_hours": 2})).to_json()


@pytest.fixture
def refresh(example_json: dict[str, Any], example_config: RefreshConfig) -> Iterator[LocalRefresh]:
    with LocalRefresh(example_json, example_config) as local:
        yield local


def run_glue_event(refresh: LocalRefresh, **kwargs: Any) -> dict[str, Any]:
    (arn,) = refresh.put_glue_event(**kwargs)
    return refresh.wait(arn)


def entered(refresh: LocalRefresh, execution_arn: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"] for e in refresh.history(execution_arn) if "stateEnteredEventDetails" in e
    ]


def import_jobs(refresh: LocalRefresh) -> list[dict[str, Any]]:
    client = refresh.aws.client("personalize")
    return client.list_dataset_import_jobs(datasetArn=refresh.config.datasets[0].dataset_arn)["datasetImportJobs"]


def solution_versions(refresh: LocalRefresh, solution_arn: str) -> list[dict[str, Any]]:
    return refresh.aws.client("personalize").list_solution_versions(solutionArn=solution_arn)["solutionVersions"]


# Happy paths -------------------------------------------------------------------------------------


def test_glue_success_imports_trains_and_deploys(refresh: LocalRefresh) -> None:
    refresh.emulator.set_duration("import", timedelta(hours=1))
    refresh.emulator.set_duration("training", timedelta(hours=6))
    refresh.emulator.set_duration("deployment", timedelta(minutes=30))
    previous = refresh.serving_version(CAMPAIGN)

    execution = run_glue_event(refresh)

    assert execution["status"] == "SUCCEEDED"
    record = refresh.run_record(CAMPAIGN, BASE_DATE)
    assert record["run_status"] == "SUCCEEDED"
    assert record["phase"] == "DONE"
    assert record["dataset_import_job_status"] == "ACTIVE"
    assert record["solution_version_status"] == "ACTIVE"
    assert record["campaign_update_status"] == "ACTIVE"
    assert record["execution_arn"] == execution["executionArn"]
    assert record["glue_job_name"] == "weekly-user-behaviour-export"
    assert record["deployed_solution_version_arn"] == record["solution_version_arn"]
    assert refresh.serving_version(CAMPAIGN) == record["solution_version_arn"] != previous
    assert refresh.alerts() == []
    # Each step started only once the one before it was ACTIVE: 7.5 h of work, polled every few minutes.
    elapsed = execution["stopDate"] - execution["startDate"]
    assert timedelta(hours=7, minutes=30) <= elapsed <= timedelta(hours=8)
    assert refresh.emulator.count("CreateDatasetImportJob") == 1
    assert refresh.emulator.count("CreateSolutionVersion") == 1
    assert refresh.emulator.count("UpdateCampaign") == 1


def test_every_status_change_is_mirrored_in_the_record(refresh: LocalRefresh) -> None:
    execution = run_glue_event(refresh)
    records = [
        e
        for e in refresh.history(execution["executionArn"])
        if e.get("stateEnteredEventDetails", {}).get("name", "").startswith("Record ")
    ]
    names = [e["stateEnteredEventDetails"]["name"] for e in records]
    # PENDING -> IN_PROGRESS -> ACTIVE for each phase, then success.
    assert names.count("Record import status") == 2
    assert "Mirror first dataset's import status" in entered(refresh, execution["executionArn"])
    assert names.count("Record training status") == 2
    assert names.count("Record deployment status") == 2
    assert names[-1] == "Record success"
    record = refresh.run_record(CAMPAIGN, BASE_DATE)
    assert record["dataset_import_jobs"]["interactions"]["status"] == "ACTIVE"
    assert isinstance(record["dataset_import_job_datetime"], int)
    assert record["solution_version_updated_at"].endswith("Z")


def test_two_datasets_and_two_campaigns_refresh_side_by_side(
    two_of_each_template: Any, two_of_each_config: RefreshConfig
) -> None:
    with LocalRefresh(two_of_each_template.to_json(), two_of_each_config) as refresh:
        refresh.emulator.set_duration("training", timedelta(hours=6))
        execution = run_glue_event(refresh)

        assert execution["status"] == "SUCCEEDED"
        records = refresh.run_records()
        assert {r["campaign_name"] for r in records} == {"shop-home-recommendations", "shop-similar-items"}
        assert all(r["run_status"] == "SUCCEEDED" for r in records)
        assert set(records[0]["dataset_import_jobs"]) == {"interactions", "items"}
        assert refresh.emulator.count("CreateDatasetImportJob") == 2
        assert refresh.emulator.count("UpdateCampaign") == 2
        # The campaigns train in parallel: their six hours overlap rather than add up.
        assert execution["stopDate"] - execution["startDate"] < timedelta(hours=9)


# Failures ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phase", "error", "recorded_phase"),
    [
        ("import", "ImportJobFailed", "IMPORT"),
        ("training", "TrainingFailed", "TRAINING"),
        ("deployment", "DeploymentFailed", "DEPLOYMENT"),
    ],
)
def test_a_failed_phase_is_recorded_alerted_and_leaves_the_old_version(
    refresh: LocalRefresh, phase: str, error: str, recorded_phase: str
) -> None:
    reason = f"{phase} went wrong: S3 object not readable"
    refresh.emulator.faults.fail_job(phase, reason)
    previous = refresh.serving_version(CAMPAIGN)

    execution = run_glue_event(refresh)

    assert execution["status"] == "FAILED"
    assert execution["error"] == error
    assert reason in execution["cause"]
    record = refresh.run_record(CAMPAIGN, BASE_DATE)
    status_attribute = {
        "import": "dataset_import_job_status",
        "training": "solution_version_status",
        "deployment": "campaign_update_status",
    }[phase]
    assert record[status_attribute] == "CREATE FAILED", "the record shows Personalize's own status"
    assert (record["run_status"], record["failure_phase"], record["failure_error"]) == ("FAILED", recorded_phase, error)
    assert reason in record["failure_reason"]
    (subject, message) = refresh.alerts()[0]
    assert "failed" in subject
    assert reason in message and "20261129" in message
    assert refresh.serving_version(CAMPAIGN) == previous


def test_a_lambda_error_is_recorded_with_its_phase(refresh: LocalRefresh) -> None:
    refresh.emulator.faults.raise_error(
        "CreateSolutionVersion", "InvalidInputException", times=1, message="Solution has no ACTIVE dataset"
    )
    execution = run_glue_event(refresh)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "InvalidInputException"
    record = refresh.run_record(CAMPAIGN, BASE_DATE)
    assert (record["failure_phase"], record["failure_error"]) == ("TRAINING", "InvalidInputException")
    assert "Solution has no ACTIVE dataset" in record["failure_reason"]


# Triggering --------------------------------------------------------------------------------------


def test_events_of_other_jobs_and_failed_runs_start_nothing(refresh: LocalRefresh) -> None:
    assert refresh.put_glue_event(job_name="some-other-export") == []
    assert refresh.put_glue_event(state="FAILED") == []
    assert refresh.put_glue_event(state="TIMEOUT") == []
    assert refresh.run_records() == []
    assert refresh.emulator.calls == []


def test_manual_start_with_a_base_date_backfills_that_day(refresh: LocalRefresh) -> None:
    execution = refresh.wait(refresh.start_manual({"base_date": "20261115"}))
    assert execution["status"] == "SUCCEEDED"
    record = refresh.run_record(CAMPAIGN, 20261115)
    assert (record["trigger"], record["run_status"]) == ("manual", "SUCCEEDED")
    assert import_jobs(refresh)[0]["jobName"] == "refresh-shop-recs-interactions-20261115"


@pytest.mark.parametrize(
    "payload",
    [
        {"base_date": "yesterday"},
        {"anything": 1},
        ["20261129"],
        {"base_date": "20261129", "campaign_arn": "arn:aws:personalize:x"},
    ],
)
def test_bad_manual_input_fails_fast_and_writes_nothing(refresh: LocalRefresh, payload: Any) -> None:
    execution = refresh.wait(refresh.start_manual(payload))
    assert execution["status"] == "FAILED"
    assert execution["error"] == "InvalidRunInput"
    assert refresh.run_records() == []
    assert refresh.emulator.calls == []


# Duplicates and re-runs --------------------------------------------------------------------------


def test_duplicate_event_while_running_creates_no_second_import(refresh: LocalRefresh) -> None:
    with refresh.clock.hold():  # both deliveries at the same simulated moment
        arns = refresh.put_glue_event() + refresh.put_glue_event()
    assert [refresh.wait(arn)["status"] for arn in arns] == ["SUCCEEDED", "SUCCEEDED"]
    # Whichever claims the day first runs it; the other ends as a duplicate.
    skipped = [arn for arn in arns if "Skip duplicate event" in entered(refresh, arn)]
    assert len(skipped) == 1
    (winner,) = set(arns) - set(skipped)
    assert "Start import" not in entered(refresh, skipped[0])
    assert len(import_jobs(refresh)) == 1
    assert refresh.emulator.count("CreateDatasetImportJob") == 1
    assert refresh.run_record(CAMPAIGN, BASE_DATE)["execution_arn"] == winner


def test_duplicate_event_after_success_touches_nothing(refresh: LocalRefresh) -> None:
    run_glue_event(refresh)
    calls = len(refresh.emulator.calls)
    duplicate = run_glue_event(refresh)
    assert duplicate["status"] == "SUCCEEDED"
    assert "Skip duplicate event" in entered(refresh, duplicate["executionArn"])
    assert len(refresh.emulator.calls) == calls


def test_rerun_after_a_failed_day_succeeds_and_reuses_the_import(refresh: LocalRefresh) -> None:
    refresh.emulator.faults.fail_job("training", "Training data too sparse")
    failed = run_glue_event(refresh)
    assert failed["status"] == "FAILED"

    rerun = refresh.wait(refresh.start_manual({"base_date": str(BASE_DATE)}))

    assert rerun["status"] == "SUCCEEDED"
    assert len(import_jobs(refresh)) == 1, "the ACTIVE import of the failed attempt is reused"
    solution = refresh.config.campaigns[0].solution_arn
    names = sorted(v["solutionVersionArn"] for v in solution_versions(refresh, solution))
    assert len(names) == 3  # the version the campaign had, the failed one, the re-run's
    record = refresh.run_record(CAMPAIGN, BASE_DATE)
    assert (record["run_status"], record["attempt"], record["trigger"]) == ("SUCCEEDED", 2, "manual")
    (previous,) = record["previous_attempts"]
    assert (previous["execution_arn"], previous["run_status"]) == (failed["executionArn"], "FAILED")
    assert previous["failure_reason"].endswith("Training data too sparse")


def test_rerun_after_a_failed_deployment_deploys_the_trained_version_without_waiting(refresh: LocalRefresh) -> None:
    refresh.emulator.faults.fail_job("deployment", "Campaign update failed: internal error")
    failed = run_glue_event(refresh)
    assert failed["error"] == "DeploymentFailed"
    trained = refresh.run_record(CAMPAIGN, BASE_DATE)["solution_version_arn"]

    rerun = refresh.wait(refresh.start_manual({"base_date": str(BASE_DATE)}))

    assert rerun["status"] == "SUCCEEDED"
    states = entered(refresh, rerun["executionArn"])
    assert "Wait before polling import" not in states and "Wait before polling training" not in states
    solution = refresh.config.campaigns[0].solution_arn
    assert len(solution_versions(refresh, solution)) == 2, "the version the campaign had, and the day's one"
    assert refresh.serving_version(CAMPAIGN) == trained


def test_a_crash_after_personalize_accepted_the_job_is_healed_by_the_rerun(
    refresh: LocalRefresh, monkeypatch: pytest.MonkeyPatch
) -> None:
    from refresh_common.run_record import RunRecords

    original = RunRecords.record_import_started
    crashes = iter([True])

    def crash_once(self: RunRecords, *args: Any, **kwargs: Any) -> None:
        if next(crashes, False):
            raise RuntimeError("Lambda runtime exited: out of memory")
        original(self, *args, **kwargs)

    monkeypatch.setattr(RunRecords, "record_import_started", crash_once)

    crashed = run_glue_event(refresh)
    assert crashed["status"] == "FAILED"
    assert len(import_jobs(refresh)) == 1, "Personalize accepted the job before the crash"
    assert refresh.run_record(CAMPAIGN, BASE_DATE)["failure_phase"] == "IMPORT"

    rerun = refresh.wait(refresh.start_manual({"base_date": str(BASE_DATE)}))

    assert rerun["status"] == "SUCCEEDED"
    assert len(import_jobs(refresh)) == 1, "the re-run found the job by its name instead of importing twice"
    assert (
        refresh.run_record(CAMPAIGN, BASE_DATE)["dataset_import_job_arn"]
        == import_jobs(refresh)[0]["datasetImportJobArn"]
    )


def test_a_timed_out_run_is_recorded_alerted_and_can_be_run_again_at_once(short_timeout_template: Any) -> None:
    config = parse_config({**example_raw(), "execution_timeout_hours": 2})
    with LocalRefresh(short_timeout_template, config) as refresh:
        refresh.emulator.set_duration("training", timedelta(minutes=90))
        timed_out = run_glue_event(refresh)
        assert timed_out["status"] == "TIMED_OUT"
        # No Catch runs on a timeout: Step Functions' status change event closes the record.
        record = refresh.run_record(CAMPAIGN, BASE_DATE)
        assert (record["run_status"], record["failure_phase"], record["failure_error"]) == (
            "TIMED_OUT",
            "TRAINING",
            "ExecutionTimedOut",
        )
        ((subject, message),) = refresh.alerts()
        assert subject == "Personalize refresh timed out"
        assert f"{CAMPAIGN} (in TRAINING)" in message
        assert timed_out["executionArn"] in message

        # The day may run again at once, not only once the timeout has passed since it started.
        rerun = refresh.wait(refresh.start_manual({"base_date": str(BASE_DATE)}))

        assert rerun["status"] == "SUCCEEDED"
        record = refresh.run_record(CAMPAIGN, BASE_DATE)
        assert (record["run_status"], record["previous_attempts"][0]["run_status"]) == ("SUCCEEDED", "TIMED_OUT")
        assert len(import_jobs(refresh)) == 1
        assert len(solution_versions(refresh, config.campaigns[0].solution_arn)) == 2
        assert len(refresh.alerts()) == 1


def test_a_run_stopped_by_an_operator_is_recorded_and_alerted(refresh: LocalRefresh) -> None:
    stop_when_training_starts(refresh, error="OperatorStop", cause="wrong data exported")

    stopped = run_glue_event(refresh)

    assert (stopped["status"], stopped["error"]) == ("ABORTED", "OperatorStop")
    record = refresh.run_record(CAMPAIGN, BASE_DATE)
    assert (record["run_status"], record["failure_phase"]) == ("ABORTED", "TRAINING")
    assert (record["failure_error"], record["failure_reason"]) == ("OperatorStop", "wrong data exported")
    ((subject, message),) = refresh.alerts()
    assert subject == "Personalize refresh was stopped"
    assert '{"base_date": "20261129"}' in message
    assert refresh.serving_version(CAMPAIGN) == refresh.campaign_versions[CAMPAIGN]


def test_an_execution_ended_by_the_history_quota_is_recorded_and_alerted(
    example_json: dict[str, Any], example_config: RefreshConfig
) -> None:
    with LocalRefresh(example_json, example_config, history_event_quota=200) as refresh:
        failed = run_glue_event(refresh)

        # The import's own execution reaches the quota; the refresh, which awaits it, records and alerts.
        assert (failed["status"], failed["error"]) == ("FAILED", "ImportExecutionFailed")
        record = refresh.run_record(CAMPAIGN, BASE_DATE)
        assert (record["run_status"], record["failure_error"]) == ("FAILED", "ImportExecutionFailed")
        assert "States.Runtime" in record["failure_reason"]
        assert "maximum number of history events" in record["failure_reason"]
        ((subject, _),) = refresh.alerts()
        assert subject == "Personalize refresh failed"


# Phase timeouts ----------------------------------------------------------------------------------

LIMITS = {"import_hours": 1, "training_hours": 2, "deployment_hours": 0.5}


@pytest.fixture(scope="module")
def short_limits() -> tuple[dict[str, Any], RefreshConfig]:
    config = parse_config({**example_raw(), "phase_timeouts": LIMITS})
    return synthesize(config).to_json(), config


@pytest.mark.parametrize(
    ("durations", "phase", "error"),
    [
        ({"import": timedelta(hours=3)}, "IMPORT", "ImportTimedOut"),
        ({"import": timedelta(minutes=20), "training": timedelta(hours=5)}, "TRAINING", "TrainingTimedOut"),
        (
            {"import": timedelta(minutes=20), "training": timedelta(hours=1), "deployment": timedelta(hours=2)},
            "DEPLOYMENT",
            "DeploymentTimedOut",
        ),
    ],
)
def test_a_phase_over_its_limit_is_recorded_timed_out_and_alerted(
    short_limits: tuple[dict[str, Any], RefreshConfig], durations: dict[str, timedelta], phase: str, error: str
) -> None:
    template, config = short_limits
    with LocalRefresh(template, config) as refresh:
        for name, duration in durations.items():
            refresh.emulator.set_duration(name, duration)

        execution = run_glue_event(refresh)

        assert (execution["status"], execution["error"]) == ("FAILED", error)
        record = refresh.run_record(CAMPAIGN, BASE_DATE)
        assert (record["run_status"], record["failure_phase"], record["failure_error"]) == ("TIMED_OUT", phase, error)
        assert "limit" in record["failure_reason"]
        ((subject, message),) = refresh.alerts()
        assert subject == "Personalize refresh failed"
        assert error in message
        assert refresh.serving_version(CAMPAIGN) == refresh.campaign_versions[CAMPAIGN]
        # Only a training can be stopped, and it is stopped once; no phase after the late one started.
        assert refresh.emulator.count("StopSolutionVersionCreation") == (1 if phase == "TRAINING" else 0)
        assert refresh.emulator.count("CreateSolutionVersion") == (0 if phase == "IMPORT" else 1)
        assert refresh.emulator.count("UpdateCampaign") == (1 if phase == "DEPLOYMENT" else 0)


def test_a_stopped_training_is_followed_to_create_stopped(short_limits: tuple[dict[str, Any], RefreshConfig]) -> None:
    template, config = short_limits
    with LocalRefresh(template, config) as refresh:
        refresh.emulator.set_duration("import", timedelta(minutes=20))
        refresh.emulator.set_duration("training", timedelta(hours=5))

        run_glue_event(refresh)

        record = refresh.run_record(CAMPAIGN, BASE_DATE)
        assert record["solution_version_status"] == "CREATE STOPPED"
        (version,) = [
            v for v in solution_versions(refresh, config.campaigns[0].solution_arn) if v["status"] != "ACTIVE"
        ]
        assert version["status"] == "CREATE STOPPED"


# Throttling --------------------------------------------------------------------------------------


def test_limit_exceeded_and_resource_in_use_are_retried_then_succeed(refresh: LocalRefresh) -> None:
    # Creates are asked without the SDK's retries: an import Personalize has no room for waits in its own
    # execution; a training refused for room is retried by the state machine, in minutes, as often as it takes.
    # An update refused while the campaign is busy is retried by the state machine too.
    refresh.emulator.faults.raise_error("CreateDatasetImportJob", "LimitExceededException", times=1)
    refresh.emulator.faults.raise_error("CreateSolutionVersion", "LimitExceededException", times=6)
    refresh.emulator.faults.raise_error("UpdateCampaign", "ResourceInUseException", times=1)

    execution = run_glue_event(refresh)

    assert execution["status"] == "SUCCEEDED"
    assert refresh.emulator.count("CreateDatasetImportJob") == 2
    assert refresh.emulator.count("CreateSolutionVersion") == 7
    assert refresh.emulator.count("UpdateCampaign") == 2
    assert len(import_jobs(refresh)) == 1
    # The seeded version the campaign serves, and one new version: never two for one day.
    assert len(solution_versions(refresh, refresh.config.campaigns[0].solution_arn)) == 2
    retried = [e for e in refresh.history(execution["executionArn"]) if e["type"] == "TaskFailed"]
    assert sorted(e["taskFailedEventDetails"]["error"] for e in retried) == [
        *["LimitExceededException"] * 6,
        "ResourceInUseException",
    ]


def test_a_throttled_poll_is_retried(refresh: LocalRefresh) -> None:
    refresh.emulator.faults.raise_error("DescribeSolutionVersion", "LimitExceededException", times=2)
    execution = run_glue_event(refresh)
    assert execution["status"] == "SUCCEEDED"
    errors = {
        e["taskFailedEventDetails"]["error"]
        for e in refresh.history(execution["executionArn"])
        if e["type"] == "TaskFailed"
    }
    assert errors == {"Personalize.LimitExceededException"}


# Runs that overlap ---------------------------------------------------------------------------------


def test_a_day_that_arrives_while_the_day_before_trains_waits_for_it(refresh: LocalRefresh) -> None:
    """Personalize refuses a second training of one solution (ResourceInUse): the later run waits for room,
    backing off in its campaign's execution, and trains once the earlier training is done; neither run fails."""
    refresh.emulator.set_duration("training", timedelta(hours=6))
    real_call = refresh.emulator.call
    later: list[str] = []

    def call(operation: str, params: Any) -> Any:
        result = real_call(operation, params)
        if operation == "CreateSolutionVersion" and not later:
            # The next day's run is started while this training has just begun.
            later.append(refresh.start_manual({"base_date": str(BASE_DATE + 1)}))
        return result

    refresh.emulator.call = call  # type: ignore[method-assign]

    assert run_glue_event(refresh)["status"] == "SUCCEEDED"
    assert refresh.wait(later[0])["status"] == "SUCCEEDED"

    assert refresh.run_record(CAMPAIGN, BASE_DATE)["run_status"] == "SUCCEEDED"
    assert refresh.run_record(CAMPAIGN, BASE_DATE + 1)["run_status"] == "SUCCEEDED"
    refused = [c for c in refresh.personalize_calls if c.operation == "CreateSolutionVersion" and c.error_code]
    assert refused and {c.error_code for c in refused} == {"ResourceInUseException"}
    versions = solution_versions(refresh, refresh.config.campaigns[0].solution_arn)
    assert len(versions) == 3, "the seeded version and one per day: never a second training at once"
    assert refresh.alerts() == []
