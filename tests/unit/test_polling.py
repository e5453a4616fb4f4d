"""The polling plan: waits planned from earlier durations, and its edge cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from refresh_common.polling import MAX_WINDOW_POLLS, Idle, PollBounds, largest_number_of_polls, phase_idle, plan

TRAINING = PollBounds(dense_seconds=60, max_seconds=300, limit_seconds=24 * 3600)
HOUR = 3600


def ends_noticed_at(waits: list[int], end: float) -> float:
    """When the poll that first sees a job that ended at `end` happens."""
    elapsed = 0
    for wait in waits:
        elapsed += wait
        if elapsed >= end:
            return elapsed
    raise AssertionError("the plan ran out before the job ended")


def test_without_history_polls_from_the_dense_interval_growing_to_the_longest() -> None:
    result = plan([], TRAINING)
    assert result.expected_seconds is None and result.window is None
    assert result.waits[:3] == [60, 75, 94]
    assert max(result.waits) == 300
    assert sum(result.waits) >= TRAINING.limit_seconds  # the deadline ends the loop, never the list


def test_with_steady_history_one_wait_to_the_window_then_dense_polls() -> None:
    earlier = [4.6 * HOUR, 5.0 * HOUR, 5.4 * HOUR]
    result = plan(earlier, TRAINING)
    assert result.window is not None
    assert result.waits[0] == result.window[0] == round(4.6 * HOUR * 0.95)
    assert result.window[1] == round(5.4 * HOUR * 1.05)  # widened at its end as at its start
    assert result.expected_seconds == 5 * HOUR
    inside = [w for w in result.waits[1:] if w == result.waits[1]]
    assert len(inside) <= MAX_WINDOW_POLLS + 1
    for end_of_job in (4.5 * HOUR, 5.0 * HOUR, 5.6 * HOUR):  # before, in, at the edge of the window
        assert ends_noticed_at(result.waits, end_of_job) - end_of_job <= result.waits[1]


def test_a_phase_running_far_longer_than_its_history_backs_off_to_the_longest_wait() -> None:
    result = plan([600.0, 620.0], TRAINING)
    late = 6 * HOUR
    assert ends_noticed_at(result.waits, late) - late <= TRAINING.max_seconds
    assert result.waits[-1] == TRAINING.max_seconds


def test_a_phase_that_ends_before_the_first_poll_is_seen_at_the_first_poll() -> None:
    result = plan([5 * HOUR], TRAINING)
    assert ends_noticed_at(result.waits, 600) == result.waits[0]


def test_an_erratic_history_polls_the_wide_window_less_densely() -> None:
    result = plan([3 * HOUR, 8 * HOUR, 5 * HOUR], TRAINING)
    assert result.window is not None
    start, end = result.window
    assert result.waits[1] == min(TRAINING.max_seconds, -(-(end - start) // MAX_WINDOW_POLLS))


@pytest.mark.parametrize("earlier", [[], [40.0], [5 * HOUR], [3 * HOUR, 8 * HOUR], [23 * HOUR, 30 * HOUR]])
def test_no_plan_makes_more_polls_than_the_history_budget_counts(earlier: list[float]) -> None:
    result = plan(earlier, TRAINING)
    elapsed, polls = 0, 0
    for wait in result.waits:
        elapsed += wait
        polls += 1
        if elapsed > TRAINING.limit_seconds:
            break
    assert polls <= largest_number_of_polls(TRAINING)


def test_every_bound_comes_from_the_configuration(tmp_path: Path) -> None:
    from infra.config import parse_config
    from refresh_common.environment import SETTINGS_FILE
    from refresh_common.settings import load_settings
    from tests.conftest import code_package, example_raw

    raw = example_raw()
    raw["polling"] |= {"dense_seconds": 30, "window_polls": 10, "window_margin_percent": 0, "growth": 2}
    raw["polling"]["training_seconds"] = 600
    config = parse_config(raw)
    settings = load_settings(code_package(tmp_path, {SETTINGS_FILE: config.lambda_settings()}, RUN_TABLE_NAME="runs"))
    bounds = settings.poll_bounds("training_seconds")
    assert (bounds.dense_seconds, bounds.window_polls, bounds.margin, bounds.growth) == (30, 10, 0.0, 2.0)

    result = plan([3 * HOUR, 4 * HOUR], bounds)
    assert result.window == (3 * HOUR, 4 * HOUR)  # no margin
    assert result.waits[1] == HOUR // 10  # ten polls across the hour-wide window
    assert plan([], bounds).waits[:6] == [30, 60, 120, 240, 480, 600]  # doubling from dense_seconds


def test_idle_is_from_the_end_personalize_reports_to_the_poll_that_saw_it() -> None:
    end = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    assert Idle(end, end + timedelta(seconds=42.5)).seconds == 42.5
    # Clocks a moment apart never make a negative idle time.
    assert Idle(end, end - timedelta(milliseconds=300)).seconds == 0


def test_a_phase_of_several_imports_is_idle_from_its_last_end_to_the_poll_that_saw_the_last() -> None:
    start = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    interactions = Idle(start + timedelta(minutes=40), start + timedelta(minutes=44))  # 4 min idle on its own
    items = Idle(start + timedelta(minutes=43), start + timedelta(minutes=45))  # ends last, seen 2 min later
    # Training could start once both were ACTIVE (minute 43) and started when both were seen (minute 45).
    assert phase_idle([interactions, items]) == 120
    assert phase_idle([interactions]) == interactions.seconds == 240
