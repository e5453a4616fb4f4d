"""Caches for work moto's Step Functions interpreter repeats although its answer never changes.

Without them the interpreter spends most of an execution re-deriving the same things, and a
rehearsal or a benchmark pays for it on every state transition:

* **The definition.** moto parses the state machine's definition (an ANTLR grammar, in pure
  Python) when the state machine is created, and again when each execution starts. The parse is a
  pure function of the definition's text, and the program it yields holds no execution's state:
  an execution keeps everything in its own ``Environment`` (retry counters included, under the
  components' ``heap_key``), which is why moto already runs one program in every iteration of a
  Map at once. So one program per definition text serves every execution.
* **JSONPath expressions.** jsonpath-ng builds a new PLY parser, tables and all, for every
  ``parse`` call, and moto calls it for every path of every state it enters. An expression is a
  pure function of its text and is only read when evaluated.
* **SDK clients.** moto creates a new boto3 client (reading service models and the whole
  environment) for every Task it runs. Its arguments are always the same for a service and
  region, so one client per service and region serves, for as long as one ``mock_aws`` lasts.

The definition and JSONPath caches live as long as the process (their keys are texts, their
values never change); the client cache lives as long as one installation (one LocalAws).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any
from unittest import mock

import boto3
import jsonpath_ng
import jsonpath_ng.ext
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.component import Component
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client, json_path

from local_engine.patching import ModuleShim, PatchSet

# The refresh's definition (60 kB) parses into about 7 MB of program and parse tree: a handful of
# definitions are kept, enough for a state machine's creation and its executions to share one.
PROGRAM_CACHE_SIZE = 16
JSONPATH_CACHE_SIZE = 4096

_real_parse_definition: Callable[[str], Any] = AmazonStateLanguageParser.parse


@lru_cache(maxsize=PROGRAM_CACHE_SIZE)
def parse_definition(definition: str) -> tuple[Any, Any]:
    """moto's parse of a definition: (program, parse tree); a definition moto rejects raises, uncached."""
    program, tree = _real_parse_definition(definition)
    _fix_heap_keys(program)
    return program, tree


def _fix_heap_keys(program: Any) -> None:
    """Draw every component's ``heap_key`` now, while one thread holds the program.

    moto draws a key lazily, on first use, with no lock; two executions sharing the program could
    then draw two keys for one component and lose a retry counter stored under the first.
    """
    for component in _components(program):
        if isinstance(component, EvalComponent):
            _ = component.heap_key


def _components(root: Any) -> Iterator[Component]:
    """Every component reachable from `root` through attributes and containers, once each."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        value = pending.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, Component):
            yield value
            pending.extend(getattr(value, "__dict__", {}).values())
        elif isinstance(value, (list, tuple, set, frozenset)):
            pending.extend(value)
        elif isinstance(value, dict):
            pending.extend(value.values())


@lru_cache(maxsize=JSONPATH_CACHE_SIZE)
def parse_extended_jsonpath(path: str) -> Any:
    """jsonpath-ng's extended parser (filters, arithmetic), as moto's ``extract_json`` uses it."""
    return jsonpath_ng.ext.parse(path)


@lru_cache(maxsize=JSONPATH_CACHE_SIZE)
def parse_jsonpath(path: str) -> Any:
    """jsonpath-ng's basic parser, as moto's ResultPath uses it."""
    return jsonpath_ng.parse(path)


class _ClientCache:
    """``boto3.client`` for moto's ``boto_client_for``: one client per service, region and endpoint."""

    def __init__(self) -> None:
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    def client(self, *args: Any, **kwargs: Any) -> Any:
        key = (kwargs.get("service_name"), kwargs.get("region_name"), kwargs.get("endpoint_url"), *args)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = boto3.client(*args, **kwargs)
            return self._clients[key]


class MotoCaches(PatchSet):
    """Puts the caches in place of moto's repeated work; uninstalling forgets the clients."""

    def _patches_to_apply(self) -> list[Any]:
        clients = _ClientCache()
        return [
            mock.patch.object(AmazonStateLanguageParser, "parse", staticmethod(parse_definition)),
            mock.patch.object(json_path, "parse", parse_extended_jsonpath),
            mock.patch.object(result_path, "parse", parse_jsonpath),
            mock.patch.object(boto_client, "boto3", ModuleShim(boto3, client=clients.client)),
        ]
