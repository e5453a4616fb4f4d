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
    """The example with an ITEMS dataset and a second campaign, as `make demo ARGS=--two` rehearses it."""
    from rehearsal.scenario import with_second_dataset_and_campaign

    return with_second_dataset_and_campaign(example_raw())


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
