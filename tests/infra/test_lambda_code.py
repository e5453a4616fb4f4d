"""The Lambdas' code asset carries the time zone data the claim needs, whatever the runtime ships."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.lambda_code import bundle

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
    bundle(tmp_path)

    resolved = base_date_in_bare_runtime(tmp_path, time_zone, event_time)

    assert resolved.returncode == 0, resolved.stderr
    assert resolved.stdout.strip() == base_date


def test_without_the_bundled_data_the_same_runtime_cannot_resolve_a_zone(tmp_path: Path) -> None:
    bundle(tmp_path)
    shutil.rmtree(tmp_path / "tzdata")

    resolved = base_date_in_bare_runtime(tmp_path, "Asia/Seoul", "2026-11-28T16:30:00Z")

    assert resolved.returncode != 0
    assert "ZoneInfoNotFoundError" in resolved.stderr


def test_the_asset_holds_the_handlers_and_no_build_leftovers(tmp_path: Path) -> None:
    bundle(tmp_path)

    assert {"start_import.py", "start_training.py", "deploy_version.py", "refresh_common", "tzdata"} <= {
        p.name for p in tmp_path.iterdir()
    }
    assert not list(tmp_path.rglob("__pycache__"))
    assert (tmp_path / "tzdata" / "zoneinfo" / "Asia" / "Seoul").is_file()
