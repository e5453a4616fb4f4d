r"""Server-side request validation against botocore's ``personalize`` model.

botocore's client-side validator only checks required members, types and
minimums, and the Step Functions interpreter turns even that off
(``parameter_validation=False``), so the emulator re-checks everything the
model states: required members, unknown members, JSON types, enums,
min/max lengths and ranges, and string patterns.

Patterns must match the whole value (like the Java services behind AWS APIs
do), so a jobName such as ``"nightly import"`` is rejected even though the
model's ``^[a-zA-Z0-9][a-zA-Z0-9\-_]*`` has no trailing anchor."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from .errors import invalid_input

try:
    # The model's patterns use \p{...} classes that only the `regex` package
    # understands natively.
    import regex as _regex

    def _compile(pattern: str) -> Callable[[str], Any]:
        return _regex.compile(pattern).fullmatch

except ImportError:  # pragma: no cover - fallback when `regex` is absent
    # Close-enough stand-ins for the classes the personalize model uses.
    _UNICODE_CLASSES = {
        r"\p{ASCII}": r"\x00-\x7F",
        r"\p{L}": r"\w",
        r"\p{N}": r"\d",
        r"\p{Z}": r"\s",
    }

    def _compile(pattern: str) -> Callable[[str], Any]:
        for klass, replacement in _UNICODE_CLASSES.items():
            pattern = pattern.replace(klass, replacement)
        return re.compile(pattern).fullmatch


_MAX_REPORTED = 3


@functools.lru_cache(maxsize=1)
def personalize_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("personalize")


@functools.cache
def _matcher(pattern: str) -> Callable[[str], Any]:
    return _compile(pattern)


@functools.lru_cache(maxsize=4096)
def _matches(pattern: str, value: str) -> bool:
    """Whether `value` matches `pattern` whole; kept, because a poll sends the same ARNs every time and
    patterns such as the ARNs' ``arn:([a-z\\d-]+):personalize:.*:.*:.+`` take long to backtrack."""
    return _matcher(pattern)(value) is not None


class ModelValidator:
    """Validates operation input against a botocore service model."""

    def __init__(self, model: ServiceModel | None = None) -> None:
        self._model = model or personalize_model()

    def validate(self, operation: str, params: Any) -> None:
        """Raise InvalidInputException listing (up to 3) violations, each
        naming the offending parameter path, e.g. ``tags[0].tagKey``."""
        shape = self._model.operation_model(operation).input_shape
        if shape is None:
            return
        problems: list[str] = []
        _check(shape, params, "", problems)
        if problems:
            count = len(problems)
            noun = "error" if count == 1 else "errors"
            shown = "; ".join(problems[:_MAX_REPORTED])
            raise invalid_input(f"{count} validation {noun} detected: {shown}")


def _describe(shape: Shape, value: Any) -> str:
    # Never echo values the model marks sensitive (tag keys/values).
    return "'***'" if shape.metadata.get("sensitive") else repr(value)


def _violation(shape: Shape, value: Any, path: str, constraint: str) -> str:
    return (
        f"Value {_describe(shape, value)} at '{path or 'input'}' failed to satisfy constraint: Member must {constraint}"
    )


def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    checker = _CHECKERS.get(shape.type_name)
    if checker is not None:
        checker(shape, value, path, problems)


def _check_structure(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    assert isinstance(shape, StructureShape)
    if not isinstance(value, dict):
        problems.append(_violation(shape, value, path, "be a structure"))
        return
    for name in shape.required_members:
        if value.get(name) is None:
            problems.append(
                f"Value null at '{_join(path, name)}' failed to satisfy constraint: Member must not be null"
            )
    for name, member_value in value.items():
        member_path = _join(path, name)
        if name not in shape.members:
            problems.append(f"Unknown parameter '{member_path}' in input")
        elif member_value is not None:
            _check(shape.members[name], member_value, member_path, problems)


def _check_size(shape: Shape, value: Any, size: int, path: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        problems.append(_violation(shape, value, path, f"have length greater than or equal to {low}"))
    if high is not None and size > high:
        problems.append(_violation(shape, value, path, f"have length less than or equal to {high}"))


def _check_list(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    assert isinstance(shape, ListShape)
    if not isinstance(value, list):
        problems.append(_violation(shape, value, path, "be a list"))
        return
    _check_size(shape, value, len(value), path, problems)
    for index, item in enumerate(value):
        _check(shape.member, item, f"{path}[{index}]", problems)


def _check_map(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    assert isinstance(shape, MapShape)
    if not isinstance(value, dict):
        problems.append(_violation(shape, value, path, "be a map"))
        return
    _check_size(shape, value, len(value), path, problems)
    for key, item in value.items():
        _check(shape.key, key, f"{path}.{key}(key)", problems)
        _check(shape.value, item, f"{path}.{key}", problems)


def _check_string(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, str):
        problems.append(_violation(shape, value, path, "be a string"))
        return
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        problems.append(_violation(shape, value, path, f"satisfy enum value set: [{', '.join(enum)}]"))
        return
    _check_size(shape, value, len(value), path, problems)
    pattern = shape.metadata.get("pattern")
    if pattern and not _matches(pattern, value):
        problems.append(_violation(shape, value, path, f"satisfy regular expression pattern: {pattern}"))


def _check_range(shape: Shape, value: float, path: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and value < low:
        problems.append(_violation(shape, value, path, f"have value greater than or equal to {low}"))
    if high is not None and value > high:
        problems.append(_violation(shape, value, path, f"have value less than or equal to {high}"))


def _check_integer(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    # bool is an int subclass in Python but a distinct JSON type.
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(_violation(shape, value, path, "be an integer"))
        return
    _check_range(shape, value, path, problems)


def _check_double(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.append(_violation(shape, value, path, "be a number"))
        return
    _check_range(shape, value, path, problems)


def _check_boolean(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, bool):
        problems.append(_violation(shape, value, path, "be a boolean"))


_CHECKERS: dict[str, Callable[[Shape, Any, str, list[str]], None]] = {
    "structure": _check_structure,
    "list": _check_list,
    "map": _check_map,
    "string": _check_string,
    "integer": _check_integer,
    "long": _check_integer,
    "double": _check_double,
    "float": _check_double,
    "boolean": _check_boolean,
}
