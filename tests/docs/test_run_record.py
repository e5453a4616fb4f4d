"""docs/RUN_RECORD.md stays true to the code: its table lists every attribute and status that the Lambdas' run
record module and the state machines' DynamoDB tasks write."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from typing import Any

from infra.workflow import DEFINITION_FILES
from tests.conftest import ROOT

RUN_RECORD = (ROOT / "docs" / "RUN_RECORD.md").read_text(encoding="utf-8")
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9_]*$")
STATUS = re.compile(r"^[A-Z][A-Z_]+$")  # the run's own statuses and phases: RUNNING, IMPORT, ...
UPDATE_TARGET = re.compile(r"(?:SET\s+|,\s*)([\w#.]+)\s*=")


def words_in_backticks(text: str) -> set[str]:
    return {word for quoted in re.findall(r"`([^`]+)`", text) for word in re.findall(r"[A-Za-z_]\w*", quoted)}


def written_by_the_lambdas() -> tuple[set[str], set[str]]:
    """(attributes, statuses) in the code that writes run records (the claim's, then the phases'): dict keys,
    `_update(...)` keywords, item[...] = ...; their statuses and phases are the schema's constants. The claims
    module's functions, the Lambda's actions, return the task's output, not a record."""
    package = ROOT / "lambdas" / "refresh_common"
    claims = ast.parse((package / "claims.py").read_text(encoding="utf-8"))
    run_record = ast.parse((package / "run_record.py").read_text(encoding="utf-8"))
    writers = [node for node in claims.body if not isinstance(node, ast.FunctionDef)] + run_record.body
    tree = ast.Module(body=writers, type_ignores=[])
    schema = ast.parse((package / "schema.py").read_text(encoding="utf-8"))
    constants = dict(_module_constants(schema)) | dict(_module_constants(tree))
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
    """(attributes, statuses) that the DynamoDB tasks of the three definitions (the refresh's, an import's, a
    campaign's) write, and the failure phases they name."""
    definitions = [json.loads(path.read_text(encoding="utf-8")) for path in DEFINITION_FILES.values()]
    attributes: set[str] = set()
    values: set[str] = set()
    for state in (state for definition in definitions for state in _states(definition["States"])):
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
    assert {"ABANDONED", "RUNNING", "IMPORT", "WAITING_FOR_ROOM"} <= lambda_values
    assert {"deployed_solution_version_arn", "failure_reason", "campaign_execution_arn"} <= machine_attributes
    assert {"SUCCEEDED", "FAILED", "TIMED_OUT", "DONE", "CAMPAIGNS"} <= machine_values

    missing = (lambda_attributes | lambda_values | machine_attributes | machine_values) - documented

    assert not missing, f"docs/RUN_RECORD.md's table does not mention {sorted(missing)}"


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
