"""A short soak: a few plans of refreshes under faults, every invariant checked after each refresh. Its
plans are the same on every run (derandomized), so `make test` is repeatable; `make soak` runs the long,
randomized one (python -m reliability.soak). SHORT_SOAK_EXAMPLES sets how many plans this one runs."""

from __future__ import annotations

import os

from hypothesis import given, settings

from reliability.matrix import Environment
from reliability.soak import CONFIGS, Plan, Soak, plans, soak_settings

SHORT_SOAK_PLANS = int(os.environ.get("SHORT_SOAK_EXAMPLES", "3"))


def test_short_soak_keeps_every_invariant(environments: dict[str, Environment]) -> None:
    soak = Soak({name: environments[name] for name in CONFIGS})

    @settings(soak_settings(SHORT_SOAK_PLANS), derandomize=True)
    @given(plan=plans(min_steps=2, max_steps=3))
    def refreshes_keep_the_invariants(plan: Plan) -> None:
        soak.run(plan)

    refreshes_keep_the_invariants()

    assert soak.figures.examples >= SHORT_SOAK_PLANS
    assert soak.figures.refreshes >= 2 * SHORT_SOAK_PLANS
    assert soak.figures.invariant_checks == 5 * soak.figures.refreshes
