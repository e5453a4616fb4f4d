"""The bench's results: median and worst over the seeds, the targets of the project's own policy, the table,
the section of docs/PERFORMANCE.md and the plot."""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.history_budget import HISTORY_EVENT_QUOTA

from .measure import ASSUMED_LAMBDA_SECONDS, Figures
from .policies import POLICIES, Policy
from .scenarios import SCENARIOS, Scenario

SECTION_TITLE = "## Polling policies"


@dataclass(frozen=True)
class Results:
    """Every measured refresh: figures[policy number][scenario key] holds one Figures per seed, in seed order."""

    figures: dict[int, dict[str, list[Figures]]]
    seeds: Sequence[int]
    history_runs: int
    commit: str
    command: str

    def of(self, policy: int, scenario: str) -> list[Figures]:
        return self.figures[policy][scenario]


@dataclass(frozen=True)
class Target:
    scenarios: frozenset[str]
    text: str
    holds: Callable[[Results, str, int], bool]  # (results, scenario, seed index) -> met


def _p(results: Results, policy: int, scenario: str, seed: int) -> Figures:
    return results.of(policy, scenario)[seed]


TARGETS = (
    Target(
        frozenset({"S1", "S4"}),
        "transitions ≤ 1/6 of policy 1's",
        lambda r, s, i: _p(r, 5, s, i).transitions * 6 <= _p(r, 1, s, i).transitions,
    ),
    Target(
        frozenset({"S1", "S4"}),
        "idle ≤ policy 1's + 60 s",
        lambda r, s, i: _p(r, 5, s, i).idle_total <= _p(r, 1, s, i).idle_total + 60,
    ),
    Target(
        frozenset({"S2", "S5"}),
        "transitions ≤ 1/4 of policy 1's",
        lambda r, s, i: _p(r, 5, s, i).transitions * 4 <= _p(r, 1, s, i).transitions,
    ),
    Target(
        frozenset({"S2", "S5"}),
        "idle ≤ policy 1's + 4 min",
        lambda r, s, i: _p(r, 5, s, i).idle_total <= _p(r, 1, s, i).idle_total + 240,
    ),
    Target(
        frozenset({"S3"}),
        "transitions < policies 2 and 3",
        lambda r, s, i: _p(r, 5, s, i).transitions < min(_p(r, 2, s, i).transitions, _p(r, 3, s, i).transitions),
    ),
    Target(
        frozenset({"S3"}),
        "idle ≤ policy 3's",
        lambda r, s, i: _p(r, 5, s, i).idle_total <= _p(r, 3, s, i).idle_total,
    ),
    Target(
        frozenset(s.key for s in SCENARIOS),
        "no Lambda per poll",
        lambda r, s, i: _p(r, 5, s, i).poll_lambda_invocations == 0,
    ),
    Target(
        frozenset(s.key for s in SCENARIOS),
        "fewer history events than policies 1 to 3",
        lambda r, s, i: _p(r, 5, s, i).history_events < min(_p(r, p, s, i).history_events for p in (1, 2, 3)),
    ),
)


def target_verdict(results: Results, scenario: str) -> str:
    """The targets' verdict: met, or not met naming each target missed and in how many seeds; n/a without the
    reference policies."""
    if not all(scenario in results.figures.get(p, {}) for p in (1, 2, 3, 5)):
        return "n/a"
    missed = []
    for target in TARGETS:
        if scenario not in target.scenarios:
            continue
        failing = sum(not target.holds(results, scenario, i) for i in range(len(results.seeds)))
        if failing:
            missed.append(f"{target.text} ({failing}/{len(results.seeds)} seeds)")
    return "met" if not missed else "not met: " + "; ".join(missed)


# The table ---------------------------------------------------------------------------------------------

COLUMNS = (
    "policy",
    "scenario",
    "transitions",
    "Lambda invocations (in poll loops)",
    "history events",
    "largest history",
    "idle overhead",
    "cost per refresh",
    "targets (policy 5)",
)


def rows(results: Results) -> list[list[str]]:
    """One row per policy and scenario; each figure as "median / worst" over the seeds."""
    table = []
    for policy in _policies(results):
        for scenario in _scenarios(results):
            figures = results.of(policy.number, scenario.key)
            table.append(
                [
                    policy.label,
                    f"{scenario.key} {scenario.name}",
                    _pair(figures, lambda f: f.transitions, "{:,.0f}"),
                    _pair(figures, lambda f: f.lambda_invocations, "{:,.0f}")
                    + f" ({_pair(figures, lambda f: f.poll_lambda_invocations, '{:,.0f}')})",
                    _pair(figures, lambda f: f.history_events, "{:,.0f}"),
                    _pair(figures, lambda f: f.largest_history, "{:,.0f}"),
                    _pair(figures, lambda f: f.idle_total, None),
                    _pair(figures, lambda f: f.cost, "${:.4f}"),
                    target_verdict(results, scenario.key) if policy.is_projects_own else "",
                ]
            )
    return table


def text_table(results: Results) -> str:
    table = [list(COLUMNS), *rows(results)]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in table]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def markdown_table(results: Results) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * 2 + "---:|" * 6 + "---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows(results)]
    return "\n".join(lines)


def _pair(figures: list[Figures], value: Callable[[Figures], float], style: str | None) -> str:
    values = [value(f) for f in figures]
    median, worst = statistics.median(values), max(values)
    show = _duration if style is None else style.format
    return f"{show(median)} / {show(worst)}"


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


def _policies(results: Results) -> list[Policy]:
    return [p for p in POLICIES if p.number in results.figures]


def _scenarios(results: Results) -> list[Scenario]:
    measured = set().union(*(set(by_scenario) for by_scenario in results.figures.values()))
    return [s for s in SCENARIOS if s.key in measured]


# docs/PERFORMANCE.md ---------------------------------------------------------------------------------------


def section(results: Results, plot_name: str) -> str:
    scenarios = "\n".join(f"| {s.key} {s.name} | {s.description} |" for s in _scenarios(results))
    seeds = ", ".join(str(s) for s in results.seeds)
    same = (
        "\n\nPolicies 4 and 5 measured the same in every refresh: the project's own definition polls at the fixed "
        "waits of its configuration, and its marks hide policy 4's in the plot."
        if results.figures.get(4) is not None and results.figures.get(4) == results.figures.get(5)
        else ""
    )
    return f"""{SECTION_TITLE}

Personalize announces no completion, so the state machine polls. Each policy below is a state machine
definition that differs from the project's only in how it polls, run on the local engine (the synthesized
stack on moto, the real handlers, the Personalize emulator, the virtual clock). The peers poll in the shape
their authors built, without the project's status records and phase limits:

1. **fixed 60 s**: each phase a loop of Wait 60 s, describe, Choice "ended?";
2. **fixed 120 s**: the same, 120 s (a public CDK MLOps sample for Personalize);
3. **Lambda retry 60 s x1.02**: each phase a Lambda Task that describes the job and raises `ResourcePending`
   until it has ended, retried by Step Functions every 60 s with back-off rate 1.02 (AWS's solution for
   maintaining Personalize models), with attempts enough to outlast the phase's limit, then Choice "ended?";
4. **fixed 300/900/60 s**: the fixed waits this project used before its polls were planned (import, training,
   deployment);
5. **the project's own**: the synthesized template as it is in the checkout, untouched: Wait as planned,
   the Pass that moves the plan on, describe, Choice "status changed?" (recorded when it has; then "ended?").

Policies 1 to 4 are the same definitions built by `infra/workflow` with the peer's polling
(`bench/policies.py`), in the synthesized template in place of policy 5's. A refresh is three kinds of
execution (the refresh's own, one per dataset's import, one per campaign's training and deployment, each
started and awaited by the refresh), and every policy's polling is applied to all three: the poll loops are in
the import and campaign executions. A child execution costs the refresh one or two transitions per dataset and
per campaign that a single execution did not make (chiefly the Task that starts and awaits it) and about nine
history events (that Task's, and the child's start and end), the same for every policy.

Measured at commit `{results.commit}` with `{results.command}`, seeds {seeds}: {len(results.seeds)} refreshes per
policy and scenario, each with one dataset and one campaign (`config/example.json`). The durations are
drawn per seed, the same for every policy:

| scenario | import / training / deployment |
|---|---|
{scenarios}

"History" is {results.history_runs} earlier successful refreshes of the same deployment, run through the engine
with the previous durations before the measured one, for the policy that reads the run table (policy 5);
the others do not read it, so their measured refresh comes without. The run table is emptied between
measurements.

{markdown_table(results)}

Each cell is the median / the worst over the seeds, and each figure but the largest history is over every
execution of the refresh. **Transitions** are the states entered plus the retries of Task states (Step Functions
bills both). **Lambda invocations** count every attempt of a Lambda Task; in brackets, those made inside a
phase's poll loop. **History events** are the lengths of the executions' histories, summed; **largest history**
is the longest single one, the one that meets Step Functions' quota of {HISTORY_EVENT_QUOTA:,} events first.
**Idle overhead** is, summed over the three phases, the time from the moment Personalize put the job in its
final status to the poll that saw it (m:ss). **Cost per refresh** is transitions at $0.025 per 1,000, Lambda
requests at $0.20 per million and Lambda duration at $0.0000166667 per GB-second with the functions' configured
memory, each invocation billed {ASSUMED_LAMBDA_SECONDS} s (the engine runs the handlers in-process and does not
measure their time on AWS). **Targets** are the issue's, for policy 5, met only when they hold in every seed.{same}

![Idle overhead against state transitions, one mark per policy and scenario]({plot_name})
"""


def write_section(document: Path, text: str, title: str = SECTION_TITLE) -> None:
    """Put `text` in place of the document's section `title` ("Polling policies"), or after its last section."""
    content = document.read_text(encoding="utf-8")
    pattern = re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(content):
        content = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", content).rstrip("\n") + "\n"
    else:
        content = content.rstrip("\n") + "\n\n" + text
    document.write_text(content, encoding="utf-8")


# The plot --------------------------------------------------------------------------------------------------

MARKERS = {"S1": "o", "S2": "^", "S3": "s", "S4": "D", "S5": "v"}


def plot(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    figure, axes = plt.subplots(figsize=(8, 5.5))
    colours = plt.get_cmap("tab10")
    for index, policy in enumerate(_policies(results)):
        for scenario in _scenarios(results):
            figures = results.of(policy.number, scenario.key)
            axes.scatter(
                statistics.median(f.transitions for f in figures),
                statistics.median(f.idle_total for f in figures) / 60,
                color=colours(index),
                marker=MARKERS[scenario.key],
                s=60,
                alpha=0.8,
                edgecolors="black",
                linewidths=0.5,
            )
    axes.set_xscale("log")
    axes.set_xlabel("state transitions per refresh (median, log scale)")
    axes.set_ylabel("idle overhead per refresh, minutes (median)")
    axes.set_title(f"Polling policies on the local engine (commit {results.commit})")
    axes.grid(True, which="both", alpha=0.3)
    policy_keys = [
        Line2D([], [], color=colours(i), marker="o", linestyle="", label=p.label)
        for i, p in enumerate(_policies(results))
    ]
    scenario_keys = [
        Line2D([], [], color="grey", marker=MARKERS[s.key], linestyle="", label=f"{s.key} {s.name}")
        for s in _scenarios(results)
    ]
    first = axes.legend(handles=policy_keys, title="policy", loc="upper right", fontsize=8)
    axes.add_artist(first)
    axes.legend(handles=scenario_keys, title="scenario", loc="upper center", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
