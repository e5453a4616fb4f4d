"""What the built definition writes to an execution's history, read from the definition itself.

Step Functions writes two events for each state a run passes (entered, exited) and three more for a Task
(scheduled, started, succeeded): a Task that is retried writes three more for each retry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import POLL_LOOPS, definitions
from .polling import PLANNED, Polling
from .states import State, States

EVENTS_PER_STATE = 2  # entered, exited
EVENTS_PER_TASK = EVENTS_PER_STATE + 3  # and scheduled, started, succeeded


def events_of(state: State) -> int:
    return EVENTS_PER_TASK if state["Type"] == "Task" else EVENTS_PER_STATE


def events_per_poll(phase: str, polling: Polling = PLANNED) -> int:
    """The events one poll of `phase` writes when the job's status has not changed: the states from the
    loop's first round to it again, each Choice taking its Default."""
    first = POLL_LOOPS[phase].first(polling)
    (states,) = [found for built in definitions(polling).values() for found in all_states(built) if first in found]
    events, name = 0, first
    for _ in states:
        state = states[name]
        events += events_of(state)
        name = state["Default"] if state["Type"] == "Choice" else state["Next"]
        if name == first:
            return events
    raise ValueError(f"the {phase} poll loop does not come back to {first!r} through its defaults")


def states_holding(definition: dict[str, Any], name: str) -> States:
    """The States object (the top level's or a Map's) that holds the state `name`."""
    (states,) = [states for states in all_states(definition) if name in states]
    return states


def all_states(definition: dict[str, Any]) -> Iterator[States]:
    states: States = definition["States"]
    yield states
    for state in states.values():
        if "ItemProcessor" in state:
            yield from all_states(state["ItemProcessor"])
