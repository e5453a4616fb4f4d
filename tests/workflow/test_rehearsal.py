"""The rehearsal command end to end: synth, deploy locally, Glue event, report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rehearsal.__main__ import main
from rehearsal.report import render
from rehearsal.scenario import Scenario, rehearse
from tests.conftest import example_raw


def test_a_weekly_refresh_rehearses_with_simulated_durations(example_template: Any) -> None:
    lines: list[str] = []
    outcome = rehearse(
        example_raw(),
        Scenario(training_duration=timedelta(hours=6)),
        progress=lines.append,
        template=example_template.to_json(),
    )

    report = render(outcome)

    assert outcome.executions[-1].description["status"] == "SUCCEEDED"
    assert any("Record training status -> ACTIVE" in line for line in lines), "progress is shown as it goes"
    assert outcome.simulated >= timedelta(hours=7, minutes=30)
    assert "== Final status: SUCCEEDED" in report
    assert '"run_status": "SUCCEEDED"' in report
    assert "(virtual clock)" in report
    assert "shop-home-recommendations: serving" in report and "(new version)" in report


def test_a_failed_phase_and_the_operators_rerun(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--rerun", "--reason", "Not enough interactions"]) == 0
    output = capsys.readouterr().out
    assert "Execution (Glue success event)" in output and "error TrainingFailed" in output
    assert "Not enough interactions" in output, "the alert and the record carry Personalize's reason"
    assert "Execution (manual re-run)" in output
    assert output.rstrip().splitlines()[-2] == "== Final status: SUCCEEDED"
