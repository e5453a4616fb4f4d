"""docs/CONFIGURATION.md is what `make config-reference` writes from the configuration model; every field says
what it does, and the limits the page gives are the ones the model enforces."""

from __future__ import annotations

import difflib
import json
import re
from typing import Any, Literal, get_args

import pytest
from pydantic import BaseModel, ConfigDict, Field

from docs_tools import configuration_reference as reference
from infra.config import JOB_NAME_MAX, JOB_NAME_PREFIX_MAX, Polling, RefreshConfig, parse_config

PAGE = reference.DOC.read_text(encoding="utf-8") if reference.DOC.exists() else ""


def rows(page: str, model: str) -> dict[str, list[str]]:
    """The table of a model's section: field name -> [type, default, limits, effect]."""
    section = page.split(f"\n## {model}\n", 1)[1].split("\n## ", 1)[0]
    found = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
            found[cells[0].strip("`")] = cells[1:]
    return found


def test_the_committed_page_is_what_the_model_generates() -> None:
    generated = reference.render()

    stale = list(difflib.unified_diff(PAGE.splitlines(), generated.splitlines(), "committed", "generated", lineterm=""))
    assert not stale, f"docs/CONFIGURATION.md is out of date: run `{reference.COMMAND}`\n" + "\n".join(stale[:40])


def test_every_field_of_every_model_has_a_docstring() -> None:
    missing = reference.undocumented()

    assert missing == [], (
        f"give each of these a docstring directly beneath it saying what it does, then run `{reference.COMMAND}`: "
        + ", ".join(missing)
    )


def test_every_model_has_a_section_with_a_row_per_field_and_is_linked_from_where_it_is_used() -> None:
    sections = reference.sections()

    assert [section.model.__name__ for section in sections] == [
        "RefreshConfig",
        "Dataset",
        "Campaign",
        "TrainingPolicy",
        "QualityGate",
        "MetricRule",
        "Polling",
        "PhaseTimeouts",
    ]
    for section in sections:
        assert list(rows(PAGE, section.model.__name__)) == list(section.model.model_fields)
    assert rows(PAGE, "RefreshConfig")["polling"][0] == "[Polling](#polling)"
    assert rows(PAGE, "Campaign")["quality_gate"][0] == "[QualityGate](#qualitygate) or null"
    assert rows(PAGE, "QualityGate")["rules"][0] == "list of [MetricRule](#metricrule)"


def test_required_fields_are_marked_and_defaults_are_the_models() -> None:
    top = rows(PAGE, "RefreshConfig")

    required = [name for name, cells in top.items() if cells[1] == "**required**"]
    assert required == [name for name, info in RefreshConfig.model_fields.items() if info.is_required()]
    assert top["time_zone"][1] == '`"UTC"`'
    assert top["alert_email"][1] == "not set"
    assert rows(PAGE, "Polling")["dense_seconds"][1] == "`60`"


def test_the_limits_shown_are_the_models() -> None:
    growth = Polling.model_fields["growth"].metadata
    bounds = {type(item).__name__: item for item in growth}
    assert (bounds["Ge"].ge, bounds["Le"].le) == (1.01, 4)

    assert rows(PAGE, "Polling")["growth"][2] == "1.01 to 4"
    assert rows(PAGE, "PhaseTimeouts")["import_hours"][2] == "above 0, up to 72"
    assert rows(PAGE, "MetricRule")["min_value"][2] == "0 or more"
    assert rows(PAGE, "RefreshConfig")["log_retention_days"][2] == "one of `30`, `60`, `90`, `180`, `365`, `731`"
    assert rows(PAGE, "RefreshConfig")["glue_job_names"][2].startswith("at least 1 item; each: a Glue job name")
    assert rows(PAGE, "RefreshConfig")["time_zone"][2].startswith("an IANA time zone name")
    assert f"1 to {JOB_NAME_PREFIX_MAX} letters" in rows(PAGE, "RefreshConfig")["job_name_prefix"][2]


def test_the_configuration_reference_gives_every_limit_the_validation_enforces() -> None:
    for found in reference.sections():
        name = found.model.__name__
        cells = rows(PAGE, name)
        assert set(found.model.model_fields) <= set(cells), f"every field of {name} has a row"
        for field_name, field in found.model.model_fields.items():
            bounds = ("ge", "gt", "le", "lt")
            limits = {str(getattr(m, bound)) for m in field.metadata for bound in bounds if hasattr(m, bound)}
            limits |= {str(value) for value in get_args(field.annotation) if isinstance(value, int)}
            for limit in limits:
                assert re.search(rf"\b{limit}\b", cells[field_name][2]), f"{name}.{field_name}: no limit {limit}"
    top = PAGE.split("\n## RefreshConfig\n", 1)[1].split("\n## ", 1)[0]
    assert f"1 to {JOB_NAME_PREFIX_MAX} letters" in top and f"{JOB_NAME_MAX} characters" in top
    assert "Personalize cannot use a role of another account" in top


def test_each_model_lists_its_rules_across_fields() -> None:
    top = PAGE.split("\n## RefreshConfig\n", 1)[1]

    assert "History budget" in top and "25,000" in top and "20,000" in top
    assert "Rules: give `max_drop_percent`, `min_value` or both." in PAGE
    assert "Rules: each phase's `*_seconds` is at least `dense_seconds`." in PAGE


def test_the_minimal_configuration_shown_is_valid() -> None:
    example = json.loads(reference.EXAMPLE.read_text(encoding="utf-8"))
    minimal = reference.minimal(example, RefreshConfig)

    assert parse_config(minimal).time_zone == "UTC"
    assert json.dumps(minimal, indent=2) in PAGE


# A model the page has not seen: a field added later shows up by itself, and one without a docstring is named.


class _Documented(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class Threshold(_Documented):
    """How stale the data may be."""

    hours: float = Field(48, gt=0, le=24 * 30)
    """Hours after which the data counts as stale."""
    action: Literal["warn", "fail"] = "warn"


class Extended(_Documented):
    """A configuration with a field added."""

    staleness: Threshold | None = None
    """When set, how stale the data may be before a run warns or fails."""
    names: list[str] = Field(min_length=2)
    """Two names at least."""


def test_a_new_field_shows_up_with_its_type_default_limits_and_effect() -> None:
    page = reference.render(Extended, example="{}")

    assert rows(page, "Extended")["staleness"] == [
        "[Threshold](#threshold) or null",
        "not set",
        "-",
        "When set, how stale the data may be before a run warns or fails.",
    ]
    assert rows(page, "Extended")["names"][:3] == ["list of string", "**required**", "at least 2 items"]
    assert rows(page, "Threshold")["hours"] == [
        "number",
        "`48`",
        "above 0, up to 720",
        "Hours after which the data counts as stale.",
    ]
    assert "Where: `staleness`." in page


def test_a_field_without_a_docstring_is_named() -> None:
    assert reference.undocumented(Extended) == ["Threshold.action"]
    assert rows(reference.render(Extended, example="{}"), "Threshold")["action"][3] == reference.UNDOCUMENTED


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"ge": 1, "le": 365}, ["1 to 365"]),
        ({"gt": 0, "le": 72}, ["above 0, up to 72"]),
        ({"ge": 0}, ["0 or more"]),
        ({"le": 5}, ["at most 5"]),
        ({"gt": 0, "lt": 1.5}, ["above 0, under 1.5"]),
        ({"min_length": 1, "max_length": 3}, ["at least 1 item", "at most 3 items"]),
    ],
)
def test_constraints_in_words(metadata: dict[str, Any], expected: list[str]) -> None:
    info = Field(**metadata)

    assert reference.constraints(list(info.metadata), items=True) == expected
