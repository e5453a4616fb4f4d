"""The Lambdas' code asset carries the time zone data the claim needs, whatever the runtime ships, and the
configuration's settings, which no longer fit Lambda's 4 KB of environment variables."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra import service_limits
from infra.config import RefreshConfig, parse_config
from infra.lambda_code import bundle, settings_files
from infra.service_limits import ENVIRONMENT, environment_size
from local_engine.synth import synthesize
from refresh_common.environment import FRESHNESS_SETTINGS_FILE, SETTINGS_FILE
from tests.conftest import code_asset, scaled_raw

# Runs in a bare interpreter: no site-packages (so no tzdata from this machine) and no system zone
# files (an empty TZPATH), like a runtime without zone data. Only the asset is on the path.
RESOLVE_BASE_DATE = """
import json, sys, zoneinfo
sys.path.insert(0, sys.argv[1])
zoneinfo.reset_tzpath(to=[])
from refresh_common.inputs import parse_run_input
event = {"trigger": "glue", "job_name": "export", "job_run_id": "jr_1", "event_time": sys.argv[3]}
print(parse_run_input(event, glue_job_names=("export",), time_zone=sys.argv[2]).base_date)
"""


def base_date_in_bare_runtime(asset: Path, time_zone: str, event_time: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", RESOLVE_BASE_DATE, str(asset), time_zone, event_time],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("time_zone", "event_time", "base_date"),
    [
        ("Asia/Seoul", "2026-11-28T16:30:00Z", "20261129"),
        ("America/Los_Angeles", "2026-11-29T07:30:00Z", "20261128"),
        ("Pacific/Chatham", "2026-11-28T10:30:00Z", "20261129"),
    ],
)
def test_the_asset_resolves_base_dates_without_any_zone_data_of_the_runtime(
    tmp_path: Path, time_zone: str, event_time: str, base_date: str
) -> None:
    bundle(tmp_path, {})

    resolved = base_date_in_bare_runtime(tmp_path, time_zone, event_time)

    assert resolved.returncode == 0, resolved.stderr
    assert resolved.stdout.strip() == base_date


def test_without_the_bundled_data_the_same_runtime_cannot_resolve_a_zone(tmp_path: Path) -> None:
    bundle(tmp_path, {})
    shutil.rmtree(tmp_path / "tzdata")

    resolved = base_date_in_bare_runtime(tmp_path, "Asia/Seoul", "2026-11-28T16:30:00Z")

    assert resolved.returncode != 0
    assert "ZoneInfoNotFoundError" in resolved.stderr


def test_the_asset_holds_the_handlers_and_no_build_leftovers(tmp_path: Path) -> None:
    bundle(tmp_path, {})

    assert {"start_import.py", "start_training.py", "deploy_version.py", "refresh_common", "tzdata"} <= {
        p.name for p in tmp_path.iterdir()
    }
    assert not list(tmp_path.rglob("__pycache__"))
    assert (tmp_path / "tzdata" / "zoneinfo" / "Asia" / "Seoul").is_file()


def as_json(document: Any) -> Any:
    return json.loads(json.dumps(document))


def test_the_asset_holds_the_settings_files_it_is_given(tmp_path: Path, example_config: RefreshConfig) -> None:
    bundle(tmp_path, settings_files(example_config))

    assert json.loads((tmp_path / SETTINGS_FILE).read_text()) == as_json(example_config.lambda_settings())
    assert json.loads((tmp_path / FRESHNESS_SETTINGS_FILE).read_text()) == {
        "namespace": "PersonalizeRefresh",
        "campaigns": ["shop-home-recommendations"],
        "stale_after_days": 8,
    }


@pytest.fixture(scope="module")
def three_by_five() -> tuple[RefreshConfig, Template]:
    """3 datasets and 5 campaigns with two-rule quality gates: their settings are 4.4 KB of JSON."""
    config = parse_config(scaled_raw(3, 5))
    return config, synthesize(config)


def environment_sizes(template: Template) -> dict[str, int]:
    """Each function's environment as Lambda measures it (the JSON of its variables, references unresolved)."""
    return {
        logical_id: environment_size(function["Properties"]["Environment"]["Variables"])
        for logical_id, function in template.find_resources("AWS::Lambda::Function").items()
    }


def test_three_datasets_and_five_campaigns_keep_every_environment_under_4_kb(
    three_by_five: tuple[RefreshConfig, Template], example_template: Template
) -> None:
    config, template = three_by_five
    assert len(json.dumps(config.lambda_settings(), separators=(",", ":"))) > ENVIRONMENT.maximum

    sizes = environment_sizes(template)

    assert service_limits.breaches(template.to_json()) == []
    assert len(sizes) == 4
    assert max(sizes.values()) < ENVIRONMENT.maximum // 8
    assert sizes == environment_sizes(example_template), "the environment does not grow with the configuration"


def test_each_configuration_deploys_its_own_settings_in_its_code(
    three_by_five: tuple[RefreshConfig, Template], example_template: Template, example_config: RefreshConfig
) -> None:
    roots: set[Path] = set()
    for config, template in (three_by_five, (example_config, example_template)):
        functions = template.find_resources("AWS::Lambda::Function")
        (root,) = {code_asset(template, logical_id) for logical_id in functions}
        assert json.loads((root / SETTINGS_FILE).read_text()) == as_json(config.lambda_settings())
        freshness: dict[str, Any] = json.loads((root / FRESHNESS_SETTINGS_FILE).read_text())
        assert freshness["campaigns"] == [campaign.name for campaign in config.campaigns]
        roots.add(root)
    assert len(roots) == 2, "a new configuration is new code: CloudFormation updates the functions with it"
