"""The state machine's definition is what infra/workflow builds, and the committed file is its output."""

from __future__ import annotations

import json

from infra.workflow import DEFINITION_FILE, definition, definition_text


def test_the_committed_definition_is_what_the_builder_writes() -> None:
    committed = DEFINITION_FILE.read_text(encoding="utf-8")
    assert json.loads(committed) == definition()
    assert committed == definition_text(), "statemachine/refresh.asl.json is stale: run `make definition`"
