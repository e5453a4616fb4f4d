"""The rehearsal command end to end: synth, deploy locally, Glue event, report."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from infra.config import parse_config
from local_engine.synth import synthesize
from rehearsal.__main__ import main
from rehearsal.report import render
from rehearsal.scenario import Scenario, rehearse
from tests.conftest import example_raw


def configuration_in(account: str, region: str, **changes: Any) -> dict[str, Any]:
    """The example configuration moved to another account and region, with `changes` on top."""
    text = json.dumps(example_raw()).replace("123456789012", account).replace("ap-northeast-2", region)
    return {**json.loads(text), **changes}


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


def test_a_configuration_in_another_account_and_region_rehearses() -> None:
    raw = configuration_in("111122223333", "us-east-1", time_zone="America/New_York")
    config = parse_config(raw)

    outcome = rehearse(
        raw, Scenario(fail_phase="import"), progress=lambda _: None, template=synthesize(config).to_json()
    )

    (execution,) = outcome.executions
    assert execution.arn.startswith("arn:aws:states:us-east-1:111122223333:execution:")
    assert execution.description["status"] == "FAILED"
    assert [r["execution_arn"] for r in outcome.run_records] == [execution.arn]
    assert len(outcome.alerts) == 1 and "failed in phase IMPORT" in outcome.alerts[0][1]
