"""moto's response serializer, with the same output for less work.

Every answer moto gives (a describe call, an execution's history) goes through one generic
serializer, and two of its steps cost far more than they need to, once per member of every
structure it writes:

* **Finding a member's value.** For each member of the output shape, moto builds a context and
  asks six alias providers which keys the value might be under, then tries each. For a plain
  ``dict`` (all the Step Functions interpreter returns) the answer depends only on the member and
  its shape, never on the dict, so it is worked out once and kept.
* **Timestamps.** moto keeps history timestamps as ISO-8601 text and has botocore parse each back
  with dateutil's general-purpose parser before writing it out. Text in the one strict form moto
  writes is read with ``datetime.fromisoformat`` instead; anything else still goes to botocore.

An execution's history of a few thousand events is serialized several times faster; what goes on
the wire is byte for byte the same (tests/local_engine/test_fast_responses.py compares).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from moto.core import serialize
from moto.core.utils import MISSING
from moto.core.utils import get_value as moto_get_value

from local_engine.patching import PatchSet

# The alias providers whose answer, for a plain dict, depends on the member alone: they read the
# dict's class name and whether it has a `Meta`, never its contents.
_DICT_INDEPENDENT_PROVIDERS = frozenset(
    {
        serialize.ExplicitAlias,
        serialize.ShapeNameAlias,
        serialize.NoAlias,
        serialize.ShapePrefixAlias,
        serialize.ClassPrefixAlias,
        serialize.ModelAlias,
    }
)
_KNOWN_PICKERS = frozenset({serialize.AttributePicker, serialize.XFormedAttributePicker})
# What moto's iso_8601_datetime_with_milliseconds writes (and the same without fractions).
_STRICT_ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")

_real_get_value = serialize.ResponseSerializer.get_value
_real_parse_to_aware_datetime = serialize.parse_to_aware_datetime


class _PossibleKeys:
    """The keys a picker tries for one member of a plain dict, in its order, worked out once."""

    def __init__(self) -> None:
        self._keys: dict[tuple[Any, ...], tuple[str, ...]] = {}

    def of(self, picker: Any, value: dict[str, Any], key: str, shape: Any) -> tuple[str, ...] | None:
        """None when the picker's answer might depend on the dict itself (then ask moto)."""
        providers = tuple(picker.alias_providers)
        if type(picker) not in _KNOWN_PICKERS or picker.response_transformers:
            return None
        if not _DICT_INDEPENDENT_PROVIDERS.issuperset(providers):
            return None
        cache_key = (type(picker), providers, key, shape, getattr(shape, "parent", None))
        keys = self._keys.get(cache_key)
        if keys is None:
            context = serialize.AttributePickerContext(obj=value, key=key, shape=shape)
            keys = self._keys[cache_key] = tuple(picker.get_possible_keys(context))
        return keys


def _make_get_value(possible_keys: _PossibleKeys) -> Any:
    def get_value(self: Any, value: Any, key: str, shape: Any) -> Any:
        keys = possible_keys.of(self._value_picker, value, key, shape) if type(value) is dict else None
        if keys is None:
            return _real_get_value(self, value, key, shape)
        for possible_key in keys:
            # moto reads a dotted key as a path; any other key of a dict is a plain look-up.
            found = (
                moto_get_value(value, possible_key, MISSING)
                if "." in possible_key
                else value.get(possible_key, MISSING)
            )
            if found is not MISSING:
                return found
        return None

    return get_value


def parse_to_aware_datetime(value: Any) -> datetime:
    """botocore's parse_to_aware_datetime, reading moto's own ISO-8601 UTC text directly."""
    if isinstance(value, str) and _STRICT_ISO_UTC.fullmatch(value):
        return datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)
    return _real_parse_to_aware_datetime(value)  # type: ignore[no-any-return]


class FastResponses(PatchSet):
    """Installs both shortcuts on moto's serializer; the member cache lives as long as the installation."""

    def _patches_to_apply(self) -> list[Any]:
        return [
            mock.patch.object(serialize.ResponseSerializer, "get_value", _make_get_value(_PossibleKeys())),
            mock.patch.object(serialize, "parse_to_aware_datetime", parse_to_aware_datetime),
        ]
