"""Fixtures shared by every tier: configurations and the stack synthesized once per session."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from infra.config import RefreshConfig, parse_config
from local_engine.synth import synthesize

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "config" / "example.json"


def example_raw() -> dict[str, Any]:
    return json.loads(EXAMPLE_CONFIG.read_text())


def run_table(region: str, name: str = "runs") -> Any:
    """The run table as the stack defines it (infra/run_table.py), created in the active moto mock."""
    import boto3

    return boto3.resource("dynamodb", region_name=region).create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "campaign_name", "KeyType": "HASH"},
            {"AttributeName": "base_date", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "campaign_name", "AttributeType": "S"},
            {"AttributeName": "base_date", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def configuration_in(account: str, region: str, **changes: Any) -> dict[str, Any]:
    """The example configuration moved to another account and region, with `changes` on top."""
    text = json.dumps(example_raw()).replace("123456789012", account).replace("ap-northeast-2", region)
    return {**json.loads(text), **changes}


def two_of_each_raw() -> dict[str, Any]:
    """The example with an ITEMS dataset and a second campaign, as `make demo ARGS=--two` rehearses it."""
    from rehearsal.scenario import with_second_dataset_and_campaign

    return with_second_dataset_and_campaign(example_raw())


@pytest.fixture(autouse=True)
def saved_engine_elsewhere(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rehearsal a test runs saves its engine in a temporary folder, never over the checkout's own."""
    from local_engine.saved import SAVED_ENGINE_VARIABLE

    monkeypatch.setenv(SAVED_ENGINE_VARIABLE, str(tmp_path_factory.getbasetemp() / "saved-engine.pickle.gz"))


@pytest.fixture
def raw_config() -> dict[str, Any]:
    return copy.deepcopy(example_raw())


@pytest.fixture(scope="session")
def example_config() -> RefreshConfig:
    return parse_config(example_raw())


@pytest.fixture(scope="session")
def two_of_each_config() -> RefreshConfig:
    return parse_config(two_of_each_raw())


@pytest.fixture(scope="session")
def example_template(example_config: RefreshConfig) -> Any:
    return synthesize(example_config)


@pytest.fixture(scope="session")
def two_of_each_template(two_of_each_config: RefreshConfig) -> Any:
    return synthesize(two_of_each_config)
