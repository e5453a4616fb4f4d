"""The state machine's definition is what infra/workflow builds, and the committed file is its output."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from infra.workflow import DEFINITION_FILE, definition, definition_text


def test_the_committed_definition_is_what_the_builder_writes() -> None:
    committed = DEFINITION_FILE.read_text(encoding="utf-8")
    assert json.loads(committed) == definition()
    assert committed == definition_text(), "statemachine/refresh.asl.json is stale: run `make definition`"


def intrinsic_calls(value: Any) -> Iterator[str]:
    """Every intrinsic function call in a definition: the values of `.$` keys that start with States."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith(".$") and isinstance(item, str) and item.startswith("States."):
                yield item
            else:
                yield from intrinsic_calls(item)
    elif isinstance(value, list):
        for item in value:
            yield from intrinsic_calls(item)


REFERENCE_PATH = re.compile(r"\$\$?(\.[A-Za-z_]\w*|\[\d+\])*")


def test_intrinsic_functions_take_only_reference_paths() -> None:
    """The intrinsic functions page documents paths to one node as arguments; a filter or a wildcard belongs in a
    Parameters or ResultSelector path, whose list the intrinsic then reads."""
    calls = list(intrinsic_calls(definition()))
    assert len(calls) > 10

    for call in calls:
        unquoted = re.sub(r"'(?:[^'\\]|\\.)*'", "''", call)
        for path in re.findall(r"\$[^\s,)]*", unquoted):
            assert REFERENCE_PATH.fullmatch(path), f"{path!r} in {call!r}"
