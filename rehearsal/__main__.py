"""`make demo`: rehearse a weekly refresh locally, from the Glue success event to the deployed campaign.

python -m rehearsal [--training-hours 6] [--fail training --reason "..."] [--throttle]
                    [--duplicate] [--rerun] [--two] [--config config/example.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import timedelta
from pathlib import Path
from typing import cast

from local_engine.personalize import JobKind

from .report import render
from .scenario import PHASES, Scenario, rehearse


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make demo ARGS=...", description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="config/example.json", help="configuration file (default: the example)")
    parser.add_argument("--import-minutes", type=float, default=60, help="how long the import takes (simulated)")
    parser.add_argument("--training-hours", type=float, default=6, help="how long training takes (simulated)")
    parser.add_argument("--deployment-minutes", type=float, default=30, help="how long the campaign update takes")
    parser.add_argument("--fail", choices=PHASES, help="make this phase's Personalize job fail")
    parser.add_argument("--reason", default=Scenario.fail_reason, help="the failureReason Personalize reports")
    parser.add_argument("--throttle", action="store_true", help="Personalize answers LimitExceeded/ResourceInUse first")
    parser.add_argument("--duplicate", action="store_true", help="the Glue event is delivered twice")
    parser.add_argument("--rerun", action="store_true", help="after a failed run, an operator re-runs the day")
    parser.add_argument("--two", action="store_true", help="two datasets and two campaigns")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(sys.argv[1:] if argv is None else argv)
    logging.disable(logging.CRITICAL)  # the embedded AWS logs each failed state as an error; the report says it
    scenario = Scenario(
        import_duration=timedelta(minutes=args.import_minutes),
        training_duration=timedelta(hours=args.training_hours),
        deployment_duration=timedelta(minutes=args.deployment_minutes),
        fail_phase=cast(JobKind | None, args.fail or ("training" if args.rerun else None)),
        fail_reason=args.reason,
        throttle=args.throttle,
        duplicate=args.duplicate,
        rerun=args.rerun,
        two_of_each=args.two,
    )
    raw = json.loads(Path(args.config).read_text(encoding="utf-8"))
    outcome = rehearse(raw, scenario)
    print(render(outcome))
    expected_failure = scenario.fail_phase is not None and not scenario.rerun
    final = outcome.executions[-1].description["status"] if outcome.executions else "NOT STARTED"
    return 0 if (final == "FAILED") == expected_failure else 1


if __name__ == "__main__":
    sys.exit(main())
