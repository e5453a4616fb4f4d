"""json_deepcopy returns what copy.deepcopy returns, and the interpreter uses it only while installed."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.eval import states

from local_engine.fast_copy import COPYING_MODULES, FastCopies, json_deepcopy

SHARED = {"campaign": "shop", "versions": ["a", "b"]}


@pytest.mark.parametrize(
    "value",
    [
        None,
        "text",
        3,
        2.5,
        True,
        [],
        {},
        {"a": [1, {"b": None, "c": [True, 1.5, "x"]}], "d": {"e": {}}},
        [[[]], [{"k": "v"}]],
        {"first": SHARED, "second": SHARED, "list": [SHARED]},
        {"when": datetime(2026, 11, 28, tzinfo=UTC), "pair": (1, [2, 3]), 7: frozenset({1})},
    ],
)
def test_copies_as_deepcopy_does(value: Any) -> None:
    fast, slow = json_deepcopy(value), copy.deepcopy(value)

    assert fast == slow
    assert type(fast) is type(slow)


def test_new_containers_and_shared_ones_stay_shared() -> None:
    original = {"first": SHARED, "second": SHARED, "nested": {"list": [SHARED]}}

    copied = json_deepcopy(original)

    assert copied["first"] is copied["second"] is copied["nested"]["list"][0]
    assert copied["first"] is not SHARED
    assert copied["first"]["versions"] is not SHARED["versions"]
    copied["first"]["versions"].append("c")
    assert SHARED["versions"] == ["a", "b"]


def test_other_objects_inside_are_copied_by_deepcopy() -> None:
    class Box:
        def __init__(self, items: list[int]) -> None:
            self.items = items

    box = Box([1, 2])
    copied = json_deepcopy({"box": box, "again": box})

    assert copied["box"] is copied["again"] is not box
    assert copied["box"].items == [1, 2] and copied["box"].items is not box.items


def test_installed_only_while_installed() -> None:
    with FastCopies():
        assert states.copy.deepcopy is json_deepcopy
    assert all(module.copy is copy for module in COPYING_MODULES)
