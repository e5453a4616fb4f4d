"""The task Lambdas read their settings from the settings file of their code package (LAMBDA_TASK_ROOT): what
the stack writes there reads back whole, whatever its size, and a missing or malformed file fails with
InvalidSettings naming the file and the field."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from infra.config import parse_config
from refresh_common.environment import SETTINGS_FILE
from refresh_common.errors import InvalidSettings
from refresh_common.settings import CampaignSettings, DatasetSettings, load_settings, settings_document
from refresh_common.settings_file import PACKAGE_ROOT
from tests.conftest import code_package, scaled_raw


@pytest.fixture(scope="module")
def three_by_five() -> dict[str, Any]:
    """The settings of 3 datasets and 5 campaigns with two-rule quality gates: over 4 KB as JSON."""
    return parse_config(scaled_raw(3, 5)).lambda_settings()


def environ_with(tmp_path: Path, document: Any) -> dict[str, str]:
    return code_package(tmp_path, {SETTINGS_FILE: document}, RUN_TABLE_NAME="runs", ALERT_TOPIC_ARN="arn:topic")


def test_the_settings_read_back_whole_from_the_code_package(tmp_path: Path, three_by_five: dict[str, Any]) -> None:
    assert len(json.dumps(three_by_five)) > 4096

    settings = load_settings(environ_with(tmp_path, three_by_five))

    assert (settings.table_name, settings.alert_topic_arn) == ("runs", "arn:topic")
    assert [d.name for d in settings.datasets] == ["interactions", "items", "users"]
    assert len(settings.campaigns) == 5
    gate = settings.campaigns[4].quality_gate
    assert gate is not None
    assert [(r.metric, r.max_drop_percent, r.min_value) for r in gate.rules] == [
        ("normalized_discounted_cumulative_gain_at_25", 5.0, 0.01),
        ("precision_at_25", 5.0, 0.01),
    ]
    assert settings.polling["training_seconds"] == 900


def test_a_document_of_any_size_reads_back(tmp_path: Path, three_by_five: dict[str, Any]) -> None:
    # 25 datasets and 25 campaigns: the size the next issue scales to (the configuration's history budget
    # refuses it today, so the document is built directly).
    loaded = load_settings(environ_with(tmp_path / "small", three_by_five))
    dataset, campaign = loaded.datasets[0], loaded.campaigns[0]
    document = settings_document(
        time_zone=loaded.time_zone,
        glue_job_names=loaded.glue_job_names,
        job_name_prefix=loaded.job_name_prefix,
        polling=three_by_five["polling"],
        phase_timeouts=loaded.phase_timeouts,
        execution_timeout_seconds=loaded.execution_timeout_seconds,
        automation_guard=loaded.automation_guard,
        personalize_role_arn=loaded.personalize_role_arn,
        datasets=[replace(dataset, name=f"d{i}", dataset_arn=f"{dataset.dataset_arn}-{i}") for i in range(25)],
        campaigns=[
            replace(campaign, campaign_name=f"c{i}", campaign_arn=f"{campaign.campaign_arn}-{i}") for i in range(25)
        ],
    )
    assert len(json.dumps(document)) > 20_000

    settings = load_settings(environ_with(tmp_path / "large", document))

    assert [c.campaign_name for c in settings.campaigns] == [f"c{i}" for i in range(25)]
    assert all(isinstance(d, DatasetSettings) for d in settings.datasets)
    assert all(isinstance(c, CampaignSettings) for c in settings.campaigns)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidSettings, match=rf"{tmp_path / SETTINGS_FILE}: no such settings file"):
        load_settings(code_package(tmp_path, {}, RUN_TABLE_NAME="runs"))


def test_outside_the_runtime_the_package_directory_is_read(tmp_path: Path) -> None:
    # No LAMBDA_TASK_ROOT: the folder the handlers were imported from, which in the source tree holds no settings.
    with pytest.raises(InvalidSettings, match=rf"{PACKAGE_ROOT / SETTINGS_FILE}: no such settings file"):
        load_settings({"RUN_TABLE_NAME": "runs"})


def test_a_file_that_is_not_json_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidSettings, match=rf"{tmp_path / SETTINGS_FILE}: not valid JSON"):
        load_settings(environ_with(tmp_path, '{"time_zone": "UTC",'))


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d["campaigns"][3].pop("solution_arn"), r"campaigns\[3\]\.solution_arn: missing"),
        (lambda d: d.pop("time_zone"), r"time_zone: missing"),
        (lambda d: d["polling"].pop("import_seconds"), r"polling\.import_seconds: missing"),
        (
            lambda d: d["campaigns"][1]["quality_gate"]["rules"][0].update(max_drop_percent="5"),
            r"campaigns\[1\]\.quality_gate\.rules\[0\]\.max_drop_percent: expected a number or null, got str",
        ),
        (lambda d: d["phase_timeouts"].update(import_seconds=True), r"phase_timeouts\.import_seconds: expected an"),
        (lambda d: d.update(datasets={}), r"datasets: expected a list of JSON objects, got dict"),
        (lambda d: d["datasets"][2].update(bucket="b"), r"datasets\[2\]\.bucket: unknown field"),
        (lambda d: d["glue_job_names"].append(7), r"glue_job_names\[1\]: expected a string, got int"),
    ],
)
def test_a_missing_or_malformed_field_is_named_with_its_file(
    tmp_path: Path, three_by_five: dict[str, Any], change: Any, named: str
) -> None:
    document = json.loads(json.dumps(three_by_five))
    change(document)

    with pytest.raises(InvalidSettings, match=rf"^{tmp_path / SETTINGS_FILE}: {named}"):
        load_settings(environ_with(tmp_path, document))


def test_a_document_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidSettings, match=r"the file: expected a JSON object, got list"):
        load_settings(environ_with(tmp_path, [1, 2]))


def test_the_run_table_comes_from_the_environment(tmp_path: Path, three_by_five: dict[str, Any]) -> None:
    environ = environ_with(tmp_path, three_by_five)
    del environ["RUN_TABLE_NAME"]

    with pytest.raises(InvalidSettings, match="environment variable RUN_TABLE_NAME is not set"):
        load_settings(environ)
