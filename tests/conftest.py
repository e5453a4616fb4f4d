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


def two_of_each_raw() -> dict[str, Any]:
    """The example with a second dataset and a second campaign."""
    raw = example_raw()
    prefix = "arn:aws:personalize:ap-northeast-2:123456789012"
    raw["datasets"].append(
        {
            "dataset_arn": f"{prefix}:dataset/shop-recs/ITEMS",
            "data_location": "s3://shop-behaviour-history-123456789012/items/{base_date}/",
        }
    )
    raw["campaigns"].append(
        {
            "campaign_arn": f"{prefix}:campaign/shop-similar-items",
            "solution_arn": f"{prefix}:solution/shop-similar-items",
        }
    )
    return raw


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
