"""The operator CLI against the local engine: every command on the state a rehearsal saved, as a new user runs
it after `make demo`, and every kind of bad argument.

The rehearsal is not the example: two datasets and two campaigns in another account, region and time zone,
whose trainings fail, so that there is something to show, retry and reconcile.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from infra.config import parse_config
from local_engine import assets
from local_engine.refresh import LocalRefresh
from local_engine.saved import SAVED_ENGINE_VARIABLE, load, resume, save, write
from local_engine.synth import synthesize
from operations.cli import main
from rehearsal.scenario import with_second_dataset_and_campaign
from tests.conftest import ROOT, configuration_in

ACCOUNT, REGION = "111122223333", "us-east-1"
FIRST, SECOND = "shop-home-recommendations", "shop-similar-items"
DAY = "20261128"  # the rehearsal's Glue event, 16:00 UTC on 28 November, is 11:00 that day in New York
TRAINING_FAILURE = "Input data has fewer than 1000 interactions after filtering"


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Glue event's refresh whose two trainings fail, saved as `make demo` saves its rehearsal."""
    raw = with_second_dataset_and_campaign(configuration_in(ACCOUNT, REGION, time_zone="America/New_York"))
    config = parse_config(raw)
    path = tmp_path_factory.mktemp("rehearsal") / "last.pickle.gz"
    with LocalRefresh(synthesize(config).to_json(), config) as refresh:
        for campaign in config.campaigns:
            refresh.emulator.faults.fail_job("training", TRAINING_FAILURE, name=campaign.solution_arn)
        for execution_arn in refresh.put_glue_event():
            refresh.wait(execution_arn)
        save(refresh, source="my-shop.json", path=path)
    return path


@pytest.fixture
def state(rehearsed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the saved rehearsal that this test may change; every command of the test acts on it."""
    path = tmp_path / "state.pickle.gz"
    shutil.copy(rehearsed, path)
    monkeypatch.setenv(SAVED_ENGINE_VARIABLE, str(path))
    return path


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv])
    out, err = capsys.readouterr()
    return code, out, err


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = cli(capsys, *argv, "--json")
    assert (code, err) == (0, ""), err
    return json.loads(out)


def record_of(state: Path, campaign: str, day: str = DAY) -> dict[str, Any]:
    from operations.local import SavedRuns

    found = SavedRuns(load(state)).record(campaign, int(day))
    assert found is not None
    return found


# Reading ------------------------------------------------------------------------------------------------


def test_runs_lists_the_rehearsal_newest_first_as_a_table_and_as_json(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "runs", "--local")
    assert code == 0
    assert FIRST in out and SECOND in out and "FAILED" in out and "TRAINING" in out

    rows = cli_json(capsys, "runs", "--local")
    assert [(r["campaign"], r["base_date"], r["status"], r["phase"]) for r in rows] == [
        (SECOND, DAY, "FAILED", "TRAINING"),
        (FIRST, DAY, "FAILED", "TRAINING"),
    ]
    assert rows[0]["decisions"] == "import interactions, items; FULL"
    assert rows[0]["durations"]["import"] > 3600  # the rehearsal's import takes an hour
    assert rows[0]["durations"]["training"] > 0


def test_runs_filters_by_campaign_status_and_dates(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert [r["campaign"] for r in cli_json(capsys, "runs", "--local", "--campaign", FIRST)] == [FIRST]
    assert cli_json(capsys, "runs", "--local", "--status", "SUCCEEDED") == []
    assert len(cli_json(capsys, "runs", "--local", "--status", "FAILED", "--status", "SUCCEEDED")) == 2
    assert cli_json(capsys, "runs", "--local", "--since", "20261129") == []
    assert len(cli_json(capsys, "runs", "--local", "--since", DAY, "--until", DAY, "--limit", "1")) == 1
    assert cli(capsys, "runs", "--local", "--status", "SUCCEEDED")[1].strip() == "No runs match."
    code, out, err = cli(capsys, "runs", "--local", "--since", "20261201", "--until", "20261130")
    assert (code, out) == (2, "")
    assert "Invalid value for --since: 20261201 is after --until 20261130: no base date is in between" in err


def test_show_gives_the_failure_readably_the_phases_and_the_console_url(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "show", "--local", FIRST, DAY)
    assert code == 0
    assert "Failed in TRAINING: TrainingFailed\n  Solution version arn:aws:personalize:us-east-1:111122223333:" in out
    assert f"failed: {TRAINING_FAILURE}" in out
    assert "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/" in out
    # The suggestion acts where this command did: on the rehearsal's saved state.
    assert f"Re-run it: personalize-refresh retry {FIRST} {DAY} --local\n" in out

    shown = cli_json(capsys, "show", "--local", FIRST, DAY)
    assert (shown["failure"]["phase"], shown["failure"]["error"]) == ("TRAINING", "TrainingFailed")
    assert shown["failure"]["reason"].endswith(f"failed: {TRAINING_FAILURE}")
    assert [(p["name"], p["status"]) for p in shown["phases"]] == [("IMPORT", "ACTIVE"), ("TRAINING", "CREATE FAILED")]
    imported, trained = shown["phases"]
    assert imported["polls"] > 0 and 0 <= imported["idle_seconds"] < 900  # no wait is longer than 5 min at first
    assert trained["polls"] > 0 and trained["idle_seconds"] is None  # failed: no poll of this run saw it ACTIVE
    assert shown["execution"]["status"] == "FAILED"
    assert shown["execution"]["console_url"].endswith(shown["record"]["execution_arn"])
    # The campaign's own execution, where its training failed, linked beside the run's.
    campaign_execution = shown["record"]["campaign_execution_arn"]
    assert ":execution:" in campaign_execution and campaign_execution != shown["record"]["execution_arn"]
    assert shown["campaign_execution"]["console_url"].endswith(campaign_execution)
    assert f"Campaign execution: {campaign_execution}" in out
    assert shown["record"]["campaign_name"] == FIRST


# Acting -------------------------------------------------------------------------------------------------


def test_retry_re_runs_a_failed_day_taking_up_its_import(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    imports_before = record_of(state, FIRST)["dataset_import_jobs"]

    code, out, err = cli(capsys, "retry", "--local", FIRST, DAY)

    assert (code, err) == (0, "")
    assert f"{FIRST} {DAY}: SUCCEEDED" in out
    record = record_of(state, FIRST)
    assert (record["run_status"], record["attempt"]) == ("SUCCEEDED", 2)
    assert record["previous_attempts"][0]["run_status"] == "FAILED"
    assert {k: v["arn"] for k, v in record["dataset_import_jobs"].items()} == {
        k: v["arn"] for k, v in imports_before.items()
    }
    assert record_of(state, SECOND)["run_status"] == "FAILED"  # only the campaign named was re-run

    code, _, err = cli(capsys, "retry", "--local", FIRST, DAY)
    assert code == 1
    assert err.strip() == (
        f"personalize-refresh: {FIRST} on {DAY} already SUCCEEDED: "
        f"`personalize-refresh start --base-date {DAY} --campaign {FIRST} --force --local` refreshes it again"
    )


def test_a_retry_that_fails_again_is_saved_all_the_same(
    state: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import operations.local

    @contextmanager
    def failing_again(saved: Any) -> Iterator[Any]:  # the training fails again on the retry
        with resume(saved) as refresh:
            solution = next(c.solution_arn for c in refresh.config.campaigns if c.name == FIRST)
            refresh.emulator.faults.fail_job("training", TRAINING_FAILURE, name=solution)
            yield refresh

    monkeypatch.setattr(operations.local, "resume", failing_again)

    code, _, err = cli(capsys, "retry", "--local", FIRST, DAY)

    assert code == 1 and "the execution FAILED: TrainingFailed" in err
    record = record_of(state, FIRST)
    assert (record["run_status"], record["attempt"]) == ("FAILED", 2)  # what happened on the engine is kept
    assert [r["attempt"] for r in cli_json(capsys, "runs", "--local", "--campaign", FIRST)] == [2]


def test_start_refuses_a_completed_day_unless_forced_then_refreshes_it_afresh(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "retry", "--local", SECOND, DAY)[0] == 0
    version = record_of(state, SECOND)["solution_version_arn"]

    code, _, err = cli(capsys, "start", "--local", "--base-date", DAY, "--campaign", SECOND)
    assert code == 1
    assert "already SUCCEEDED: add --force to refresh it again" in err

    code, out, _ = cli(capsys, "start", "--local", "--base-date", DAY, "--campaign", SECOND, "--force")

    assert code == 0, out
    record = record_of(state, SECOND)
    assert (record["run_status"], record["attempt"], record["forced"]) == ("SUCCEEDED", 3, True)
    assert record["solution_version_arn"] != version


def test_start_of_a_day_done_for_one_campaign_starts_the_other_and_says_so(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "retry", "--local", SECOND, DAY)[0] == 0
    version = record_of(state, SECOND)["solution_version_arn"]

    code, out, err = cli(capsys, "start", "--local", "--base-date", DAY)

    assert (code, err) == (0, ""), err
    assert f"Leaving out {SECOND} on {DAY} already SUCCEEDED: add --force to refresh it again" in out
    assert (record_of(state, FIRST)["run_status"], record_of(state, FIRST)["attempt"]) == ("SUCCEEDED", 2)
    assert record_of(state, SECOND)["solution_version_arn"] == version  # left alone
    code, _, err = cli(capsys, "start", "--local", "--base-date", DAY)
    assert code == 1
    assert err.strip() == (
        f"personalize-refresh: {FIRST} on {DAY} already SUCCEEDED: add --force to refresh it again; "
        f"{SECOND} on {DAY} already SUCCEEDED: add --force to refresh it again"
    )


def test_start_back_fills_another_day_for_every_campaign(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "start", "--local", "--base-date", "20261121")

    assert code == 0
    assert f"{FIRST} 20261121: SUCCEEDED" in out and f"{SECOND} 20261121: SUCCEEDED" in out
    assert {r["status"] for r in cli_json(capsys, "runs", "--local", "--since", "20261121", "--until", "20261121")} == {
        "SUCCEEDED"
    }


def test_reconcile_finds_a_record_its_execution_left_running_and_fix_closes_it(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _lose_the_end_event_of(state, FIRST)
    assert cli_json(capsys, "runs", "--local", "--campaign", FIRST)[0]["status"] == "RUNNING"

    (found,) = cli_json(capsys, "reconcile", "--local")
    assert (found["campaign"], found["record_status"], found["execution_status"]) == (FIRST, "RUNNING", "FAILED")
    assert found["fixable"] is True
    code, _, err = cli(capsys, "start", "--local", "--base-date", DAY, "--campaign", FIRST)
    assert code == 1 and "already RUNNING" in err

    (fixed,) = cli_json(capsys, "reconcile", "--local", "--fix")

    assert fixed["action"].startswith("fixed: recorded FAILED")
    assert record_of(state, FIRST)["run_status"] == "FAILED"
    assert cli_json(capsys, "reconcile", "--local") == []
    assert cli(capsys, "retry", "--local", FIRST, DAY)[0] == 0


def test_retry_of_a_day_left_running_closes_it_first(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _lose_the_end_event_of(state, SECOND)

    code, _, _ = cli(capsys, "retry", "--local", SECOND, DAY)

    assert code == 0
    record = record_of(state, SECOND)
    assert (record["run_status"], record["attempt"]) == ("SUCCEEDED", 2)
    assert record["previous_attempts"][0]["run_status"] == "FAILED"


def test_reconcile_reports_a_campaign_serving_another_version_than_its_last_refresh(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "retry", "--local", FIRST, DAY)[0] == 0
    _change_record(state, FIRST, deployed_solution_version_arn="arn:aws:personalize:us-east-1:1:solution/x/gone")

    (found,) = cli_json(capsys, "reconcile", "--local")

    assert found["campaign"] == FIRST and found["fixable"] is False
    assert "not arn:aws:personalize:us-east-1:1:solution/x/gone that its last refresh deployed" in found["problem"]


def test_dlq_lists_an_undelivered_glue_event_and_replay_starts_its_refresh(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _dead_letter_a_glue_event(state, "2026-11-21T15:00:00Z")
    code, out, _ = cli(capsys, "dlq", "--local")
    assert code == 0
    assert "Glue Job State Change" in out and "1 event(s)" in out

    (replayed,) = cli_json(capsys, "dlq", "--local", "--replay")

    assert replayed["replayed"].startswith("started arn:aws:states:us-east-1:111122223333:execution:")
    assert cli_json(capsys, "dlq", "--local") == []
    assert {
        r["campaign"]: r["status"]
        for r in cli_json(capsys, "runs", "--local", "--since", "20261121", "--until", "20261121")
    } == {
        FIRST: "SUCCEEDED",
        SECOND: "SUCCEEDED",
    }


# Bad input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["show", "--local", FIRST, "2026-11-28"], 2, "expected a calendar date YYYYMMDD, got '2026-11-28'"),
        (["runs", "--local", "--status", "DONE"], 2, "'DONE' is not one of"),
        (["runs", "--local", "--limit", "0"], 2, "0 is not in the range"),
        (["start", "--local", "--base-date", "20261301"], 2, "expected a calendar date YYYYMMDD"),
        (["retry", "--local", FIRST], 2, "Missing argument 'BASE_DATE'"),
        (["frobnicate"], 2, "No such command 'frobnicate'"),
        (["show", "--local", "no-such-campaign", DAY], 1, "no campaign no-such-campaign in local rehearsal"),
        (["start", "--local", "--campaign", "nope"], 1, "no campaign nope in local rehearsal"),
        (["start", "--local", "--base-date", "20991231"], 1, "base date 20991231 is in the future"),
        (["show", "--local", FIRST, "20261101"], 1, f"no run of {FIRST} on 20261101"),
        (["retry", "--local", FIRST, "20261101"], 1, f"no run of {FIRST} on 20261101 to retry"),
    ],
)
def test_a_bad_argument_gives_one_line_and_a_non_zero_exit(
    state: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    before = state.read_bytes()

    got, out, err = cli(capsys, *argv)

    assert got == code
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("personalize-refresh: ") and message in err
    assert state.read_bytes() == before  # nothing changed


def test_without_a_saved_rehearsal_it_says_to_run_the_demo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SAVED_ENGINE_VARIABLE, str(tmp_path / "none.pickle.gz"))
    assert cli(capsys, "runs", "--local") == (
        1,
        "",
        f"personalize-refresh: no rehearsal saved at {tmp_path / 'none.pickle.gz'}: run `make demo` first\n",
    )
    (tmp_path / "none.pickle.gz").write_bytes(b"not a saved engine")
    code, _, err = cli(capsys, "runs", "--local")
    assert code == 1 and "cannot be read" in err and "run `make demo` again" in err


def test_a_resumed_rehearsal_publishes_its_code_again_once_the_temporary_folder_lost_it(
    state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its functions read their settings from the code asset the saved template names, published by the synth.
    monkeypatch.setattr(assets, "ASSETS", tmp_path / "emptied")

    with resume(load(state)) as refresh:
        assert len(refresh.deployment.functions) == 4


def test_without_aws_credentials_or_region_it_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    code, out, err = cli(capsys, "runs")
    assert (code, out) == (1, "")
    assert err == "personalize-refresh: no region: pass --region REGION, or set AWS_REGION or a profile's region\n"

    code, _, err = cli(capsys, "runs", "--profile", "no-such-profile")
    assert code == 1 and "no-such-profile" in err and len(err.splitlines()) == 1


def test_commands_against_aws_load_no_embedded_aws() -> None:
    """moto, the Personalize emulator and the CDK take seconds to load: only the --local commands load them."""
    script = "import sys, operations.cli; print('\\n'.join(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()

    assert "operations.cli" in loaded
    assert [name for name in loaded if name.split(".")[0] in ("moto", "local_engine", "aws_cdk", "jsii")] == []


# Helpers that change the saved state as an incident would ------------------------------------------------


def _change_record(state: Path, campaign: str, **values: Any) -> None:
    saved = load(state)
    for item in saved.table_items:
        if item["campaign_name"]["S"] == campaign and item["base_date"]["N"] == DAY:
            item.update({key: {"S": str(value)} for key, value in values.items()})
    write(saved, state)


def _lose_the_end_event_of(state: Path, campaign: str) -> None:
    """The record as it stands when its execution's end was never recorded: RUNNING, without the failure."""
    saved = load(state)
    for item in saved.table_items:
        if item["campaign_name"]["S"] == campaign and item["base_date"]["N"] == DAY:
            item["run_status"] = {"S": "RUNNING"}
            for key in ("failure_phase", "failure_error", "failure_reason", "ended_at"):
                item.pop(key, None)
    write(saved, state)


def _dead_letter_a_glue_event(state: Path, event_time: str) -> None:
    saved = load(state)
    config = saved.refresh_config()
    event = {
        "version": "0",
        "id": "6f2c3b1e-0000-4000-8000-000000000001",
        "detail-type": "Glue Job State Change",
        "source": "aws.glue",
        "time": event_time,
        "region": config.region,
        "detail": {"jobName": config.glue_job_names[0], "state": "SUCCEEDED", "jobRunId": "jr_" + "ab" * 32},
    }
    attributes = {
        "RULE_ARN": f"arn:aws:events:{config.region}:{config.account}:rule/glue-success",
        "TARGET_ARN": saved.outputs["StateMachineArn"],
        "ERROR_CODE": "SDK_CLIENT_ERROR",
        "ERROR_MESSAGE": "Rate exceeded",
    }
    saved.queue_messages["DeadLetterQueueUrl"].append(
        {
            "MessageBody": json.dumps(event),
            "MessageAttributes": {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        }
    )
    write(saved, state)


@pytest.mark.parametrize(("local", "expected"), [(True, "reconcile --fix --local"), (False, "reconcile --fix")])
def test_a_suggested_command_acts_where_this_one_did(local: bool, expected: str) -> None:
    import click

    from operations.cli import suggested

    context = click.Context(click.Command("show"))
    context.params = {"local": local}
    with context:
        assert suggested("reconcile --fix") == f"personalize-refresh {expected}"
