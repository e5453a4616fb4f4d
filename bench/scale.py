"""How a refresh grows with the shop: one refresh per shape (dataset groups x datasets x campaigns, built by
rehearsal/shapes.py from the example configuration), each synthesized, deployed on the local engine and run
with the default settings (the configuration's polling, the emulator's default durations, no earlier run).

Run it as `make bench ARGS="scale ..."`, or as `.venv/bin/python -m bench scale ...` from the project's root:
it prints the table, and writes the "Scale" section of docs/PERFORMANCE.md and its plot.
"""

from __future__ import annotations

import argparse
import json
import re
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from infra.config import parse_config
from infra.history_budget import BUDGET, HISTORY_EVENT_QUOTA
from local_engine import refresh as local_refresh
from local_engine.personalize import MAX_ACTIVE_IMPORT_JOBS
from local_engine.refresh import LocalRefresh
from local_engine.synth import synthesize
from rehearsal.shapes import shop_shape, solution_groups

from .measure import (
    ASSUMED_LAMBDA_SECONDS,
    PRICE_PER_GB_SECOND,
    PRICE_PER_LAMBDA_REQUEST,
    PRICE_PER_TRANSITION,
    Figures,
    refresh_once,
)
from .policies import definition_name
from .report import write_section

CONFIG = Path("config/example.json")
DOCUMENT = Path("docs/PERFORMANCE.md")
PLOT = Path("docs/scale.png")
SECTION_TITLE = "## Scale"
KINDS = ("refresh", "import", "campaign")  # workflow.REFRESH, IMPORT, CAMPAIGN: the kinds of execution of a run
# Wall time a refresh may take before the harness gives up: the largest shapes' take minutes, more than the
# harness allows a rehearsal's (local_engine.refresh.WAIT_LIMIT), and more on a machine busy with other work.
WAIT_LIMIT = 1800  # seconds


@dataclass(frozen=True)
class Shape:
    """`groups` dataset groups, each with `datasets` datasets and `campaigns` campaigns."""

    groups: int
    datasets: int
    campaigns: int

    @property
    def total_datasets(self) -> int:
        return self.groups * self.datasets

    @property
    def total_campaigns(self) -> int:
        return self.groups * self.campaigns

    def __str__(self) -> str:
        return f"{self.groups}x{self.datasets}x{self.campaigns}"

    @classmethod
    def parse(cls, text: str) -> Shape:
        match = re.fullmatch(r"(\d+)x(\d+)x(\d+)", text.strip())
        if not match:
            raise ValueError(f"a shape is GROUPSxDATASETSxCAMPAIGNS, e.g. 5x5x5, not {text!r}")
        return cls(*(int(n) for n in match.groups()))


# 1, 5 and 25 datasets and 1, 5 and 25 campaigns in a run. A dataset group holds at most five datasets, so 25
# datasets take five groups, and with them at least five campaigns: 25 datasets and one campaign is no shop's
# shape.
SHAPES = tuple(Shape.parse(s) for s in ("1x1x1", "1x1x5", "1x1x25", "1x5x1", "1x5x5", "1x5x25", "5x5x1", "5x5x5"))


@dataclass(frozen=True)
class Measured:
    shape: Shape
    figures: Figures
    largest: dict[str, int]  # the largest history of each kind of execution (KINDS), in events
    simulated: timedelta  # from the Glue event to the refresh's end
    synth_seconds: float  # wall time
    wall_seconds: float  # wall time after the synth: deploying, the refresh, reading its histories


def measure(shape: Shape, raw: dict[str, Any]) -> Measured:
    """One refresh of `raw` in `shape`, from the synth to its histories read."""
    shaped = shop_shape(raw, groups=shape.groups, datasets=shape.datasets, campaigns=shape.campaigns)
    config = parse_config(shaped)
    started = time.perf_counter()
    template = synthesize(config).to_json()
    synthesized = time.perf_counter()
    with (
        mock.patch.object(local_refresh, "WAIT_LIMIT", WAIT_LIMIT),
        LocalRefresh(template, config, solutions=solution_groups(shaped)) as refresh,
    ):
        run = refresh_once(refresh, label=f"shape {shape}")
        kind_of = _kinds(refresh)
        ended = time.perf_counter()
        largest = dict.fromkeys(KINDS, 0)
        for arn, history in run.histories.items():
            kind = kind_of[refresh.client("stepfunctions").describe_execution(executionArn=arn)["stateMachineArn"]]
            largest[kind] = max(largest[kind], len(history))
    return Measured(
        shape,
        run.figures,
        largest,
        run.ended - run.started,
        synth_seconds=synthesized - started,
        wall_seconds=ended - synthesized,
    )


def _kinds(refresh: LocalRefresh) -> dict[str, str]:
    """Each deployed state machine's kind of execution, by ARN."""
    return {
        refresh.deployment.ref(logical_id): definition_name(json.loads(resource["Properties"]["DefinitionString"]))
        for logical_id, resource in refresh.template["Resources"].items()
        if resource["Type"] == "AWS::StepFunctions::StateMachine"
    }


def measure_all(shapes: Sequence[Shape], *, progress: Callable[[str], None] = print) -> list[Measured]:
    raw = json.loads(CONFIG.read_text(encoding="utf-8"))
    measured = []
    for shape in shapes:
        progress(f"Shape {shape}: {shape.total_datasets} datasets, {shape.total_campaigns} campaigns...")
        measured.append(measure(shape, raw))
        progress(
            "  "
            + "  ".join(
                f"{column}: {cell}" for column, cell in zip(COLUMNS[3:], rows(measured[-1:])[0][3:], strict=True)
            )
        )
    return measured


# The table ---------------------------------------------------------------------------------------------

COLUMNS = (
    "groups x datasets x campaigns",
    "datasets",
    "campaigns",
    "executions",
    "largest history (refresh / import / campaign)",
    "history events",
    "transitions",
    "Lambda invocations",
    "cost per refresh",
    "simulated",
    "wall time (synth)",
)


def rows(measured: Sequence[Measured]) -> list[list[str]]:
    return [
        [
            str(m.shape),
            str(m.shape.total_datasets),
            str(m.shape.total_campaigns),
            str(m.figures.executions),
            f"{m.figures.largest_history:,} ({' / '.join(f'{m.largest[kind]:,}' for kind in KINDS)})",
            f"{m.figures.history_events:,}",
            f"{m.figures.transitions:,}",
            f"{m.figures.lambda_invocations:,}",
            f"${m.figures.cost:.4f}",
            _hours(m.simulated),
            f"{m.wall_seconds:.0f} s ({m.synth_seconds:.0f} s)",
        ]
        for m in measured
    ]


def text_table(measured: Sequence[Measured]) -> str:
    table = [list(COLUMNS), *rows(measured)]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in table]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def markdown_table(measured: Sequence[Measured]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * (len(COLUMNS) - 1)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(measured)]
    return "\n".join(lines)


def _hours(duration: timedelta) -> str:
    minutes = round(duration.total_seconds() / 60)
    return f"{minutes // 60}:{minutes % 60:02d} h"


# How each figure grows -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Growth:
    """A figure fitted as fixed + per_dataset x datasets + per_campaign x campaigns + per_pair x datasets x
    campaigns (least squares over the shapes), and the fit's largest error, relative to the measured figure.
    The last term is there because each import's status changes are written to every campaign's record."""

    fixed: float
    per_dataset: float
    per_campaign: float
    per_pair: float
    worst_error: float
    style: str = "{:,.1f}"

    def at(self, shape: Shape) -> float:
        datasets, campaigns = shape.total_datasets, shape.total_campaigns
        return (
            self.fixed
            + self.per_dataset * datasets
            + self.per_campaign * campaigns
            + self.per_pair * datasets * campaigns
        )

    def __str__(self) -> str:
        show = self.style.format
        terms = [show(self.fixed)]
        for value, what in (
            (self.per_dataset, "per dataset"),
            (self.per_campaign, "per campaign"),
            (self.per_pair, "per dataset and campaign"),
        ):
            if show(abs(value)) != show(0):
                terms.append(f"{show(value)} {what}")
        return " + ".join(terms) + f" (within {self.worst_error:.0%})"


def growth(measured: Sequence[Measured], value: Callable[[Measured], float], style: str = "{:,.1f}") -> Growth:
    import numpy

    shapes = numpy.array(
        [
            [1, m.shape.total_datasets, m.shape.total_campaigns, m.shape.total_datasets * m.shape.total_campaigns]
            for m in measured
        ],
        dtype=float,
    )
    values = numpy.array([value(m) for m in measured], dtype=float)
    coefficients, *_ = numpy.linalg.lstsq(shapes, values, rcond=None)
    fitted = shapes @ coefficients
    worst = float(max(abs(fitted - values) / numpy.maximum(values, 1e-9)))
    fixed, per_dataset, per_campaign, per_pair = (float(c) for c in coefficients)
    return Growth(fixed, per_dataset, per_campaign, per_pair, worst, style)


# Each growing figure, and how its fit is shown.
GROWING: dict[str, tuple[Callable[[Measured], float], str]] = {
    "transitions": (lambda m: m.figures.transitions, "{:,.1f}"),
    "history events": (lambda m: m.figures.history_events, "{:,.1f}"),
    "Lambda invocations": (lambda m: m.figures.lambda_invocations, "{:,.1f}"),
    "cost per refresh": (lambda m: m.figures.cost, "${:.5f}"),
    "the refresh's own history": (lambda m: m.largest["refresh"], "{:,.1f}"),
    "an import execution's history": (lambda m: m.largest["import"], "{:,.1f}"),
    "a campaign execution's history": (lambda m: m.largest["campaign"], "{:,.1f}"),
}
APART = ("transitions", "Lambda invocations", "an import execution's history")  # shown for the shapes not fitted


def with_room(measured: Sequence[Measured]) -> list[Measured]:
    """The shapes whose imports all fit in Personalize's regional quota of concurrent imports at once."""
    return [m for m in measured if m.shape.total_datasets <= MAX_ACTIVE_IMPORT_JOBS]


def fits(measured: Sequence[Measured]) -> dict[str, Growth]:
    """Each growing figure fitted over the shapes whose imports had room (at least four, for four terms)."""
    fitted = with_room(measured)
    if len({(m.shape.total_datasets, m.shape.total_campaigns) for m in fitted}) < 4:
        return {}
    return {name: growth(fitted, value, style) for name, (value, style) in GROWING.items()}


def growth_lines(measured: Sequence[Measured]) -> list[str]:
    """The fits, then how far each shape with imports that waited for room is from them."""
    fitted = fits(measured)
    if not fitted:
        return [f"(too few shapes with at most {MAX_ACTIVE_IMPORT_JOBS} datasets to fit)"]
    lines = [f"{name}: {fit}" for name, fit in fitted.items()]
    for m in measured:
        if m in with_room(measured):
            continue
        apart = [f"{name} {GROWING[name][0](m):,.0f} (fit {fitted[name].at(m.shape):,.0f})" for name in APART]
        lines.append(f"{m.shape}, {m.shape.total_datasets} datasets: " + ", ".join(apart))
    return lines


def _histories_in_words(measured: Sequence[Measured]) -> str:
    """How each kind of execution's history grows, and where it would meet the budget, from the fits."""
    fitted = fits(measured)
    largest = max(m.figures.largest_history for m in measured)
    kinds = sorted({kind for m in measured for kind in KINDS if m.largest[kind] == m.figures.largest_history})
    campaign = sorted({m.largest["campaign"] for m in measured})
    text = (
        f"The largest execution is the {' or '.join(kinds)} execution in every shape, {largest:,} events at most, "
        f"within the budget of {BUDGET:,}. "
    )
    if len(campaign) == 1:
        text += (
            f"A campaign execution's history is {campaign[0]:,} events in every shape: it holds its own training's "
            "and deployment's polls, whatever the rest of the shop. "
        )
    if not fitted:
        return text
    refresh, import_ = fitted["the refresh's own history"], fitted["an import execution's history"]
    if import_.per_campaign > 0:
        overtakes = (campaign[-1] - import_.at(Shape(1, 1, 0))) / import_.per_campaign
        text += (
            f"An import execution's grows by {import_.per_campaign:,.0f} events per campaign of the run (each of its "
            f"status changes is written to every campaign's record): it would pass a campaign's at about "
            f"{overtakes:,.0f} campaigns, and the budget at about "
            f"{(BUDGET - import_.at(Shape(1, 1, 0))) / import_.per_campaign:,.0f}. "
        )
    per_both = refresh.per_dataset + refresh.per_campaign
    if per_both > 0:
        text += (
            f"The refresh's own grows by {refresh.per_dataset:,.0f} events per dataset and "
            f"{refresh.per_campaign:,.0f} per campaign (the Map iteration that starts and awaits each execution): "
            f"it would meet the budget at about {(BUDGET - refresh.fixed) / per_both:,.0f} datasets and as many "
            "campaigns."
        )
    return text


def _paragraph(text: str) -> str:
    return textwrap.fill(" ".join(text.split()), width=115, break_on_hyphens=False)


# docs/PERFORMANCE.md ---------------------------------------------------------------------------------------


def section(measured: Sequence[Measured], *, commit: str, command: str, plot_name: str) -> str:
    fitted = fits(measured)
    lines = "\n".join(f"- {line}" for line in growth_lines(measured))
    roomy, waited = with_room(measured), [m for m in measured if m not in with_room(measured)]
    wall = "; ".join(
        f"{sum(m.wall_seconds for m in group) / sum(m.figures.transitions for m in group) * 1000:,.0f} s per 1,000 "
        f"transitions {where}"
        for group, where in ((roomy, "where every import had room"), (waited, "where imports waited for room"))
        if group
    )
    gb_second = f"{PRICE_PER_GB_SECOND:.10f}".rstrip("0")
    introduction = f"""One refresh per shop shape on the local engine, with the default settings: the
        example configuration's polling and phase limits, the emulator's default durations (import 1 h, training
        6 h, campaign update 30 min, each after 60 s pending), and no earlier run, so that the polls are planned as
        for a first refresh. A shape is dataset groups x datasets x campaigns per group (`rehearsal/shapes.py`: a
        group's campaigns share its solutions two by two), all in one account and region. Measured at commit
        `{commit}` with `{command}`, on a 2-core machine shared with other work:"""
    legend = f"""A run is three kinds of execution: the refresh's own, one per dataset's import and one per campaign's
        training and deployment, each started and awaited by the refresh. **Largest history** is the events of the
        run's largest single execution, the one that meets Step Functions' quota of {HISTORY_EVENT_QUOTA:,} events
        first (the project's budget is {BUDGET:,}, 80 % of it), and in brackets the largest of each kind. **History
        events** and **transitions** are over every execution of the run, **Lambda invocations** every attempt of a
        Lambda Task. **Cost per refresh** is the polling bench's model: transitions at
        ${PRICE_PER_TRANSITION * 1000:.3f} per 1,000 (Standard workflows), Lambda requests at
        ${PRICE_PER_LAMBDA_REQUEST * 1e6:.2f} per million and Lambda duration at ${gb_second} per GB-second (x86
        list price; the functions run on arm64, 20 % less) with the functions' configured memory, each invocation
        billed {ASSUMED_LAMBDA_SECONDS} s. It leaves out DynamoDB, EventBridge, SNS and Personalize itself, whose
        training hours cost far more than the orchestration. **Simulated** is the refresh's time on the virtual
        clock. **Wall time** is the rehearsal's after the synth (deploying the template on moto, the refresh,
        reading its histories), in brackets the synth's (CDK through jsii; the first starts its Node.js): {wall}."""
    fitting = f"""Each figure fitted over the shapes with at most {MAX_ACTIVE_IMPORT_JOBS} datasets (Personalize's
        regional quota of concurrent imports: all of them start at once), as fixed + a x datasets + b x campaigns +
        c x datasets x campaigns (least squares; "within" is the fit's worst error, relative to the figure; a term
        that rounds to nothing is left out); then each larger shape against the fit:"""
    totals = """The totals (transitions, history events, Lambda invocations, cost) grow linearly in the datasets and
        in the campaigns: each dataset adds its import execution (its polls and status changes) and the refresh's
        Map iteration that starts and awaits it, each campaign its own execution (its training's and deployment's
        polls) and its iteration."""
    if fitted and fitted["transitions"].per_pair >= 0.5:
        totals += f""" The term in datasets x campaigns is each import's status changes written to every campaign's
            record of the run: {fitted["transitions"].per_pair:,.1f} transitions per dataset and campaign, small
            beside a campaign's {fitted["transitions"].per_campaign:,.0f} until a run has hundreds of datasets."""
    if waited:
        totals += f""" Past the quota of {MAX_ACTIVE_IMPORT_JOBS} concurrent imports, the datasets it has no room for
            wait in their own executions, each retrying its import's creation (a Lambda invocation and a transition
            each time, backing off up to 15 minutes) until another import ends: the run takes longer (the simulated
            column) and the Lambda invocations grow with the waits, not with the shape."""
    return (
        "\n\n".join(
            [
                SECTION_TITLE,
                _paragraph(introduction),
                markdown_table(measured),
                _paragraph(legend),
                _paragraph(fitting),
                lines,
                _paragraph(totals),
                _paragraph(_histories_in_words(measured)),
                "![Transitions, Lambda invocations, the largest history of each kind of execution and the wall time, "
                f"against the run's campaigns, by its datasets]({plot_name})",
            ]
        )
        + "\n"
    )


def plot(measured: Sequence[Measured], path: Path, *, commit: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(10, 7.5))
    colours = plt.get_cmap("tab10")
    datasets = sorted({m.shape.total_datasets for m in measured})
    markers = dict(zip(datasets, "osD^v<>", strict=False))

    def by_datasets(axis: Any, value: Callable[[Measured], float], title: str) -> None:
        for index, count in enumerate(datasets):
            series = sorted(
                (m for m in measured if m.shape.total_datasets == count), key=lambda m: m.shape.total_campaigns
            )
            axis.plot(
                [m.shape.total_campaigns for m in series],
                [value(m) for m in series],
                marker=markers[count],
                color=colours(index),
                label=f"{count} dataset{'s' if count > 1 else ''}",
            )
        axis.set_title(title, fontsize=10)
        axis.legend(fontsize=8)

    by_datasets(axes[0][0], lambda m: m.figures.transitions, "state transitions per refresh, all executions")
    by_datasets(axes[0][1], lambda m: m.figures.lambda_invocations, "Lambda invocations per refresh")
    by_datasets(axes[1][1], lambda m: m.wall_seconds, "wall time after the synth, s")
    largest = axes[1][0]
    for index, kind in enumerate(KINDS):
        for count in datasets:
            series = [m for m in measured if m.shape.total_datasets == count]
            largest.scatter(
                [m.shape.total_campaigns for m in series],
                [m.largest[kind] for m in series],
                marker=markers[count],
                color=colours(index + 3),
                label=kind if count == datasets[0] else None,
            )
    largest.axhline(BUDGET, color="red", linestyle="--", linewidth=1, label=f"budget {BUDGET:,}")
    largest.set_yscale("log")
    largest.set_title("largest history of each kind of execution, events (log scale)", fontsize=10)
    shapes = {"o": "circle", "s": "square", "D": "diamond", "^": "triangle", "v": "triangle down"}
    markers_named = ", ".join(f"{shapes.get(markers[count], markers[count])} {count}" for count in datasets)
    largest.legend(fontsize=8, title=f"datasets: {markers_named}", title_fontsize=7, loc="lower center")
    for axis in axes.flat:
        axis.set_xticks(sorted({m.shape.total_campaigns for m in measured}))
        axis.set_xlabel("campaigns in the run")
        axis.grid(True, which="both", alpha=0.3)
    figure.suptitle(f"A refresh by shop shape on the local engine (commit {commit})")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


# The command -----------------------------------------------------------------------------------------------


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make bench ARGS='scale ...'", description=__doc__)
    parser.add_argument(
        "--shapes",
        default=",".join(str(s) for s in SHAPES),
        help="comma-separated GROUPSxDATASETSxCAMPAIGNS (default: %(default)s)",
    )
    parser.add_argument("--no-docs", action="store_true", help=f"only print the table; leave {DOCUMENT} and the plot")
    args = parser.parse_args(argv)
    try:
        args.shapes = [Shape.parse(s) for s in args.shapes.split(",")]
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv: list[str], *, commit: str, command: str) -> int:
    args = arguments(argv)
    measured = measure_all(args.shapes, progress=lambda line: print(line, flush=True))
    print()
    print(f"Scale at commit {commit}")
    print(text_table(measured))
    print()
    print(f"Fitted over the shapes with at most {MAX_ACTIVE_IMPORT_JOBS} datasets:")
    for line in growth_lines(measured):
        print(f"  {line}")
    if not args.no_docs:
        write_section(DOCUMENT, section(measured, commit=commit, command=command, plot_name=PLOT.name), SECTION_TITLE)
        plot(measured, PLOT, commit=commit)
        print(f"Wrote the section '{SECTION_TITLE}' of {DOCUMENT} and {PLOT}")
    return 0
