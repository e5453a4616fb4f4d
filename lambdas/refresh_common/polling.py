"""Polling planned from history: when to describe a job, decided once, when the phase starts.

Personalize announces no completion, so the state machine polls. A fixed interval is either costly (a
few transitions and thirteen history events per poll) or slow to notice the end. The Lambda that starts a
phase knows how long the same phase took in earlier successful runs, so it plans the waits instead:

    expected window  = [shortest earlier duration, longest] widened by `margin` on each side
    first wait       = up to the window's start (at least `dense_seconds`)
    inside the window: polls every `dense_seconds`, widened so the window takes at most
                       `window_polls` of them
    past the window  : each wait `growth` times the one before, up to `max_seconds`
    no history       : from `dense_seconds`, growing the same way

Every bound comes from the configuration's `polling` (see PollBounds); the defaults are below.

The state machine walks the list with Wait states (SecondsPath), no Lambda per poll. The list covers
the phase's limit and then some, so the phase's own deadline always ends the loop before the list does.

What the polls then cost in time is an Idle: from the moment Personalize put the job in its final status
to the poll that saw it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from math import ceil, log
from statistics import median

# At most this many polls inside the expected window: a wide, erratic history polls less densely.
MAX_WINDOW_POLLS = 30
# How far the window is widened beyond the shortest and longest earlier durations.
MARGIN = 0.05
# How much longer each wait is than the one before, past the window or without history.
GROWTH = 1.25
# Waits of the longest kind the plan keeps beyond the phase's limit: a training over its limit is stopped
# and polled until CREATE STOPPED, and the state machine must never read past the end of the plan (an
# out-of-range States.ArrayGetItem is an uncatchable States.Runtime).
BEYOND_THE_LIMIT = 24
# Earlier durations used: the most recent ones (the run table is read that far back anyway).
HISTORY_RUNS = 10


@dataclass(frozen=True)
class PollBounds:
    dense_seconds: int  # the wait inside the expected window, and the first wait without history
    max_seconds: int  # the longest wait between two polls
    limit_seconds: int  # the phase's limit: the waits cover it and more
    window_polls: int = MAX_WINDOW_POLLS
    margin: float = MARGIN
    growth: float = GROWTH


@dataclass(frozen=True)
class PollPlan:
    waits: list[int]
    expected_seconds: int | None  # the median of the earlier durations
    window: tuple[int, int] | None  # seconds after the start where the phase is expected to end
    reason: str
    earlier: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """What the run record keeps of the plan."""
        return {
            "expected_seconds": self.expected_seconds,
            "window_seconds": list(self.window) if self.window else None,
            "earlier_seconds": self.earlier,
            "first_wait_seconds": self.waits[0],
            "reason": self.reason,
        }


def plan(earlier: Sequence[float], bounds: PollBounds) -> PollPlan:
    """The waits for one phase, from the durations of earlier successful runs (newest first)."""
    recent = [round(d) for d in earlier[:HISTORY_RUNS] if d > 0]
    if not recent:
        waits = _growing(bounds.dense_seconds, bounds, elapsed=0)
        return PollPlan(waits, None, None, "no earlier run: polls from the dense interval, growing", recent)
    start = max(0, round(min(recent) * (1 - bounds.margin)))
    end = max(start + bounds.dense_seconds, round(max(recent) * (1 + bounds.margin)))
    dense = max(bounds.dense_seconds, ceil((end - start) / bounds.window_polls))
    dense = min(dense, bounds.max_seconds)
    waits = [max(bounds.dense_seconds, start)] if start > 0 else []
    elapsed = sum(waits)
    while elapsed < end:
        waits.append(dense)
        elapsed += dense
    waits += _growing(dense, bounds, elapsed=elapsed)
    expected = round(median(recent))
    reason = f"{len(recent)} earlier runs: {min(recent)} to {max(recent)} s, polls every {dense} s around the end"
    return PollPlan(waits, expected, (start, end), reason, recent)


@dataclass(frozen=True)
class Idle:
    """A job's end as Personalize reports it (lastUpdatedDateTime of its final status), and when the
    state machine saw it (the time it recorded that status)."""

    completed: datetime
    seen: datetime

    @property
    def seconds(self) -> float:
        """The idle overhead: how much sooner the pipeline could have acted. Never negative, should the
        two services' clocks disagree by a moment."""
        return max(0.0, (self.seen - self.completed).total_seconds())


def phase_idle(ends: Sequence[Idle]) -> float:
    """A phase of several jobs (the imports) is done when its last job is: from the last end to the poll
    that saw the last of them."""
    return max(0.0, (max(e.seen for e in ends) - max(e.completed for e in ends)).total_seconds())


def walk(plan: PollPlan) -> dict[str, object]:
    """The plan as the state machine walks it: a Wait takes `next` seconds, then a Pass moves `index` on
    and picks the following wait (States.ArrayGetItem). At `last` no wait follows: the loop ends there,
    recorded, rather than read past the plan's end (an uncatchable States.Runtime)."""
    return {"waits": plan.waits, "index": 0, "next": plan.waits[0], "last": len(plan.waits) - 1}


def largest_number_of_polls(bounds: PollBounds) -> int:
    """The most polls a plan with these bounds can make before the phase's limit (the history budget)."""
    growth_steps = ceil(log(max(bounds.max_seconds / bounds.dense_seconds, 1)) / log(bounds.growth)) + 1
    # The first wait; the window's polls (at most window_polls shorter than max_seconds); the growth back
    # up to max_seconds; the polls max_seconds apart, which the limit bounds; and those past the limit
    # while a stopped training winds down.
    return 1 + bounds.window_polls + growth_steps + ceil(bounds.limit_seconds / bounds.max_seconds) + BEYOND_THE_LIMIT


def _growing(first: int, bounds: PollBounds, *, elapsed: int) -> list[int]:
    """Waits from `first`, each `growth` times the last, up to max_seconds, until the limit is covered
    with BEYOND_THE_LIMIT of the longest waits to spare."""
    waits, wait = [], float(min(first, bounds.max_seconds))
    while elapsed < bounds.limit_seconds + BEYOND_THE_LIMIT * bounds.max_seconds:
        waits.append(round(wait))
        elapsed += round(wait)
        wait = min(wait * bounds.growth, bounds.max_seconds)
    return waits or [bounds.max_seconds]
