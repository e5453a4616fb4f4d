"""The rehearsal command end to end, on configurations other than the example: synth, local deployment,
Glue event, report, exit code. One rehearsal per scenario, several things asserted on each."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.config import parse_config
from local_engine.lambda_router import LambdaRouter
from rehearsal.__main__ import main
from rehearsal.report import render
from rehearsal.scenario import Scenario, rehearse
from rehearsal.verdict import judge
from rehearsal.week import Week, check, rehearse_week, week_config
from rehearsal.week_report import render_week
from tests.conftest import ROOT, configuration_in, example_raw

TIMELINE_ROW = re.compile(r"^  \+\d+:\d\d:\d\d +(?:\d+:\d\d:\d\d +)?")


def written(tmp_path: Path, raw: dict[str, Any]) -> str:
    path = tmp_path / "my-shop.json"
    path.write_text(json.dumps(raw))
    return str(path)


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def timeline_rows(report: str) -> list[str]:
    return [line for line in report.splitlines() if TIMELINE_ROW.match(line)]


def test_another_account_two_datasets_two_campaigns_throttled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = configuration_in("111122223333", "us-east-1", time_zone="America/New_York", job_name_prefix="nightly")

    # short phases: fewer polls, a faster test; the retries and the report are the same
    short = ["--import-minutes", "10", "--training-hours", "1", "--deployment-minutes", "5"]

    code, out, err = run_main(["--config", written(tmp_path, raw), "--two", "--throttle", "--records", *short], capsys)

    assert (code, err) == (0, "")
    report = out[out.index("Rehearsal of a refresh") :]
    lines = report.splitlines()
    assert lines[0] == "Rehearsal of a refresh in account 111122223333, us-east-1: 2 datasets, 2 campaigns"
    outcome = lines.index("Outcome")
    assert outcome < 5, "the report leads with the outcome"
    assert re.match(r"  shop-home-recommendations +refreshed +\w{8}, new \(was \w{8}\)$", lines[outcome + 2])
    assert re.match(r"  shop-similar-items +refreshed +\w{8}, new \(was \w{8}\)$", lines[outcome + 3])
    assert lines[outcome + 5].startswith("As the scenario expects: every campaign serves a newly trained version")
    summary = lines[: lines.index("Run records, as stored in DynamoDB")]
    assert summary[outcome + 7].startswith("Execution 1 of 1, Glue success event: SUCCEEDED after ")
    assert len(summary) < 60

    # base_date comes from the event time in the configured zone: not the example's date
    assert (
        "base date 20261128: the Glue event's time 2026-11-28 16:00:00 UTC is 2026-11-28 11:00 in America/New_York"
        in report
    )
    # every retry is shown, with its reason, whether the Lambda's SDK or the state machine retried it
    retried = r"(?:answered|failed with) {}: {}[^;]*; (?:asked again at once|retried after \d:\d\d:\d\d)$"
    assert re.search(
        r"  dataset interactions +CreateDatasetImportJob "
        + retried.format("LimitExceededException", "More than 5 dataset import jobs are pending or in progress"),
        report,
        re.MULTILINE,
    )
    assert re.search(
        r"  shop-\S+ +CreateSolutionVersion " + retried.format("LimitExceededException", "Rate exceeded"),
        report,
        re.MULTILINE,
    )
    assert re.search(
        r"  shop-\S+ +UpdateCampaign " + retried.format("ResourceInUseException", "Campaign is being updated"),
        report,
        re.MULTILINE,
    )
    # phases and status changes per named dataset and campaign, with aligned columns
    rows = timeline_rows(report)
    assert len({TIMELINE_ROW.match(row).end() for row in rows}) == 1  # type: ignore[union-attr]
    # Personalize had no room for the first import, so Start import asked for neither: each import's own execution
    # created its job once there was room.
    assert any(re.search(r"dataset items +import WAITING_FOR_ROOM: nightly-shop-recs-items-20261128$", r) for r in rows)
    assert any(re.search(r"dataset items +import CREATE PENDING$", r) for r in rows)
    assert any(re.search(r"\d:\d\d:\d\d  shop-similar-items +training ACTIVE$", row) for row in rows)
    assert "their times overlap" in report
    assert not any(name in report for name in ("Wait before polling", "Describe campaign")), "no plumbing states"
    # the local deployment, the records and the report all in the configured account and region
    assert '"execution_arn": "arn:aws:states:us-east-1:111122223333:execution:' in report
    assert "123456789012" not in report and "ap-northeast-2" not in report


def test_a_failed_training_fails_the_campaigns_of_its_solution_the_same_way_every_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rehearsal.shapes import shop_shape

    # Three campaigns, the first two on one solution: the failure is injected into the first campaign's solution,
    # whichever training reaches Personalize first, and fails exactly the campaigns trained from it.
    raw = shop_shape(configuration_in("998877665544", "us-west-2"), groups=1, datasets=2, campaigns=3)
    short = ["--import-minutes", "10", "--training-hours", "1", "--deployment-minutes", "5"]
    argv = ["--config", written(tmp_path, raw), "--fail", "training", *short]

    runs = [run_main(argv, capsys) for _ in range(2)]

    for code, out, err in runs:
        assert (code, err) == (0, "")
        assert re.search(r"^  shop-1-campaign-1 +FAILED in TRAINING ", out, re.MULTILINE)
        assert re.search(r"^  shop-1-campaign-2 +FAILED in TRAINING ", out, re.MULTILINE)
        assert re.search(r"^  shop-1-campaign-3 +refreshed +\w{8}, new", out, re.MULTILINE)
        assert "As the scenario expects: the training fails as injected for shop-1-campaign-1, shop-1-campaign-2" in out
    outcomes = [out[out.index("Outcome") : out.index("Execution 1 of 1")] for _, out, _ in runs]
    assert outcomes[0] == outcomes[1]  # the same versions, the same verdict


def test_a_training_past_its_limit_is_an_expected_timed_out_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = {**example_raw(), "phase_timeouts": {"training_hours": 2}}
    argv = ["--config", written(tmp_path, raw), "--import-minutes", "10", "--training-hours", "3"]

    code, out, err = run_main(argv, capsys)

    assert (code, err) == (0, "")
    assert re.search(r"^  shop-home-recommendations +TIMED OUT in TRAINING ", out, re.MULTILINE)
    assert "As the scenario expects: the training runs past its limit in phase_timeouts, is stopped" in out


def test_a_timed_out_execution_in_another_account_run_as_documented(tmp_path: Path) -> None:
    raw = configuration_in("444455556666", "eu-west-1", time_zone="Europe/Berlin", execution_timeout_hours=2)

    # `python -m rehearsal` outside make: no virtual environment on PATH, no variable set beforehand
    result = subprocess.run(
        [sys.executable, "-m", "rehearsal", "--config", written(tmp_path, raw), "--training-hours", "3"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.stderr == "", "the project's Node: no end-of-life banner, nothing else on stderr"
    assert result.returncode == 1
    report = result.stdout
    assert "Rehearsal of a refresh in account 444455556666, eu-west-1" in report
    assert re.search(r"  shop-home-recommendations +TIMED OUT in TRAINING +\w{8}, unchanged", report)
    assert "ExecutionTimedOut: The execution ran past the state machine's timeout" in report
    assert (
        "  - execution 1 (Glue success event) TIMED OUT after 2:00:00, the state machine's timeout "
        "(execution_timeout_hours 2)" in report
    )
    assert "Execution 1 of 1, Glue success event: TIMED OUT after 2:00:00" in report
    assert "is 2026-11-28 17:00 in Europe/Berlin" in report
    assert "Personalize refresh timed out" in report


def test_duplicate_delivery_then_rerun_is_deterministic(example_template: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the first delivery's claim is slow to start: the duplicate must still be the one skipped
    invocations = itertools.count()
    invoke = LambdaRouter._invoke

    def first_invocation_late(router: LambdaRouter, *args: Any, **kwargs: Any) -> bytes:
        if next(invocations) == 0:
            time.sleep(0.5)  # wall time: the simulated clock does not move meanwhile
        return invoke(router, *args, **kwargs)

    monkeypatch.setattr(LambdaRouter, "_invoke", first_invocation_late)
    short = {"import_duration": timedelta(minutes=10), "training_duration": timedelta(hours=1)}
    scenario = Scenario(
        fail_phase="import", duplicate=True, rerun=True, deployment_duration=timedelta(minutes=5), **short
    )

    outcome = rehearse(
        parse_config(example_raw()), scenario, progress=lambda _: None, template=example_template.to_json()
    )
    verdict = judge(outcome)
    report = render(outcome, verdict)

    _, duplicate, rerun = outcome.executions
    assert [e.label for e in outcome.executions] == ["Glue success event", "duplicate delivery", "operator's re-run"]
    assert [e.description["status"] for e in outcome.executions] == ["FAILED", "SUCCEEDED", "SUCCEEDED"]
    assert json.loads(duplicate.description["output"])["run"]["duplicate"] is True
    assert json.loads(rerun.description["input"]) == {"base_date": "20261129"}
    assert verdict.problems == [] and verdict.exit_code == 0
    # the default reason of a failed import is an import failure
    ((_, message),) = outcome.alerts
    assert "failed in phase IMPORT" in message and "Insufficient privileges for accessing data in S3" in message
    assert "claimed nothing, a duplicate: shop-home-recommendations is already RUNNING" in report
    assert "claimed base date 20261129, attempt 2 (attempt 1 ended FAILED)" in report
    assert re.search(r"\+\d:\d\d:\d\d  \d:\d\d:\d\d  dataset interactions +import CREATE FAILED$", report, re.MULTILINE)
    assert "import CREATE PENDING: refresh-shop-recs-interactions-20261129-02" in report


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--config", "{missing}"], "rehearsal: {missing}: file not found"),
        (["--config", "{not_json}"], "rehearsal: {not_json}: not valid JSON: Expecting ',' delimiter"),
        (["--config", "{bad_zone}"], "rehearsal: {bad_zone}: time_zone: expected an IANA time zone"),
        (["--config", "{bad_role}"], "rehearsal: {bad_role}: personalize_role_arn: the role must be in the account"),
        (["--training-hours", "-6"], "rehearsal: argument --training-hours: expected a number of hours above 0"),
        (["--import-minutes", "soon"], "rehearsal: argument --import-minutes: expected a number of minutes above 0"),
        (["--reason", "Not enough interactions"], "rehearsal: --reason is the reason a phase fails: it needs --fail"),
    ],
)
def test_bad_input_is_one_line_naming_the_file_and_field(
    argv: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {
        "missing": tmp_path / "missing.json",
        "not_json": tmp_path / "not-json.json",
        "bad_zone": tmp_path / "bad-zone.json",
        "bad_role": tmp_path / "bad-role.json",
    }
    files["not_json"].write_text('{"time_zone": "UTC" "glue_job_names": []}')
    files["bad_zone"].write_text(json.dumps({**example_raw(), "time_zone": "Mars/Olympus"}))
    bad_role = {**example_raw(), "personalize_role_arn": "arn:aws:iam::210987654321:role/PersonalizeS3ReadAccess"}
    files["bad_role"].write_text(json.dumps(bad_role))
    names = {key: str(path) for key, path in files.items()}

    code, out, err = run_main([arg.format(**names) for arg in argv], capsys)

    assert code == 2
    assert out == ""
    assert err.startswith(expected.format(**names))
    assert err.count("\n") == 1 and "Traceback" not in err


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(["--help"], capsys)

    assert code == 0
    assert "exit codes:\n  0  the rehearsal behaved as the scenario expects" in out
    assert "\n  1  it did not" in out and "timed out (always 1)" in out
    assert "\n  2  bad arguments or configuration" in out
    assert "--states" in out and "--records" in out and "--week" in out


# A week ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def week() -> Week:
    config = week_config(parse_config(example_raw()), source="config/example.json")
    return rehearse_week(config, progress=lambda _: None)


def test_a_week_updates_daily_skips_the_unchanged_day_and_holds_back_the_worse_weekly_full(week: Week) -> None:
    records = week.run_records
    assert [r["base_date"] for r in records] == [20261130, 20261201, 20261202, 20261203, 20261204, 20261205, 20261206]
    assert [r["run_status"] for r in records] == ["SUCCEEDED"] * 3 + ["SKIPPED"] + ["SUCCEEDED"] * 2 + ["GATED"]
    assert [r.get("training_mode") for r in records] == ["UPDATE"] * 3 + [None] + ["UPDATE"] * 2 + ["FULL"]
    # day 4: the same bytes as day 3, nothing imported or trained
    assert records[3]["skip_reason"].startswith("interactions: data unchanged since the last import")
    assert (
        records[3]["dataset_import_jobs"]["interactions"]["fingerprint"]
        == (records[2]["dataset_import_jobs"]["interactions"]["fingerprint"])
    )
    # day 7: the weekly FULL is due, trained, and held back: 10 % under the FULL version the served UPDATE
    # versions were built on (they report no metrics); the campaign keeps day 6's version
    assert records[6]["training_mode_reason"].startswith("the last FULL version is 7.3 days old")
    assert records[6]["quality_gate"] == {
        "decision": "hold",
        "reason": "normalized_discounted_cumulative_gain_at_25 0.3 -> 0.27 (-10.0 %, at most -2 %)",
    }
    assert week.serving == {"shop-home-recommendations": records[5]["deployed_solution_version_arn"]}
    assert "deployed_solution_version_arn" not in records[6]
    assert (week.training_hours, week.full_every_day_hours) == (11, 42)
    assert week.problems == [] and week.exit_code == 0


def test_the_week_stage_events_tell_the_same_story(week: Week) -> None:
    def told(base_date: str) -> list[tuple[str, str, str]]:
        return [(e["phase"], e["status"], e["decision"]) for e in week.stage_events if e["base_date"] == base_date]

    assert told("20261203") == [
        ("IMPORT", "RUNNING", "refresh"),
        ("DONE", "SKIPPED", "skip"),
        ("DONE", "SUCCEEDED", "end"),
    ]
    assert ("TRAINING", "CREATE PENDING", "UPDATE") in told("20261130")
    assert ("DONE", "SUCCEEDED", "serve") in told("20261130")
    gated = told("20261206")
    assert ("TRAINING", "CREATE PENDING", "FULL") in gated
    assert gated[-3:] == [("DEPLOYMENT", "GATED", "hold"), ("DONE", "GATED", "hold"), ("DONE", "SUCCEEDED", "end")]
    ends = [e["status"] for e in week.stage_events if e["phase"] == "DONE" and e.get("campaign_name")]
    assert ends == ["SUCCEEDED"] * 3 + ["SKIPPED"] + ["SUCCEEDED"] * 2 + ["GATED"]


def test_the_week_report_has_a_line_per_day_and_the_hours_against_full_every_day(week: Week) -> None:
    report = render_week(week)

    assert report.startswith("Rehearsal of a week in account 123456789012, ap-northeast-2: 1 dataset, 1 campaign")
    assert "UPDATE daily, FULL every 7 days, on the aws-user-personalization recipe" in report
    days = [line for line in report.splitlines() if re.match(r"^ +\d  \w\w\w 2026-", line)]
    assert [line.split()[:6] for line in days] == [
        ["1", "Mon", "2026-11-30", "refreshed", "UPDATE", "1"],
        ["2", "Tue", "2026-12-01", "refreshed", "UPDATE", "1"],
        ["3", "Wed", "2026-12-02", "refreshed", "UPDATE", "1"],
        ["4", "Thu", "2026-12-03", "skipped", "none", "-"],
        ["5", "Fri", "2026-12-04", "refreshed", "UPDATE", "1"],
        ["6", "Sat", "2026-12-05", "refreshed", "UPDATE", "1"],
        ["7", "Sun", "2026-12-06", "gated", "FULL", "6"],
    ]
    assert days[0].endswith("no metrics (UPDATE)  0.3000   yes")
    assert days[3].endswith("no: data unchanged since day 3")
    assert days[6].endswith("0.2700               0.3000   no: held back, 0.3 -> 0.27 (-10.0 %, at most -2 %)")
    assert "Training: 11 h in the week (FULL 1 × 6 h, UPDATE 5 × 1 h; 1 day skipped)" in report
    assert "against 42 h with FULL every day (7 × 6 h): 26 % of it." in report
    assert (
        "FULL 6 h, UPDATE 1 h (import 1 h, deployment 30 min): the emulator's assumptions, not measurements" in report
    )
    assert "Campaigns ended GATED 1, SKIPPED 1, SUCCEEDED 5;" in report
    assert "As the week expects: the run records, the stage events and Personalize agree" in report


def test_the_week_check_catches_stage_events_that_disagree_with_the_records(week: Week) -> None:
    # Given the gated day's end announced as a success
    events = [
        {**e, "status": "SUCCEEDED"} if e["base_date"] == "20261206" and e["phase"] == "DONE" else e
        for e in week.stage_events
    ]

    problems = check(replace(week, stage_events=events, problems=[]))

    assert problems == [
        "day 7, shop-home-recommendations: the stage events end it ['SUCCEEDED'], the run record says GATED"
    ]


@pytest.mark.parametrize(
    ("argv", "named"),
    [(["--week", "--fail", "training"], "--fail"), (["--week", "--two", "--states"], "--two, --states")],
)
def test_week_with_options_of_a_single_refresh_is_one_line_naming_them(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(argv, capsys)

    assert (code, out) == (2, "")
    assert err == f"rehearsal: --week rehearses its own week, on its own durations: leave out {named} (see --help)\n"


def test_a_week_counts_a_version_campaigns_share_once() -> None:
    from infra.config import parse_config
    from rehearsal.shapes import shop_shape
    from rehearsal.week import Day

    # Three campaigns, the first two on one solution: a day trains two versions, not three.
    config = parse_config(shop_shape(example_raw(), groups=1, datasets=1, campaigns=3))

    def day(campaign: int, version: str, hours: float) -> Day:
        name = f"shop-1-campaign-{campaign}"
        return Day(1, "20261130", name, "refreshed", "FULL", hours, version, {}, {}, True, "", {})

    week = Week(config, days=[day(1, "solution-1/v1", 6), day(2, "solution-1/v1", 6), day(3, "solution-2/v1", 6)])

    assert week.solutions == 2
    assert [d.version for d in week.trainings] == ["solution-1/v1", "solution-2/v1"]
    assert (week.training_hours, week.full_every_day_hours) == (12, 7 * 6 * 2)
    assert "Training: 12 h in the week (FULL 2 × 6 h, UPDATE 0 × 1 h" in render_week(week)
    assert "(7 × 6 h × 2 solutions)" in render_week(week)
