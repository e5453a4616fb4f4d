"""Configuration validation: each bad field fails with a message naming it and what was expected."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.config import ConfigError, load_config, parse_config
from tests.conftest import EXAMPLE_CONFIG, ROOT, scaled_raw


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
        (("job_name_prefix",), "nightly_refresh", "job_name_prefix: expected letters, digits and hyphens"),
        (("job_name_prefix",), "p" * 21, "job_name_prefix: at most 20 characters, got 21"),
        (("polling", "training_seconds"), 1, "polling.training_seconds: Input should be greater than or equal to 10"),
        (("polling", "import_seconds"), 7200, "polling.import_seconds: Input should be less than or equal to 3600"),
        (("execution_timeout_hours",), 0, "execution_timeout_hours: Input should be greater than or equal to 1"),
        (("log_retention_days",), 7, "log_retention_days: Input should be 30, 60, 90, 180, 365 or 731"),
        (("campaigns", 0, "training"), {"mode": "INCREMENTAL"}, "campaigns.0.training.mode: Input should be 'FULL'"),
        (
            ("campaigns", 0, "training"),
            {"mode": "FULL", "full_every_days": 7},
            "campaigns.0.training: full_every_days: only with mode UPDATE",
        ),
        (
            ("campaigns", 0, "training"),
            {"mode": "UPDATE", "full_every_days": 7, "full_every_runs": 3},
            "campaigns.0.training: full_every_days and full_every_runs: set one of them, not both",
        ),
        (
            ("campaigns", 0, "training"),
            {"mode": "UPDATE", "full_every_runs": 1},
            "campaigns.0.training.full_every_runs: Input should be greater than or equal to 2",
        ),
        (
            ("campaigns", 0, "quality_gate"),
            {"rules": []},
            "campaigns.0.quality_gate.rules: List should have at least 1",
        ),
        (
            ("campaigns", 0, "quality_gate"),
            {"rules": [{"metric": "NDCG@25", "max_drop_percent": 2}]},
            "campaigns.0.quality_gate.rules.0.metric: expected a Personalize metric name",
        ),
        (
            ("campaigns", 0, "quality_gate"),
            {"rules": [{"metric": "coverage"}]},
            "campaigns.0.quality_gate.rules.0: coverage: give max_drop_percent, min_value or both",
        ),
        (
            ("campaigns", 0, "quality_gate"),
            {"rules": [{"metric": "coverage", "min_value": 0.1}], "without_metrics": "skip"},
            "campaigns.0.quality_gate.without_metrics: Input should be 'deploy' or 'hold'",
        ),
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


def test_a_role_in_another_account_is_refused(raw_config: dict[str, Any]) -> None:
    raw_config["personalize_role_arn"] = "arn:aws:iam::210987654321:role/PersonalizeS3ReadAccess"
    with pytest.raises(ConfigError) as raised:
        parse_config(raw_config)
    assert str(raised.value) == (
        "configuration: personalize_role_arn: the role must be in the account of the Personalize resources "
        "(123456789012), got 210987654321: Personalize cannot use a role of another account"
    )


def test_errors_found_across_fields_name_the_field_they_are_about(raw_config: dict[str, Any]) -> None:
    raw_config["kms_key_arn"] = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    with pytest.raises(ConfigError) as raised:
        parse_config(raw_config)
    assert str(raised.value).startswith("configuration: kms_key_arn: the key must be in the Personalize region")


def test_duplicate_campaigns_are_refused(raw_config: dict[str, Any]) -> None:
    raw_config["campaigns"].append(dict(raw_config["campaigns"][0]))
    with pytest.raises(ConfigError, match="campaigns: each entry must be unique"):
        parse_config(raw_config)


def with_dataset_group(raw: dict[str, Any], group: str) -> dict[str, Any]:
    raw["datasets"][0]["dataset_arn"] = f"arn:aws:personalize:ap-northeast-2:123456789012:dataset/{group}/INTERACTIONS"
    return raw


def test_a_prefix_that_makes_job_names_too_long_says_which_prefix_fits(raw_config: dict[str, Any]) -> None:
    raw_config["job_name_prefix"] = "p" * 20
    with pytest.raises(ConfigError) as raised:
        parse_config(with_dataset_group(raw_config, "g" * 30))
    assert (
        "job_name_prefix: import job names for dataset gggggggggggggggggggggggggggggg/interactions would be "
        "76 characters, Personalize allows 63; a prefix of at most 7 characters fits"
    ) in str(raised.value)

    raw_config["job_name_prefix"] = "p" * 7
    assert parse_config(raw_config).job_name_prefix == "ppppppp"


def test_a_dataset_group_name_too_long_for_any_prefix_says_so(raw_config: dict[str, Any]) -> None:
    raw_config["job_name_prefix"] = "p"
    assert parse_config(with_dataset_group(raw_config, "g" * 36)).datasets[0].dataset_group == "g" * 36

    with pytest.raises(ConfigError) as raised:
        parse_config(with_dataset_group(raw_config, "g" * 37))
    message = str(raised.value)
    assert (
        "datasets.0.dataset_arn: the dataset group name 'ggggggggggggggggggggggggggggggggggggg' (37 characters)"
        in message
    )
    assert "leaves no room for any job_name_prefix" in message and "group names of up to 36 characters fit" in message
    assert "shorter prefix" not in message


def test_unreadable_file_is_reported_in_one_line_naming_it(tmp_path: Any) -> None:
    bad = tmp_path / "refresh.json"
    for content, expected in (
        ("{not json", "refresh.json: not valid JSON: Expecting property name enclosed in double quotes"),
        ("[]", "refresh.json: expected a JSON object at the top level"),
        (b"\xff\xfe", "refresh.json: not UTF-8 text"),
    ):
        bad.write_bytes(content if isinstance(content, bytes) else content.encode())
        with pytest.raises(ConfigError) as raised:
            load_config(bad)
        assert str(raised.value).startswith(f"{tmp_path}/{expected}")
        assert "\n" not in str(raised.value)
    with pytest.raises(ConfigError, match=r"missing\.json: file not found$"):
        load_config(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match=r": cannot be read: Is a directory$"):
        load_config(tmp_path)


def test_each_problem_is_one_line_naming_the_file_and_the_field(raw_config: dict[str, Any]) -> None:
    raw_config["time_zone"] = "Mars/Olympus"
    raw_config["polling"]["import_seconds"] = 5
    with pytest.raises(ConfigError) as raised:
        parse_config(raw_config, source="config/my-shop.json")
    assert str(raised.value).splitlines() == [
        "config/my-shop.json: time_zone: expected an IANA time zone such as 'Asia/Seoul' or 'UTC', got 'Mars/Olympus'",
        "config/my-shop.json: polling.import_seconds: Input should be greater than or equal to 10",
    ]


def test_cdk_synth_fails_naming_the_field(tmp_path: Any) -> None:
    raw = json.loads(EXAMPLE_CONFIG.read_text())
    raw["time_zone"] = "Nowhere/Land"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(raw))
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        # As the CDK CLI runs it from an activated virtual environment.
        env={
            "CDK_CONTEXT_JSON": json.dumps({"config": str(bad)}),
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert (
        result.stderr.strip()
        == f"cdk synth: {bad}: time_zone: expected an IANA time zone such as 'Asia/Seoul' or 'UTC', got 'Nowhere/Land'"
    )


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            ["STACK_NAME=bad name!"],
            "cdk synth: stack_name: expected a stack name that starts with a letter and holds only letters, digits "
            "and hyphens (at most 128 characters), got 'bad name!'",
        ),
        (['CONFIG=config/my "shop".json'], 'cdk synth: config/my "shop".json: file not found'),
        (["CONFIG=config/it's.json"], "cdk synth: config/it's.json: file not found"),
    ],
)
def test_make_synth_refuses_bad_arguments_in_one_line(arguments: list[str], expected: str) -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "synth", *arguments],
        cwd=ROOT,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(Path.home())},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.splitlines()[0] == expected


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


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "stale_after_days: Input should be greater than or equal to 1"),
        (91, "stale_after_days: Input should be less than or equal to 90"),
        ("a week", "stale_after_days: Input should be a valid integer"),
        (7.5, "stale_after_days: Input should be a valid integer"),
    ],
)
def test_a_bad_staleness_threshold_is_named(raw_config: dict[str, Any], value: Any, expected: str) -> None:
    assert parse_config(raw_config).stale_after_days == 8
    raw_config["stale_after_days"] = value
    with pytest.raises(ConfigError) as raised:
        parse_config(raw_config)
    assert expected in str(raised.value)


def test_a_configuration_that_could_reach_the_history_quota_is_refused(raw_config: dict[str, Any]) -> None:
    # A campaign polled every 10 s at most through a 36-hour training: about 13,000 polls of 11 events, in its
    # own execution. The execution named is the one over the budget, with what to change.
    raw_config["polling"] = {"dense_seconds": 10, "training_seconds": 10}
    raw_config["phase_timeouts"] = {"training_hours": 36}
    raw_config["execution_timeout_hours"] = 72
    with pytest.raises(
        ConfigError,
        match=r"polling: a campaign execution could write [\d,]+ history events, over the budget of 20,000 .*"
        r"poll training or deployment less often",
    ):
        parse_config(raw_config)


def test_a_shop_of_twenty_five_datasets_and_campaigns_fits_with_the_defaults(raw_config: dict[str, Any]) -> None:
    from rehearsal.shapes import shop_shape

    config = parse_config(shop_shape(raw_config, groups=5, datasets=5, campaigns=5))
    assert (len(config.datasets), len(config.campaigns)) == (25, 25)


def test_past_what_one_stack_holds_synthesis_says_the_limit_and_what_to_do(raw_config: dict[str, Any]) -> None:
    from rehearsal.shapes import shop_shape

    config = parse_config(shop_shape(raw_config, groups=20, datasets=5, campaigns=5))
    assert (len(config.datasets), len(config.campaigns)) == (100, 100)
    with pytest.raises(ConfigError, match=r"campaigns: 102 campaigns, one stack refreshes at most 100: .*split"):
        parse_config(shop_shape(raw_config, groups=17, datasets=5, campaigns=6))
    with pytest.raises(ConfigError, match=r"datasets: 105 datasets, one stack imports at most 100, .*split"):
        parse_config(shop_shape(raw_config, groups=21, datasets=5, campaigns=4))


def test_each_execution_of_a_run_has_its_own_history_budget() -> None:
    from infra.history_budget import FIXED_CAMPAIGN, MIRROR_PER_CAMPAIGN, STATUS_CHANGES, Phase, largest_histories
    from infra.workflow.history import events_per_poll

    one = {"import_": Phase(3600, 300, 60), "training": Phase(7200, 900, 60), "deployment": Phase(1800, 60, 60)}
    base = largest_histories(**one, datasets=1, campaigns=1)
    # the first wait, 30 in the window, 9 growing from 60 s to 300 s, 12 of 300 s in the hour, and 24 past
    # the limit (a stopped training winds down)
    assert Phase(3600, 300, 60).polls == 1 + 30 + 9 + 12 + 24
    training, deployment = Phase(7200, 900, 60).polls, Phase(1800, 60, 60).polls
    assert (training, deployment) == (1 + 30 + 14 + 8 + 24, 1 + 30 + 1 + 30 + 24)
    assert (
        base.campaign
        == FIXED_CAMPAIGN + events_per_poll("training") * training + events_per_poll("deployment") * deployment
    )
    # A campaign's polls stay in its own execution: more campaigns add to the refresh's history a Map iteration
    # each, and to an import's the mirroring of its status into one more record.
    more = largest_histories(**one, datasets=1, campaigns=25)
    assert more.campaign == base.campaign
    assert more.import_ - base.import_ == 24 * STATUS_CHANGES * MIRROR_PER_CAMPAIGN
    assert 0 < more.refresh - base.refresh < 1_000
    assert largest_histories(**one, datasets=25, campaigns=1).import_ == base.import_


def test_glue_job_names_whose_trigger_pattern_eventbridge_would_refuse_are_named(raw_config: dict[str, Any]) -> None:
    # Eight names of 255 characters: the rule's pattern lists each, past EventBridge's 2,048 characters.
    raw_config["glue_job_names"] = [f"{i}" + "x" * 254 for i in range(8)]
    with pytest.raises(
        ConfigError,
        match=r"glue_job_names: the Glue trigger's event pattern would be 2,\d{3} characters, EventBridge allows 2,048",
    ):
        parse_config(raw_config)
    raw_config["glue_job_names"] = raw_config["glue_job_names"][:7]
    assert len(parse_config(raw_config).glue_job_names) == 7


def test_three_datasets_and_five_campaigns_fit_and_so_do_twenty_five_of_each() -> None:
    # Each campaign's polls are in its own execution: no execution's history grows with 25 of each.
    assert len(parse_config(scaled_raw(3, 5)).campaigns) == 5
    assert len(parse_config(scaled_raw(25, 25)).campaigns) == 25


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"execution_timeout_hours": True}, "execution_timeout_hours: expected a number, got true"),
        ({"stale_after_days": False}, "stale_after_days: expected a number, got false"),
        ({"polling": {"growth": True}}, "polling.growth: expected a number, got true"),
        ({"phase_timeouts": {"training_hours": float("nan")}}, "training_hours: Input should be a finite"),
        ({"phase_timeouts": {"import_hours": float("inf")}}, "import_hours: Input should be a finite"),
    ],
)
def test_booleans_and_nan_are_not_numbers(raw_config: dict[str, Any], patch: dict[str, Any], expected: str) -> None:
    # pydantic would read true as 1, and NaN fails every bound check with a message about the bound.
    with pytest.raises(ConfigError) as raised:
        parse_config({**raw_config, **patch})
    assert expected in str(raised.value)


def test_a_bad_number_in_a_campaigns_gate_is_named(raw_config: dict[str, Any]) -> None:
    gate = {"rules": [{"metric": "precision_at_25", "max_drop_percent": float("nan")}]}
    raw_config["campaigns"][0]["quality_gate"] = gate
    with pytest.raises(ConfigError) as raised:
        parse_config(raw_config)
    assert "campaigns.0.quality_gate.rules.0.max_drop_percent: Input should be a finite number" in str(raised.value)


def test_a_region_without_personalize_is_named_before_anything_is_built(raw_config: dict[str, Any]) -> None:
    # A typo'd region (us-west-9) used to synthesize, and the rehearsal then failed deep in moto with KeyError.
    text = json.dumps(raw_config).replace("ap-northeast-2", "us-west-9")
    with pytest.raises(ConfigError) as raised:
        parse_config(json.loads(text))
    message = str(raised.value)
    assert "datasets and campaigns: us-west-9 is not a region that offers Amazon Personalize" in message
    assert "ap-northeast-2" in message and "us-east-1" in message  # the regions that do
    parse_config(json.loads(json.dumps(raw_config).replace("ap-northeast-2", "eu-west-1")))


def test_a_key_given_twice_is_refused_not_silently_the_last(tmp_path: Path) -> None:
    text = (
        Path(EXAMPLE_CONFIG)
        .read_text()
        .replace('"time_zone": "Asia/Seoul",', '"time_zone": "Asia/Seoul", "time_zone": "UTC",')
    )
    path = tmp_path / "twice.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value).endswith("twice.json: time_zone: given twice in one object; keep one")
