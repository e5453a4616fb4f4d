"""The configurations the fault matrix and the soak run: the example, the two-of-each rehearsal, a shop's shape
(three datasets, three campaigns, two of them on one solution), and variants that make long phases cheap to
simulate."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.config import RefreshConfig, parse_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "config" / "example.json"


# Polls of the matrix and the soak: every 5 minutes at least and 15 at most, whatever the history. The
# faults are about what fails, not how promptly a job's end is noticed, and fewer polls simulate faster.
COARSE_POLLING = {"dense_seconds": 300, "import_seconds": 900, "training_seconds": 900, "deployment_seconds": 300}


def example() -> dict[str, Any]:
    """The example configuration, polled coarsely."""
    return {**json.loads(EXAMPLE_CONFIG.read_text()), "polling": dict(COARSE_POLLING)}


def two_of_each() -> dict[str, Any]:
    """Two datasets and two campaigns, as `make demo ARGS=--two` rehearses them."""
    from rehearsal.scenario import with_second_dataset_and_campaign

    return with_second_dataset_and_campaign(example())


def shop() -> dict[str, Any]:
    """A dataset group of three datasets (interactions, items, users) and three campaigns: the first two share a
    solution, trained once for both, the third has its own."""
    from rehearsal.shapes import shop_shape

    return shop_shape(example(), groups=1, datasets=3, campaigns=3)


def short_timeout() -> dict[str, Any]:
    """A state machine that times out after two hours, so its timeout comes within a few polls."""
    return {**example(), "execution_timeout_hours": 2}


def hourly_polling() -> dict[str, Any]:
    """Every phase polled once an hour, so that a phase lasting a day and more costs few history events."""
    raw = copy.deepcopy(example())
    raw["polling"] = {
        "dense_seconds": 3600,
        "import_seconds": 3600,
        "training_seconds": 3600,
        "deployment_seconds": 3600,
    }
    return raw


def long_training() -> dict[str, Any]:
    """Polled hourly, with a training allowed 34 h: one that outlasts the next day's trigger."""
    raw = hourly_polling()
    raw["phase_timeouts"] = {"training_hours": 34}
    return raw


RAW_CONFIGS: dict[str, Callable[[], dict[str, Any]]] = {
    "example": example,
    "two_of_each": two_of_each,
    "shop": shop,
    "short_timeout": short_timeout,
    "hourly_polling": hourly_polling,
    "long_training": long_training,
}


def load(name: str) -> RefreshConfig:
    return parse_config(RAW_CONFIGS[name]())
