"""The state machine's definition is what infra/workflow builds."""

from __future__ import annotations

import json

from infra.constants import DEFINITION_FILE
from infra.workflow import definition


def test_the_builder_builds_the_committed_definition() -> None:
    assert definition() == json.loads(DEFINITION_FILE.read_text(encoding="utf-8"))
