"""The refresh state machine's definition, built in Python: `statemachine/refresh.asl.json` is its output.

claim -> imports -> campaigns -> run end; states.py has the kinds of state they are made of, retries.py the
retry policies, polling.py the poll loop the three phases share. `python -m infra.workflow` (make definition)
writes the JSON; a test fails when the committed file is not what this builds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import campaigns, claim, imports, run_end
from .polling import PLANNED, Polling, PollLoop

DEFINITION_FILE = Path(__file__).resolve().parents[2] / "statemachine" / "refresh.asl.json"
WIDTH = 120  # columns: a value that fits stays on one line, as a person would write it

COMMENT = "Refresh Amazon Personalize after the Glue export: import, train, deploy; the run table mirrors every status."


POLL_LOOPS: dict[str, PollLoop] = {
    loop.phase: loop for loop in (imports.POLL, campaigns.TRAINING, campaigns.DEPLOYMENT)
}


def definition(polling: Polling = PLANNED) -> dict[str, Any]:
    """The definition as deployed, with ${...} placeholders for CDK's definition_substitutions and no
    TimeoutSeconds (infra/refresh_workflow.py sets it from the configuration); the bench builds it with a
    peer's `polling`."""
    return {
        "Comment": COMMENT,
        "StartAt": claim.START_AT,
        "States": {
            **claim.states(then=imports.START_AT),
            **imports.states(then="Refresh campaigns", polling=polling),
            **run_end.failure_states(),
            **campaigns.states(then=run_end.OUTCOME, on_error=run_end.CAMPAIGNS_FAILED, polling=polling),
            **run_end.outcome_states(),
        },
    }


def definition_text() -> str:
    """The definition as committed: indented, with what fits in WIDTH columns on one line."""
    return _render(definition(), indent=0, room=WIDTH) + "\n"


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
