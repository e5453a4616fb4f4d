"""The scale command in short: two small shapes through the whole command, its table read back from what it
prints. The full grid (up to 25 datasets and 25 campaigns) takes minutes: `make bench ARGS=scale` runs it."""

from __future__ import annotations

import contextlib
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest

from bench import scale
from bench.measure import Figures
from bench.report import write_section
from bench.scale import SHAPES, Measured, Shape
from infra.history_budget import BUDGET

SMALL = (Shape(1, 1, 1), Shape(1, 2, 2))


@pytest.fixture(scope="module")
def printed() -> str:
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        assert scale.main(["--shapes", ",".join(map(str, SMALL)), "--no-docs"], commit="test", command="pytest") == 0
    return output.getvalue()


def table(printed: str) -> list[dict[str, str]]:
    """The printed table's rows, each by column."""
    lines = printed.split("Scale at commit test\n", 1)[1].split("\n\n", 1)[0].splitlines()
    header, rule, *body = lines
    assert header.startswith(scale.COLUMNS[0]) and set(rule) == {"-"}
    return [dict(zip(scale.COLUMNS, re.split(r"\s{2,}", line), strict=True)) for line in body]


def number(text: str) -> int:
    return int(text.replace(",", ""))


def test_the_command_prints_a_row_per_shape_with_its_datasets_campaigns_and_executions(printed: str) -> None:
    rows = table(printed)

    assert [row["groups x datasets x campaigns"] for row in rows] == ["1x1x1", "1x2x2"]
    assert [(row["datasets"], row["campaigns"], row["executions"]) for row in rows] == [
        ("1", "1", "3"),  # the refresh, a dataset's import, a campaign's refresh
        ("2", "2", "5"),
    ]


def test_the_largest_history_stays_within_the_budget_and_the_totals_grow_with_the_shape(printed: str) -> None:
    one, two = table(printed)
    for row in (one, two):
        largest, *of_each_kind = re.findall(r"[\d,]+", row["largest history (refresh / import / campaign)"])
        assert len(of_each_kind) == 3
        assert number(largest) == max(map(number, of_each_kind)) < BUDGET
    # A campaign's execution polls its own phases whatever the shop; the run's totals grow with its executions.
    assert number(two["transitions"]) > number(one["transitions"])
    assert number(two["history events"]) > number(one["history events"])
    assert number(two["Lambda invocations"]) > number(one["Lambda invocations"])
    assert "Fitted over the shapes with at most 5 datasets:" in printed


def test_the_default_grid_has_1_5_and_25_datasets_and_campaigns() -> None:
    grid = {(s.total_datasets, s.total_campaigns) for s in SHAPES}

    assert {d for d, _ in grid} == {c for _, c in grid} == {1, 5, 25}
    # Every pair but 25 datasets with one campaign: five groups of five datasets have a campaign each at least.
    assert grid == {(d, c) for d in (1, 5, 25) for c in (1, 5, 25)} - {(25, 1)}
    assert all(s.datasets <= 5 for s in SHAPES)


def measured(groups: int, datasets: int, campaigns: int, *, transitions: int) -> Measured:
    figures = Figures(
        transitions=transitions,
        lambda_invocations=2 + 2 * groups * campaigns,
        poll_lambda_invocations=0,
        polls=0,
        history_events=3 * transitions,
        largest_history=1268,
        executions=1 + groups * (datasets + campaigns),
        idle_seconds={},
        lambda_gb_seconds=1.0,
    )
    return Measured(
        Shape(groups, datasets, campaigns),
        figures,
        {"refresh": 56, "import": 239, "campaign": 1268},
        timedelta(hours=7, minutes=41),
        synth_seconds=5.0,
        wall_seconds=4.0,
    )


def test_a_figure_linear_in_datasets_and_campaigns_is_fitted_exactly() -> None:
    shapes = [(1, 1, 1), (1, 5, 1), (1, 1, 5), (5, 5, 5)]
    runs = [measured(g, d, c, transitions=10 + 80 * g * d + 450 * g * c) for g, d, c in shapes]

    fit = scale.growth(runs, lambda m: m.figures.transitions)

    assert fit.fixed == pytest.approx(10)
    assert fit.per_dataset == pytest.approx(80)
    assert fit.per_campaign == pytest.approx(450)
    assert fit.worst_error < 1e-9


def test_the_section_replaces_its_own_and_keeps_the_polling_policies(tmp_path: Path) -> None:
    page = tmp_path / "PERFORMANCE.md"
    page.write_text("# Performance\n\n## Polling policies\n\nPolicies.\n\n## Scale\n\nOld.\n", encoding="utf-8")
    runs = [measured(1, 1, 1, transitions=540), measured(1, 5, 5, transitions=2700)]

    section = scale.section(runs, commit="abc1234", command="python -m bench scale", plot_name="scale.png")
    write_section(page, section, scale.SECTION_TITLE)

    text = page.read_text(encoding="utf-8")
    assert "## Polling policies\n\nPolicies.\n\n## Scale\n" in text and "Old." not in text
    assert "| 1x5x5 | 5 | 5 | 11 | 1,268 (56 / 239 / 1,268) |" in text
    assert "![" in text and "(scale.png)" in text
