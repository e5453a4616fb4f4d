"""Time the local engine on one rehearsal scenario, apart from the synth: see docs/PERFORMANCE.md.

    .venv/bin/python scripts/engine_timing.py [CONFIG] [--runs N]

The template is synthesized once (not timed); each run then deploys it on a fresh local engine and
rehearses the default scenario, and the script prints, per run, the wall time of the deployment,
of the run (from the Glue event until the last execution has ended), of reading the execution
histories, and the run's wall time per state transition.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.config import load_config
from local_engine.refresh import LocalRefresh
from local_engine.synth import synthesize
from rehearsal.__main__ import use_project_node
from rehearsal.report import render
from rehearsal.scenario import Scenario, rehearse
from rehearsal.verdict import judge

# LocalRefresh's steps, by what they are part of.
PHASES = {"__enter__": "deploy", "put_glue_event": "run", "wait": "run", "history": "history"}


def _timed(spent: Counter[str], phase: str, real: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            spent[phase] += time.perf_counter() - started

    return timed


def _transitions(report: str) -> int:
    """The state transitions the report counts, over every execution ("... (304 state transitions)")."""
    return sum(int(line.rsplit("(", 1)[1].split()[0]) for line in report.splitlines() if "state transitions)" in line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", nargs="?", default="config/example.json")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    config = load_config(args.config)
    use_project_node()
    template = synthesize(config).to_json()
    logging.disable(logging.CRITICAL)
    spent: Counter[str] = Counter()
    for name, phase in PHASES.items():
        setattr(LocalRefresh, name, _timed(spent, phase, getattr(LocalRefresh, name)))
    for run in range(1, args.runs + 1):
        spent.clear()
        outcome = rehearse(config, Scenario(), progress=lambda line: None, template=template)
        transitions = _transitions(render(outcome, judge(outcome)))
        print(
            f"run {run}: after synth {outcome.wall_seconds:.2f} s = deploy {spent['deploy']:.2f} s"
            f" + run {spent['run']:.2f} s + histories {spent['history']:.2f} s + rest;"
            f" {transitions} transitions, {1000 * spent['run'] / transitions:.2f} ms per transition",
            flush=True,
        )


if __name__ == "__main__":
    main()
