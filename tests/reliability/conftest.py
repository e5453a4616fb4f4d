"""Fixtures of the reliability tier: every configuration the catalog uses, synthesized when first needed,
and the observations of the faults this session runs, made once, in worker processes."""

from __future__ import annotations

import pytest

from infra.config import parse_config
from local_engine.synth import synthesize
from reliability.catalog import FAULTS
from reliability.configs import RAW_CONFIGS
from reliability.matrix import Environment, observe_all
from reliability.outcomes import Observation

DOC_TEST = "test_reliability_doc"


class Environments(dict[str, Environment]):
    """Configuration name -> its environment, synthesized on first use."""

    def __missing__(self, name: str) -> Environment:
        raw = RAW_CONFIGS[name]()
        self[name] = Environment(raw, synthesize(parse_config(raw)).to_json())
        return self[name]


@pytest.fixture(scope="session")
def environments() -> Environments:
    return Environments()


@pytest.fixture(scope="session")
def observations(request: pytest.FixtureRequest, environments: Environments) -> dict[str, Observation]:
    """The faults this session's tests look at (all of them when the report is checked), observed once."""
    items = request.session.items
    if any(DOC_TEST in item.nodeid for item in items):
        wanted = list(FAULTS)
    else:
        selected = {item.callspec.id for item in items if hasattr(item, "callspec")}
        wanted = [fault for fault in FAULTS if fault.id in selected]
    for fault in wanted:
        environments[fault.config]  # synthesized here, before the workers start
    return observe_all(wanted, environments)
