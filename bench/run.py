"""Every policy through every scenario: one synth, one deployment per policy, all refreshes in one process."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from typing import Any

from infra.config import RefreshConfig
from local_engine.synth import synthesize

from .measure import Figures, deployed, run_refresh, start_afresh
from .policies import Policy, policy_template
from .report import Results
from .scenarios import HISTORY_RUNS, Scenario


def bench(
    config: RefreshConfig,
    policies: Sequence[Policy],
    scenarios: Sequence[Scenario],
    seeds: Sequence[int],
    *,
    command: str,
    history_runs: int = HISTORY_RUNS,
    template: dict[str, Any] | None = None,
    progress: Callable[[str], None] = print,
) -> Results:
    """Measure each policy in each scenario with each seed; `template` skips the synth."""
    if template is None:
        progress("Synthesizing the stack once; every policy's definition is derived from it...")
        template = synthesize(config).to_json()
    limits = {phase.removesuffix("_seconds"): s for phase, s in config.phase_timeouts.seconds().items()}
    figures: dict[int, dict[str, list[Figures]]] = {}
    for policy in policies:
        progress(f"Policy {policy.label}...")
        reads_history = policy.is_projects_own
        with deployed(policy_template(template, policy, phase_limits=limits), config) as refresh:
            for scenario in scenarios:
                measured = figures.setdefault(policy.number, {}).setdefault(scenario.key, [])
                for seed in seeds:
                    draw = scenario.draw(seed, history_runs)
                    start_afresh(refresh)
                    for earlier in draw.history if reads_history else ():
                        run_refresh(refresh, policy, earlier)
                    measured.append(run_refresh(refresh, policy, draw.measured))
    return Results(figures, tuple(seeds), history_runs, commit(), command)


# What the bench runs: a change elsewhere in the working tree (tests, documents) does not mark its commit.
RUN_CODE = ("app.py", "bench", "config", "infra", "lambdas", "local_engine", "rehearsal", "statemachine")


def commit() -> str:
    """The checkout's commit, marked when the code the bench runs differs from it in the working tree."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=False).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--untracked-files=no", "--", *RUN_CODE)
    return head + (" with uncommitted changes" if changed else "")
