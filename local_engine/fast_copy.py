"""``copy.deepcopy`` for moto's interpreter, with a short way through JSON values.

The interpreter copies a state's whole input whenever it reads it (each InputPath, each ``.$``
parameter, each Choice variable) and again when it hands it on, so that no state can change
another's data. Those values are JSON: dicts, lists and scalars. ``copy.deepcopy`` treats each
one as an arbitrary object (a dispatch table, a memo entry and a keep-alive entry per dict,
list and string), which made copying the refresh's input the largest single cost of a state
transition.

:func:`json_deepcopy` copies dicts and lists itself and hands anything else to
``copy.deepcopy``, with the same memo, so the result is what ``copy.deepcopy`` returns: new
dicts and lists, shared immutable scalars, and a container that appears twice in the original
appearing twice, as one copy, in the result.
"""

from __future__ import annotations

import copy
from types import ModuleType
from typing import Any
from unittest import mock

from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.common.string import string_expression
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.exec.state_map import state_map
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import job
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service
from moto.stepfunctions.parser.asl.eval import environment, states
from moto.stepfunctions.parser.asl.eval.event import event_manager

from local_engine.patching import ModuleShim, PatchSet

# The modules whose copies run on every state transition (or every history read).
COPYING_MODULES: tuple[ModuleType, ...] = (
    states,
    string_expression,
    execute_state,
    result_path,
    environment,
    state_task_service,
    state_map,
    job,
    event_manager,
)

# deepcopy returns these unchanged: immutable, and holding nothing that could be copied.
_ATOMIC = frozenset({str, int, float, bool, type(None)})


def json_deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """``copy.deepcopy(value)``, faster when `value` is made of dicts, lists and scalars."""
    kind = type(value)
    if kind in _ATOMIC:
        return value
    if memo is None:
        memo = {}
    copied = memo.get(id(value))
    if copied is not None:
        return copied
    # Scalars, most of any JSON value, are taken as they are without a call per scalar.
    if kind is dict:
        copied = memo[id(value)] = {}
        for key, item in value.items():
            if type(key) not in _ATOMIC:
                key = json_deepcopy(key, memo)
            copied[key] = item if type(item) in _ATOMIC else json_deepcopy(item, memo)
        return copied
    if kind is list:
        copied = memo[id(value)] = []
        for item in value:
            copied.append(item if type(item) in _ATOMIC else json_deepcopy(item, memo))
        return copied
    return copy.deepcopy(value, memo)


class FastCopies(PatchSet):
    """Gives the interpreter's modules a ``copy`` whose ``deepcopy`` is :func:`json_deepcopy`."""

    def _patches_to_apply(self) -> list[Any]:
        copy_shim = ModuleShim(copy, deepcopy=json_deepcopy)
        return [mock.patch.object(module, "copy", copy_shim) for module in COPYING_MODULES]
