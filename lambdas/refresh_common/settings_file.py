"""A settings file of the function's code package, read so that whatever is wrong with it is named: the file,
and the field with its path (`campaigns[2].solution_arn`).

The stack writes the files into the code package at synth (infra/lambda_code.py); the Lambda runtime unpacks
the package into LAMBDA_TASK_ROOT. A missing or malformed file is a deployment problem: InvalidSettings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .environment import TABLE_VARIABLE, TASK_ROOT_VARIABLE
from .errors import InvalidSettings

# The folder above this package: the root of the code package, as deployed (where the runtime sets
# LAMBDA_TASK_ROOT) and as bundled.
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
_REQUIRED: Any = object()


def settings_path(name: str, environ: Mapping[str, str] = os.environ) -> Path:
    """Where the function's code package holds the settings file `name`."""
    return Path(environ.get(TASK_ROOT_VARIABLE) or PACKAGE_ROOT) / name


def read_settings_file(name: str, environ: Mapping[str, str] = os.environ) -> Fields:
    """The settings file `name` of the code package, as a JSON object whose fields name themselves when wrong."""
    path = settings_path(name, environ)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidSettings(
            f"{path}: no such settings file: the code package must hold it (the stack writes it at synth)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidSettings(f"{path}: cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InvalidSettings(f"{path}: not valid JSON: {exc}") from None
    return Fields(raw, source=str(path))


def table_name(environ: Mapping[str, str] = os.environ) -> str:
    name = environ.get(TABLE_VARIABLE)
    if not name:
        raise InvalidSettings(f"environment variable {TABLE_VARIABLE} is not set: the stack sets the run table's name")
    return name


class Fields:
    """One JSON object of a settings file. Each accessor reads a field and checks its type; a field that is
    missing or of the wrong type raises InvalidSettings naming the file and the field's path."""

    def __init__(self, raw: Any, *, source: str, path: str = "") -> None:
        self.source = source
        self.path = path
        if not isinstance(raw, dict):
            raise self._invalid(path or "the file", f"expected a JSON object, got {_kind(raw)}")
        self.raw: dict[str, Any] = raw

    def text(self, key: str, default: Any = _REQUIRED) -> str:
        return self._typed(key, default, str, "a string")

    def integer(self, key: str, default: Any = _REQUIRED) -> int:
        return self._typed(key, default, int, "an integer")

    def number(self, key: str, default: Any = _REQUIRED) -> float:
        return float(self._typed(key, default, (int, float), "a number"))

    def optional_number(self, key: str) -> float | None:
        value = self._typed(key, None, (int, float), "a number or null")
        return None if value is None else float(value)

    def optional_integer(self, key: str) -> int | None:
        return self._typed(key, None, int, "an integer or null")  # type: ignore[no-any-return]

    def texts(self, key: str) -> tuple[str, ...]:
        values = self._typed(key, _REQUIRED, list, "a list of strings")
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise self._invalid(f"{self._name(key)}[{index}]", f"expected a string, got {_kind(value)}")
        return tuple(values)

    def fields(self, key: str, default: Any = _REQUIRED) -> Fields:
        value = self._typed(key, default, dict, "a JSON object")
        return Fields(value, source=self.source, path=self._name(key))

    def optional_fields(self, key: str) -> Fields | None:
        value = self._typed(key, None, dict, "a JSON object or null")
        return None if value is None else Fields(value, source=self.source, path=self._name(key))

    def list_of_fields(self, key: str) -> list[Fields]:
        values = self._typed(key, _REQUIRED, list, "a list of JSON objects")
        return [Fields(value, source=self.source, path=f"{self._name(key)}[{i}]") for i, value in enumerate(values)]

    def only(self, *keys: str) -> None:
        """Refuse fields other than `keys`: settings written by another version of the stack than this code's."""
        unknown = sorted(set(self.raw) - set(keys))
        if unknown:
            raise self._invalid(self._name(unknown[0]), "unknown field (settings and code of different versions?)")

    def _typed(self, key: str, default: Any, kind: type | tuple[type, ...], expected: str) -> Any:
        if key not in self.raw:
            if default is _REQUIRED:
                raise self._invalid(self._name(key), "missing")
            return default
        value = self.raw[key]
        if value is None and default is None:
            return None
        if isinstance(value, bool) or not isinstance(value, kind):
            raise self._invalid(self._name(key), f"expected {expected}, got {_kind(value)}")
        return value

    def _name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _invalid(self, field: str, problem: str) -> InvalidSettings:
        return InvalidSettings(f"{self.source}: {field}: {problem}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    text = json.dumps(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"
