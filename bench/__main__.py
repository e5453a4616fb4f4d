"""Measure the polling policies side by side on the local engine: prints the table, and writes the "Polling
policies" section of docs/PERFORMANCE.md and its plot. `scale` instead measures one refresh per shop shape
(bench/scale.py): the "Scale" section and its plot.

Run it as `make bench ARGS="..."` (`make bench ARGS="scale ..."`), or as `.venv/bin/python -m bench ...` from the
project's root.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from infra.config import load_config
from rehearsal.__main__ import use_project_node

from . import scale
from .policies import POLICIES
from .report import plot, target_verdict, text_table, write_section
from .report import section as performance_section
from .run import bench, commit
from .scenarios import HISTORY_RUNS, SCENARIOS

CONFIG = "config/example.json"
DOCUMENT = Path("docs/PERFORMANCE.md")
PLOT = Path("docs/polling-policies.png")


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make bench ARGS=...", description=__doc__)
    parser.add_argument("--seeds", type=int, default=3, help="refreshes per policy and scenario (default 3)")
    parser.add_argument(
        "--scenarios", default=",".join(s.key for s in SCENARIOS), help="comma-separated, e.g. S1,S3 (default all)"
    )
    parser.add_argument("--policies", default="1,2,3,4,5", help="comma-separated numbers (default all)")
    parser.add_argument(
        "--history-runs", type=int, default=HISTORY_RUNS, help=f"earlier refreshes per history (default {HISTORY_RUNS})"
    )
    parser.add_argument("--no-docs", action="store_true", help=f"only print the table; leave {DOCUMENT} and the plot")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.history_runs < 0:
        parser.error("--seeds must be 1 or more, --history-runs 0 or more")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["scale"]:
        use_project_node()
        logging.disable(logging.CRITICAL)
        started = time.perf_counter()
        scale.main(argv[1:], commit=commit(), command=" ".join(["python -m bench", *argv]))
        print(f"Benchmarked in {time.perf_counter() - started:.0f} s")
        return 0
    args = _arguments(argv)
    scenarios = [s for s in SCENARIOS if s.key in args.scenarios.split(",")]
    policies = [p for p in POLICIES if str(p.number) in args.policies.split(",")]
    use_project_node()
    logging.disable(logging.CRITICAL)  # the embedded AWS logs each failed state as an error
    started = time.perf_counter()
    results = bench(
        load_config(CONFIG),
        policies,
        scenarios,
        range(1, args.seeds + 1),
        history_runs=args.history_runs,
        command=" ".join(["python -m bench", *argv]),
        progress=lambda line: print(line, flush=True),
    )
    print()
    print(f"Polling policies at commit {results.commit}, seeds {', '.join(map(str, results.seeds))}")
    print(text_table(results))
    for scenario in scenarios:
        verdict = target_verdict(results, scenario.key)
        if verdict != "n/a":
            print(f"{scenario.key}: policy 5's targets {verdict}")
    if not args.no_docs:
        write_section(DOCUMENT, performance_section(results, PLOT.name))
        plot(results, PLOT)
        print(f"Wrote the section '## Polling policies' of {DOCUMENT} and {PLOT}")
    print(f"Benchmarked in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
