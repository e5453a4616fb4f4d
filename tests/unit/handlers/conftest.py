"""The handler tests' fixtures: the example configuration's settings, the run table on moto, the run records and
claims written in it on a fixed clock, and a Personalize client whose every call is stubbed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from infra.config import RefreshConfig
from refresh_common.claims import RunClaims
from refresh_common.environment import SETTINGS_FILE
from refresh_common.run_record import RunRecords
from refresh_common.settings import Settings, load_settings
from tests.conftest import code_package, run_table
from tests.unit.handlers.shared import REGION

NOW = 1_796_000_000.0  # the Lambdas' clock in these tests: 2026-11-30 00:53:20 UTC


@pytest.fixture
def settings(example_config: RefreshConfig, tmp_path: Path) -> Settings:
    documents = {SETTINGS_FILE: example_config.lambda_settings()}
    return load_settings(code_package(tmp_path, documents, RUN_TABLE_NAME="runs"))


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws():
        yield run_table(REGION)


@pytest.fixture
def records(table: Any) -> RunRecords:
    return RunRecords(table, now=lambda: NOW)


@pytest.fixture
def run_claims(table: Any) -> RunClaims:
    return RunClaims(table, now=lambda: NOW)


@pytest.fixture
def personalize() -> Iterator[tuple[Any, Stubber]]:
    yield from stubbed("personalize")


def stubbed(service: str) -> Iterator[tuple[Any, Stubber]]:
    """A client of `service` answering only what the test stubs, and every stubbed answer used by the end."""
    client = boto3.client(service, region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()
