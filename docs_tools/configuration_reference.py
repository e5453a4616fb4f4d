"""Writes the configuration reference, docs/CONFIGURATION.md, from the model in infra/config.py.

    python -m docs_tools.configuration_reference           # writes docs/CONFIGURATION.md
    python -m docs_tools.configuration_reference --check   # exits 1 when the committed file is not what it would write

Every model reachable from RefreshConfig gets a section: its docstring (what it is, and the rules across its
fields), then one row per field with its type, default, limits and effect. Limits come from the field's
constraints (ge, gt, le, lt, min_length, max_length), its Literal choices, and what each custom check accepts
(its validator's docstring); the effect is the docstring beneath the field. A field added to a model shows up
by itself.
"""

from __future__ import annotations

import inspect
import json
import sys
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import AfterValidator, BaseModel
from pydantic.fields import FieldInfo

from infra.config import RefreshConfig

from . import ROOT, generate

DOC = ROOT / "docs" / "CONFIGURATION.md"
EXAMPLE = ROOT / "config" / "example.json"
COMMAND = "make config-reference"
UNDOCUMENTED = "**undocumented**"

_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


@dataclass(frozen=True)
class Section:
    """One model, and where it sits in a configuration file (`campaigns[].training`; empty: the top level)."""

    model: type[BaseModel]
    where: str


def sections(root: type[BaseModel] = RefreshConfig) -> list[Section]:
    """The root model and every model its fields hold, depth first in the order of the fields."""
    found: list[Section] = []

    def visit(model: type[BaseModel], where: str) -> None:
        if any(section.model is model for section in found):
            return
        found.append(Section(model, where))
        for name, info in model.model_fields.items():
            for inner, suffix in _models_in(info.annotation):
                visit(inner, f"{where}.{name}{suffix}" if where else f"{name}{suffix}")

    visit(root, "")
    return found


def _models_in(annotation: Any, suffix: str = "") -> Iterator[tuple[type[BaseModel], str]]:
    """The models a field's type holds, each with `[]` for every list it sits in."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, suffix
        return
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        yield from _models_in(args[0], suffix)
    elif origin is list:
        yield from _models_in(args[0], f"{suffix}[]")
    elif origin in (Union, types.UnionType):
        for arg in args:
            yield from _models_in(arg, suffix)


def anchor(model: type[BaseModel]) -> str:
    """The model's section in the page, as GitHub names a heading's anchor."""
    return f"#{model.__name__.lower()}"


def type_text(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return type_text(args[0])
    if origin in (Union, types.UnionType):
        kinds = [type_text(arg) for arg in args if arg is not type(None)]
        return " or ".join(kinds) + (" or null" if type(None) in args else "")
    if origin is list:
        return f"list of {type_text(args[0])}"
    if origin is Literal:
        return " or ".join(dict.fromkeys(_SCALARS.get(type(arg), type(arg).__name__) for arg in args))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}]({anchor(annotation)})"
    if isinstance(annotation, type):
        return _SCALARS.get(annotation, annotation.__name__)
    return str(annotation)


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _bound(metadata: list[Any], name: str) -> Any:
    """A constraint's value (`ge`, `gt`, `le`, `lt`, `min_length`, `max_length`), or None."""
    for item in metadata:
        if isinstance(item, annotated_types.BaseMetadata) and getattr(item, name, None) is not None:
            return getattr(item, name)
    return None


def constraints(metadata: list[Any], *, items: bool = False) -> list[str]:
    """Field constraints in words: `1 to 365`, `above 0, up to 72`, `at least 1 item`."""
    ge, gt, le, lt = (_bound(metadata, name) for name in ("ge", "gt", "le", "lt"))
    words: list[str] = []
    if ge is not None and le is not None:
        words.append(f"{_number(ge)} to {_number(le)}")
    else:
        parts = [f"{_number(ge)} or more"] if ge is not None else [f"above {_number(gt)}"] if gt is not None else []
        if le is not None:
            parts.append(f"up to {_number(le)}" if parts else f"at most {_number(le)}")
        if lt is not None:
            parts.append(f"under {_number(lt)}")
        words += [", ".join(parts)] if parts else []
    unit = "item" if items else "character"
    for name, word in (("min_length", "at least"), ("max_length", "at most")):
        count = _bound(metadata, name)
        if count is not None:
            words.append(f"{word} {count} {unit}{'s' if count != 1 else ''}")
    return words


def accepts(annotation: Any, metadata: Sequence[Any] = ()) -> list[str]:
    """What the type allows, beyond its constraints: Literal choices, and each custom check's own words."""
    words = [_validator_text(item) for item in metadata if isinstance(item, AfterValidator)]
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        words += accepts(args[0], list(args[1:]))
    elif origin in (Union, types.UnionType):
        for arg in args:
            words += accepts(arg)
    elif origin is list:
        words += [f"each: {text}" for text in accepts(args[0])]
    elif origin is Literal:
        words.append("one of " + ", ".join(f"`{arg}`" for arg in args))
    return [text for text in words if text]


def _validator_text(validator: AfterValidator) -> str:
    doc = inspect.getdoc(validator.func)
    return " ".join(doc.split()) if doc else ""


def limits(info: FieldInfo) -> str:
    is_list = get_origin(info.annotation) is list
    words = constraints(list(info.metadata), items=is_list) + accepts(info.annotation, list(info.metadata))
    return "; ".join(words) or "-"


def default(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "not set"
    if isinstance(value, BaseModel):
        changed = value.model_dump(mode="json", exclude_defaults=True)
        return f"`{json.dumps(changed)}`" if changed else f"[its fields' defaults]({anchor(type(value))})"
    return f"`{json.dumps(value)}`"


def effect(info: FieldInfo) -> str:
    return " ".join(info.description.split()) if info.description else UNDOCUMENTED


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(model: type[BaseModel]) -> list[str]:
    lines = ["| field | type | default | limits | effect |", "|---|---|---|---|---|"]
    for name, info in model.model_fields.items():
        cells = [f"`{name}`", type_text(info.annotation), default(info), limits(info), effect(info)]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return lines


def minimal(raw: Any, model: type[BaseModel]) -> Any:
    """`raw` with only what `model` requires, recursively: the least a configuration must say."""
    kept = {}
    for name, info in model.model_fields.items():
        if not info.is_required() or name not in raw:
            continue
        inner = [found for found, _ in _models_in(info.annotation)]
        value = raw[name]
        if inner and isinstance(value, list):
            value = [minimal(item, inner[0]) for item in value]
        elif inner and isinstance(value, dict):
            value = minimal(value, inner[0])
        kept[name] = value
    return kept


def render(root: type[BaseModel] = RefreshConfig, example: str | None = None) -> str:
    """docs/CONFIGURATION.md for the model `root` and the example configuration's text."""
    example = EXAMPLE.read_text(encoding="utf-8") if example is None else example
    config = root.model_config
    lines = [
        "# Configuration reference",
        "",
        f"Generated from the configuration model (`infra/config.py`) by `{COMMAND}`"
        " (`python -m docs_tools.configuration_reference`); do not edit by hand: a unit test fails when it is out of"
        " date.",
        "",
        "`app.py` loads the JSON file named by the CDK context key `config` (default `config/example.json`) and"
        " checks it before anything is built: a bad value fails `cdk synth` with one line per problem, naming the"
        " file and the field.",
    ]
    notes = []
    if config.get("extra") == "forbid":
        notes.append("a field the model does not know is refused (check the spelling)")
    if config.get("str_strip_whitespace"):
        notes.append("spaces around a string are dropped")
    if notes:
        lines += ["", f"In every object, {' and '.join(notes)}."]
    lines += ["", "Sections:", ""]
    for section in sections(root):
        where = f"`{section.where}`" if section.where else "the top level"
        lines.append(f"- [{section.model.__name__}]({anchor(section.model)}): {where}")
    lines += [
        "",
        "## Examples",
        "",
        "A complete example, [config/example.json](../config/example.json):",
        "",
        "```json",
        example.rstrip("\n"),
        "```",
        "",
        "The least a configuration must say (the example's required fields; everything else takes its default):",
        "",
        "```json",
        json.dumps(minimal(json.loads(example), root), indent=2),
        "```",
    ]
    for section in sections(root):
        where = f"`{section.where}`" if section.where else "the top level of the file"
        doc = inspect.cleandoc(section.model.__doc__ or "")
        lines += ["", f"## {section.model.__name__}", "", f"Where: {where}.", "", doc, "", *table(section.model)]
    return "\n".join(lines) + "\n"


def undocumented(root: type[BaseModel] = RefreshConfig) -> list[str]:
    """`Model.field` for every field without a docstring, and `Model` for every model without one."""
    missing = []
    for section in sections(root):
        if not (section.model.__doc__ or "").strip():
            missing.append(section.model.__name__)
        missing += [
            f"{section.model.__name__}.{name}"
            for name, info in section.model.model_fields.items()
            if not info.description
        ]
    return missing


def main(argv: list[str] | None = None) -> int:
    description = (__doc__ or "").split("\n\n")[0]
    program = "python -m docs_tools.configuration_reference"
    if generate(argv, program=program, description=description, doc=DOC, command=COMMAND, render=render):
        for name in undocumented():
            print(f"warning: {name} has no docstring", file=sys.stderr)
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
