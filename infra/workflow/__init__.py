"""The state machines' definitions, built in Python: `statemachine/*.asl.json` are their output.

The refresh (one execution per run): claim -> imports -> campaigns -> run end. Each dataset's import and each
campaign's training and deployment run in their own execution (executions.py), of the import and campaign
state machines, so that no execution's history grows with the number of datasets or campaigns. states.py has
the kinds of state they are made of, retries.py the retry policies, polling.py the poll loop the three phases
share. `python -m infra.workflow` (make definition) writes the JSON; a test fails when a committed file is not
what this builds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import campaigns, claim, imports, run_end
from .polling import PLANNED, Polling, PollLoop

_DIRECTORY = Path(__file__).resolve().parents[2] / "statemachine"
REFRESH, IMPORT, CAMPAIGN = "refresh", "import", "campaign"
DEFINITION_FILES = {name: _DIRECTORY / f"{name}.asl.json" for name in (REFRESH, IMPORT, CAMPAIGN)}
DEFINITION_FILE = DEFINITION_FILES[REFRESH]
WIDTH = 120  # columns: a value that fits stays on one line, as a person would write it

COMMENTS = {
    REFRESH: "Refresh Amazon Personalize after the Glue export: import, train, deploy; the run table mirrors every "
    "status.",
    IMPORT: "One dataset's import for a Personalize refresh, started by the refresh: polls the import job until it "
    "is ACTIVE.",
    CAMPAIGN: "One campaign's refresh, started by the refresh once its data is imported: trains a solution version, "
    "checks its quality gate and deploys it.",
}


POLL_LOOPS: dict[str, PollLoop] = {
    loop.phase: loop for loop in (imports.POLL, campaigns.TRAINING, campaigns.DEPLOYMENT)
}


def definition(polling: Polling = PLANNED) -> dict[str, Any]:
    """The definition as deployed, with ${...} placeholders for CDK's definition_substitutions and no
    TimeoutSeconds (infra/refresh_workflow.py sets it from the configuration); the bench builds it with a
    peer's `polling`."""
    return {
        "Comment": COMMENTS[REFRESH],
        "StartAt": claim.START_AT,
        "States": {
            **claim.states(then=imports.START_AT),
            **imports.states(then="Refresh campaigns"),
            **run_end.failure_states(),
            **campaigns.states(then=run_end.OUTCOME, on_error=run_end.CAMPAIGNS_FAILED),
            **run_end.outcome_states(),
        },
    }


def definitions(polling: Polling = PLANNED) -> dict[str, dict[str, Any]]:
    """Every state machine's definition, by name (REFRESH, IMPORT, CAMPAIGN), as `definition` builds the
    refresh's."""
    return {
        REFRESH: definition(polling),
        IMPORT: {
            "Comment": COMMENTS[IMPORT],
            "StartAt": imports.EXECUTION_START_AT,
            "States": imports.execution_states(polling),
        },
        CAMPAIGN: {
            "Comment": COMMENTS[CAMPAIGN],
            "StartAt": campaigns.EXECUTION_START_AT,
            "States": campaigns.execution_states(polling),
        },
    }


def definition_text(name: str = REFRESH) -> str:
    """A definition as committed: indented, with what fits in WIDTH columns on one line."""
    return _render(definitions()[name], indent=0, room=WIDTH) + "\n"


def _render(value: Any, *, indent: int, room: int) -> str:
    flat = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    if len(flat) <= room or not isinstance(value, dict | list) or not value:
        return flat
    inner = indent + 2
    pad = " " * inner
    if isinstance(value, list):
        items = [pad + _render(item, indent=inner, room=WIDTH - inner - 1) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"
    fields = []
    for key, item in value.items():
        head = f"{pad}{json.dumps(key, ensure_ascii=False)}: "
        fields.append(head + _render(item, indent=inner, room=WIDTH - len(head) - 1))
    return "{\n" + ",\n".join(fields) + "\n" + " " * indent + "}"
