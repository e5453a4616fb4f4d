"""Configuration validation: each bad field fails with a message naming it and what was expected."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from infra.config import ConfigError, load_config, parse_config
from tests.conftest import EXAMPLE_CONFIG, ROOT


def test_example_configuration_is_valid(example_config: Any) -> None:
    assert example_config.time_zone == "Asia/Seoul"
    assert example_config.datasets[0].name == "interactions"
    assert example_config.datasets[0].import_mode == "FULL"
    assert example_config.campaigns[0].name == "shop-home-recommendations"
    assert example_config.region == "ap-northeast-2"


def test_defaults_apply_when_optional_fields_are_left_out(raw_config: dict[str, Any]) -> None:
    for optional in ("time_zone", "alert_email", "job_name_prefix", "polling", "execution_timeout_hours"):
        raw_config.pop(optional)
    del raw_config["datasets"][0]["import_mode"]
    config = parse_config(raw_config)
    assert config.time_zone == "UTC"
    assert config.datasets[0].import_mode == "FULL"
    assert config.alert_email is None


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("glue_job_names",), [], "glue_job_names: List should have at least 1 item"),
        (("glue_job_names",), ["bad/name"], "glue_job_names.0: expected a Glue job name"),
        (("time_zone",), "Mars/Olympus", "time_zone: expected an IANA time zone"),
        (
            ("personalize_role_arn",),
            "arn:aws:iam::123456789012:user/bob",
            "personalize_role_arn: expected an IAM role ARN",
        ),
        (
            ("datasets", 0, "dataset_arn"),
            "arn:aws:s3:::bucket",
            "datasets.0.dataset_arn: expected a Personalize dataset ARN",
        ),
        (
            ("datasets", 0, "dataset_arn"),
            "arn:aws:personalize:ap-northeast-2:123456789012:solution/x",
            "datasets.0.dataset_arn: expected a Personalize dataset ARN",
        ),
        (("datasets", 0, "data_location"), "https://bucket/key", "datasets.0.data_location: expected an s3:// URL"),
        (("datasets", 0, "data_location"), "s3://bucket/{date}/", "datasets.0.data_location: the only placeholder"),
        (("datasets", 0, "import_mode"), "PARTIAL", "datasets.0.import_mode: Input should be 'FULL' or 'INCREMENTAL'"),
        (
            ("campaigns", 0, "campaign_arn"),
            "arn:aws:personalize:ap-northeast-2:123456789012:dataset/g/ITEMS",
            "campaigns.0.campaign_arn: expected a Personalize campaign ARN",
        ),
        (
            ("campaigns", 0, "solution_arn"),
            "not-an-arn",
            "campaigns.0.solution_arn: expected a Personalize solution ARN",
        ),
        (("alert_email",), "ops-at-example", "alert_email: expected an e-mail address"),
        (
            ("kms_key_arn",),
            "arn:aws:kms:ap-northeast-2:123456789012:alias/refresh",
            "kms_key_arn: expected a KMS key ARN",
        ),
        (
            ("kms_key_arn",),
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "kms_key_arn: the key must be in the Personalize region",
        ),
        (("polling", "training_seconds"), 1, "polling.training_seconds: Input should be greater than or equal to 10"),
        (("log_retention_days",), 7, "log_retention_days: Input should be 30, 60, 90, 180, 365 or 731"),
    ],
)
def test_each_bad_field_is_named(raw_config: dict[str, Any], path: tuple[Any, ...], value: Any, expected: str) -> None:
    target = raw_config
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    with pytest.raises(ConfigError) as raised:
        parse_config(raw_config)
    assert expected in str(raised.value)


def test_missing_and_unknown_fields_are_named(raw_config: dict[str, Any]) -> None:
    del raw_config["personalize_role_arn"]
    raw_config["campaigns"][0]["campain_arn"] = "typo"
    with pytest.raises(ConfigError) as raised:
        parse_config(raw_config)
    message = str(raised.value)
    assert "personalize_role_arn: required field is missing" in message
    assert "campaigns.0.campain_arn: unknown field (check the spelling)" in message


def test_arns_must_share_one_account_and_region(raw_config: dict[str, Any]) -> None:
    raw_config["campaigns"][0]["campaign_arn"] = "arn:aws:personalize:us-east-1:123456789012:campaign/other"
    with pytest.raises(ConfigError, match="one account and region"):
        parse_config(raw_config)


def test_duplicate_campaigns_are_refused(raw_config: dict[str, Any]) -> None:
    raw_config["campaigns"].append(dict(raw_config["campaigns"][0]))
    with pytest.raises(ConfigError, match="campaigns: each entry must be unique"):
        parse_config(raw_config)


def test_a_prefix_that_makes_job_names_too_long_is_refused(raw_config: dict[str, Any]) -> None:
    raw_config["job_name_prefix"] = "p" * 20
    raw_config["datasets"][0]["dataset_arn"] = (
        "arn:aws:personalize:ap-northeast-2:123456789012:dataset/" + "g" * 30 + "/INTERACTIONS"
    )
    with pytest.raises(ConfigError, match=r"job_name_prefix: import job names .* would be 76 characters"):
        parse_config(raw_config)


def test_unreadable_file_is_reported(tmp_path: Any) -> None:
    bad = tmp_path / "refresh.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="is not valid JSON"):
        load_config(bad)
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "missing.json")


def test_cdk_synth_fails_naming_the_field(tmp_path: Any) -> None:
    raw = json.loads(EXAMPLE_CONFIG.read_text())
    raw["time_zone"] = "Nowhere/Land"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(raw))
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env={"CDK_CONTEXT_JSON": json.dumps({"config": str(bad)}), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "time_zone: expected an IANA time zone" in result.stderr


def test_phase_timeouts_have_defaults_and_bounds(raw_config: dict[str, Any]) -> None:
    assert parse_config(raw_config).phase_timeouts.seconds() == {
        "import_seconds": 6 * 3600,
        "training_seconds": 24 * 3600,
        "deployment_seconds": 3 * 3600,
    }
    raw_config["phase_timeouts"] = {"training_hours": 0.5}
    assert parse_config(raw_config).phase_timeouts.seconds()["training_seconds"] == 1800
    raw_config["phase_timeouts"] = {"deployment_hours": 0}
    with pytest.raises(ConfigError, match=r"phase_timeouts.deployment_hours"):
        parse_config(raw_config)


def test_a_configuration_that_could_reach_the_history_quota_is_refused(raw_config: dict[str, Any]) -> None:
    # Six campaigns, each polled every 10 s through a 6-hour training: 6 x 2,161 polls x 11 events.
    campaign = raw_config["campaigns"][0]
    raw_config["campaigns"] = [{**campaign, "campaign_arn": f"{campaign['campaign_arn']}-{i}"} for i in range(6)]
    raw_config["polling"] = {"training_seconds": 10}
    raw_config["phase_timeouts"] = {"training_hours": 6}
    with pytest.raises(ConfigError, match=r"polling: a run could write [\d,]+ history events, over the budget"):
        parse_config(raw_config)


def test_the_history_budget_counts_every_poll_a_phase_may_make() -> None:
    from infra.history_budget import EVENTS_PER_POLL, Phase, largest_history

    one = {"import_": Phase(3600, 300), "training": Phase(7200, 900), "deployment": Phase(1800, 60)}
    base = largest_history(**one, datasets=1, campaigns=1)
    assert Phase(3600, 300).polls == 13
    assert largest_history(**one, datasets=2, campaigns=1) - base == 60 + EVENTS_PER_POLL * 13
    assert largest_history(**one, datasets=1, campaigns=2) - base == 80 + EVENTS_PER_POLL * (9 + 31)
