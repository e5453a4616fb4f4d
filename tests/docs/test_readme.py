"""The README and the reference pages stay true to the code: docs/RUN_RECORD.md lists every attribute and status
the code writes, docs/CONFIGURATION.md gives every limit the validation enforces, the README names every make
target, stack output and dependency, and stays short enough to lead."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from packaging.requirements import Requirement

from docs_tools import configuration_reference as reference
from infra.config import JOB_NAME_MAX, JOB_NAME_PREFIX_MAX
from tests.conftest import ROOT, example_raw

README = (ROOT / "README.md").read_text(encoding="utf-8")
RUN_RECORD = (ROOT / "docs" / "RUN_RECORD.md").read_text(encoding="utf-8")
CONFIGURATION = reference.DOC.read_text(encoding="utf-8")
README_MOST_LINES = 300
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9_]*$")
STATUS = re.compile(r"^[A-Z][A-Z_]+$")  # the run's own statuses and phases: RUNNING, IMPORT, ...
UPDATE_TARGET = re.compile(r"(?:SET\s+|,\s*)([\w#.]+)\s*=")


def section(heading: str, text: str = README) -> str:
    """The README's text (or `text`) from `heading` to the next heading of the same or a higher level."""
    start = text.index(f"\n{heading}\n")
    level = len(heading.split(" ", 1)[0])
    following = re.compile(rf"^#{{1,{level}}} ", re.MULTILINE).search(text, start + len(heading) + 2)
    return text[start : following.start() if following else len(text)]


def words_in_backticks(text: str) -> set[str]:
    return {word for quoted in re.findall(r"`([^`]+)`", text) for word in re.findall(r"[A-Za-z_]\w*", quoted)}


def written_by_the_lambdas() -> tuple[set[str], set[str]]:
    """(attributes, statuses) in the run record module: dict keys, `_update(...)` keywords, item[...] = ..."""
    tree = ast.parse((ROOT / "lambdas" / "refresh_common" / "run_record.py").read_text(encoding="utf-8"))
    constants = dict(_module_constants(tree))
    attributes: set[str] = set()
    values: set[str] = set()

    def note(key: str, value: ast.expr | None) -> None:
        if SNAKE_CASE.match(key):
            attributes.add(key)
            literal = _string(value, constants)
            if literal and STATUS.match(literal):
                values.add(literal)

    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    note(key.value, value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "_update":
            for keyword in node.keywords:
                if keyword.arg:
                    note(keyword.arg, keyword.value)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Subscript) and isinstance(key := _string(target.slice, {}), str):
                    note(key, node.value)
    values |= {value for value in constants.values() if STATUS.match(value)}
    return attributes, values


def written_by_the_state_machine() -> tuple[set[str], set[str]]:
    """(attributes, statuses) that the definition's DynamoDB tasks write, and the failure phases it names."""
    definition = json.loads((ROOT / "statemachine" / "refresh.asl.json").read_text(encoding="utf-8"))
    attributes: set[str] = set()
    values: set[str] = set()
    for state in _states(definition["States"]):
        parameters = state.get("Parameters") or {}
        for field in ("phase", "run_status"):  # a failure's phase, and the status it is recorded with
            if isinstance(parameters.get(field), str):
                values.add(parameters[field])
        if "dynamodb:" not in state.get("Resource", ""):
            continue
        names = parameters.get("ExpressionAttributeNames", {})
        for path in UPDATE_TARGET.findall(parameters.get("UpdateExpression", "")):
            for part in path.split("."):
                # a name given by a path ("#dataset.$") is data, such as a dataset's name, not an attribute
                attributes |= {names[part]} if part in names else set() if part.startswith("#") else {part}
        attributes |= set(parameters.get("Item", {}))
        for value in parameters.get("ExpressionAttributeValues", {}).values():
            # a value given whole by a path (":completed.$") is not a literal status
            if isinstance(value, dict) and STATUS.match(str(value.get("S", ""))):
                values.add(value["S"])
    return attributes, values


def test_the_run_record_table_lists_every_attribute_and_status_the_code_writes() -> None:
    documented = words_in_backticks(RUN_RECORD)
    lambda_attributes, lambda_values = written_by_the_lambdas()
    machine_attributes, machine_values = written_by_the_state_machine()
    # what the reading found, so that the test cannot pass by reading nothing
    assert {"campaign_update_solution_version_arn", "previous_attempts", "updated_at"} <= lambda_attributes
    assert {"ABANDONED", "RUNNING", "IMPORT"} <= lambda_values
    assert {"deployed_solution_version_arn", "failure_reason", "solution_version_updated_at"} <= machine_attributes
    assert {"SUCCEEDED", "FAILED", "TIMED_OUT", "DONE", "CAMPAIGNS"} <= machine_values

    missing = (lambda_attributes | lambda_values | machine_attributes | machine_values) - documented

    assert not missing, f"docs/RUN_RECORD.md's table does not mention {sorted(missing)}"


def test_the_configuration_reference_gives_every_limit_the_validation_enforces() -> None:
    for found in reference.sections():
        name = found.model.__name__
        text = section(f"## {name}", CONFIGURATION)
        rows = {match[1]: match[2] for match in re.finditer(r"^\| `(\w+)` (.*)$", text, re.MULTILINE)}
        assert set(found.model.model_fields) <= set(rows), f"every field of {name} has a row"
        for field_name, field in found.model.model_fields.items():
            bounds = ("ge", "gt", "le", "lt")
            limits = {str(getattr(m, bound)) for m in field.metadata for bound in bounds if hasattr(m, bound)}
            limits |= {str(value) for value in get_args(field.annotation) if isinstance(value, int)}
            for limit in limits:
                assert re.search(rf"\b{limit}\b", rows[field_name]), f"{name}.{field_name}: no limit {limit}"
    top = section("## RefreshConfig", CONFIGURATION)
    assert f"1 to {JOB_NAME_PREFIX_MAX} letters" in top and f"{JOB_NAME_MAX} characters" in top
    assert "Personalize cannot use a role of another account" in top


def test_every_make_target_and_stack_output_is_named() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    (phony,) = re.findall(r"^\.PHONY: (.*)$", makefile, re.MULTILINE)
    stack = (ROOT / "infra" / "stack.py").read_text(encoding="utf-8")
    outputs = re.findall(r'CfnOutput\(\s*self,\s*"(\w+)"', stack)
    assert {"StateMachineArn", "AlertSubscription"} <= set(outputs), "the stack's outputs were found"

    assert [target for target in phony.split() if f"make {target}" not in README] == []
    assert [output for output in outputs if f"`{output}`" not in README] == []
    assert "-c stack_name=" in README


def test_the_readme_says_why_each_pinned_dependency_is_there() -> None:
    dependencies = section("## Dependencies, and why each is there")
    explained = {name.lower() for name in re.findall(r"\*\*([\w.-]+)\*\*", dependencies)}
    pinned = [
        Requirement(line).name.lower()
        for file_name in ("requirements.txt", "requirements-dev.txt")
        for line in (ROOT / file_name).read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith(("#", "-r"))
    ]
    assert "aws-cdk-lib" in pinned and "moto" in pinned, "the requirements were read"

    assert [name for name in pinned if name not in explained] == []


def test_the_configuration_error_shown_is_what_cdk_synth_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app

    shown = re.findall(r"^```\n(cdk synth: .*)\n```$", section("## Configure"), re.MULTILINE)
    assert len(shown) == 1, "the README shows one error of cdk synth"
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "my-shop.json").write_text(json.dumps({**example_raw(), "time_zone": "Seoul"}))
    monkeypatch.chdir(tmp_path)
    # `cdk synth -c config=config/my-shop.json` (the CLI's -c reaches the app as its context)
    app_with_context = app.cdk.App
    monkeypatch.setattr(app.cdk, "App", lambda: app_with_context(context={"config": "config/my-shop.json"}))

    with pytest.raises(SystemExit) as exited:
        app.main()

    assert exited.value.code == shown[0]


def test_the_readme_leads_in_at_most_300_lines() -> None:
    lines = len(README.splitlines())

    assert lines <= README_MOST_LINES, (
        f"README.md has {lines} lines: keep it to what a newcomer needs first, and move the rest to docs/"
    )


def _states(states: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for state in states.values():
        yield state
        processor = state.get("ItemProcessor") or state.get("Iterator")
        for branch in [processor] if processor else state.get("Branches", []):
            yield from _states(branch["States"])


def _module_constants(tree: ast.Module) -> Iterator[tuple[str, str]]:
    """NAME = "VALUE" and NAME, OTHER = "VALUE", "OTHER" at module level."""
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            pairs = (
                zip(target.elts, node.value.elts, strict=False)
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
                else [(target, node.value)]
            )
            for name, value in pairs:
                if isinstance(name, ast.Name) and isinstance(value, ast.Constant) and isinstance(value.value, str):
                    yield name.id, value.value


def _string(node: ast.expr | None, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None
