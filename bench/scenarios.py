"""The scenarios: how long the measured refresh's phases take, and the history its policy would see.

Every duration is drawn per seed, so that the same seed gives every policy the same refreshes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

HISTORY_RUNS = 3  # earlier successful refreshes a scenario with history has


@dataclass(frozen=True)
class Durations:
    """How long each phase's job works (Personalize's emulator adds its 60 s CREATE PENDING to each)."""

    import_: timedelta
    training: timedelta
    deployment: timedelta

    def scaled(self, rng: random.Random, low: float, high: float) -> Durations:
        """Each phase times its own factor drawn from [low, high]."""
        return Durations(*(_round(d * rng.uniform(low, high)) for d in (self.import_, self.training, self.deployment)))

    def __str__(self) -> str:
        return " / ".join(_minutes(d) for d in (self.import_, self.training, self.deployment))


@dataclass(frozen=True)
class Draw:
    measured: Durations
    history: tuple[Durations, ...]  # oldest first


@dataclass(frozen=True)
class Scenario:
    key: str
    name: str
    description: str  # for the report: what is drawn

    def draw(self, seed: int, history_runs: int = HISTORY_RUNS) -> Draw:
        rng = random.Random(f"{self.key}-{seed}")
        if self.key == "S5":
            return Draw(_erratic(rng), tuple(_erratic(rng) for _ in range(history_runs)))
        base = SMALL if self.key == "S4" else STEADY
        measured = base.scaled(rng, 0.9, 1.1)
        if self.key == "S3":
            return Draw(measured, ())
        # S2: the measured run is 30 % longer than the runs before it, which are as steady as S1's.
        centre = measured.scaled(rng, 1 / 1.3, 1 / 1.3) if self.key == "S2" else measured
        return Draw(measured, tuple(centre.scaled(rng, 0.9, 1.1) for _ in range(history_runs)))


STEADY = Durations(timedelta(minutes=40), timedelta(hours=5), timedelta(minutes=20))
SMALL = Durations(timedelta(minutes=8), timedelta(minutes=45), timedelta(minutes=10))

SCENARIOS = (
    Scenario("S1", "steady", "40 min / 5 h / 20 min, each ±10 %; previous runs within ±10 % of it"),
    Scenario("S2", "growth", "as S1, but 30 % longer than the previous runs (those within ±10 % of 1/1.3 of it)"),
    Scenario("S3", "first run", "as S1, no history"),
    Scenario("S4", "small", "8 min / 45 min / 10 min, each ±10 %; previous runs within ±10 % of it"),
    Scenario("S5", "erratic", "training 3 to 8 h (import and deployment as S1); previous runs the same spread"),
)


def _erratic(rng: random.Random) -> Durations:
    steady = STEADY.scaled(rng, 0.9, 1.1)
    return Durations(steady.import_, _round(timedelta(hours=rng.uniform(3, 8))), steady.deployment)


def _round(duration: timedelta) -> timedelta:
    return timedelta(seconds=round(duration.total_seconds()))


def _minutes(duration: timedelta) -> str:
    minutes = duration.total_seconds() / 60
    return f"{minutes / 60:.1f} h" if minutes >= 120 else f"{minutes:.0f} min"
