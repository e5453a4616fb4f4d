"""docs/RUNBOOK.md stays true to the code: every failure the pipeline can record or end an execution with has an
entry, and every `personalize-refresh` command it tells an operator to run exists, with the options it gives.

The failures are read from where they are made, so a new one without a runbook entry fails a test named after it:
the Fail states of the three definitions (the refresh's, an import's, a campaign's) and the errors their failure
states record, the errors their task states retry (what
outlasts the retries is recorded), the exception classes the Lambdas raise, the ends the run function records for
an execution that ended without its own failure path, the errors the operator CLI writes, and what each fault of
the reliability catalog ends in."""

from __future__ import annotations

import ast
import json
import re
import shlex
from collections.abc import Iterator
from typing import Any

import click
import pytest

from infra.workflow import DEFINITION_FILES
from operations.cli import cli
from reliability.catalog import FAULTS
from tests.conftest import ROOT

RUNBOOK = (ROOT / "docs" / "RUNBOOK.md").read_text(encoding="utf-8")
# The refresh's, an import's and a campaign's: a run's failures are made in all three.
DEFINITIONS = [json.loads(path.read_text(encoding="utf-8")) for path in DEFINITION_FILES.values()]
PROGRAM = "personalize-refresh"
# Tasks whose every error is caught and the run goes on (stage events, alerts): what they retry never ends a run.
NEVER_END_A_RUN = ("arn:aws:states:::events:putEvents", "arn:aws:states:::sns:publish")
FENCED = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


# What the code can record -----------------------------------------------------------------------------


def _all_states() -> Iterator[dict[str, Any]]:
    for definition in DEFINITIONS:
        yield from _states(definition["States"])


def _states(states: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for state in states.values():
        yield state
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from _states(processor["States"])
        for branch in state.get("Branches", []):
            yield from _states(branch["States"])


def fail_state_errors() -> set[str]:
    """The fixed error names of the definitions' Fail states."""
    return {state["Error"] for state in _all_states() if state["Type"] == "Fail" and "Error" in state}


def recorded_by_the_definition() -> set[str]:
    """The error names the definitions' failure states give a failure (`failure_error`, and the error of the Fail
    states that end with the failure's own: `ErrorPath`)."""
    errors = set()
    for state in _all_states():
        error = (state.get("Parameters") or {}).get("error") if state["Type"] == "Pass" else None
        if isinstance(error, str):
            errors.add(error)
    return errors


def retried_by_the_definition() -> set[str]:
    """The errors the definitions' tasks retry: what outlasts the retries is caught and recorded under its name."""
    return {
        error
        for state in _all_states()
        if state["Type"] == "Task" and state.get("Resource") not in NEVER_END_A_RUN
        for retry in state.get("Retry", [])
        for error in retry["ErrorEquals"]
        if error != "States.ALL"
    }


def raised_by_the_lambdas() -> set[str]:
    """The exception classes of lambdas/refresh_common/errors.py: their names are the error names a task fails with."""
    tree = ast.parse((ROOT / "lambdas" / "refresh_common" / "errors.py").read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.ClassDef)}


def closed_by_the_run_function() -> set[str]:
    """The errors the run function's `close` records for an execution that ended without naming one (`_ENDS`)."""
    tree = ast.parse((ROOT / "lambdas" / "refresh_common" / "claims.py").read_text(encoding="utf-8"))
    (ends,) = [
        node.value
        for node in tree.body
        if isinstance(node, ast.AnnAssign | ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "_ENDS" for t in _targets(node))
    ]
    assert isinstance(ends, ast.Dict)
    return {error for value in ends.values if isinstance(value, ast.Tuple) and (error := _text(value.elts[0]))}


def written_by_the_cli() -> set[str]:
    """The error names the operator CLI gives: `error=` of a stop, `"error":` of an end it records itself."""
    errors: set[str] = set()
    for path in sorted((ROOT / "operations").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            pairs: list[tuple[str | None, ast.expr | None]] = []
            if isinstance(node, ast.Call):
                pairs = [(keyword.arg, keyword.value) for keyword in node.keywords]
            elif isinstance(node, ast.Dict):
                pairs = [(_text(key), value) for key, value in zip(node.keys, node.values, strict=True)]
            errors |= {text for key, value in pairs if key == "error" and (text := _text(value))}
    return errors


def ended_in_the_reliability_catalog() -> set[str]:
    """What each fault of reliability/catalog.py ends in: the records' errors and the executions' errors."""
    errors = set()
    for fault in FAULTS:
        expected = fault.expected
        for record in (expected.record, *expected.campaigns.values()):
            if record.error:
                errors.add(record.error)
        errors |= {end.split("/", 1)[1] for end in expected.executions if "/" in end}
    return errors


def _targets(node: ast.AnnAssign | ast.Assign) -> list[ast.expr]:
    return [node.target] if isinstance(node, ast.AnnAssign) else list(node.targets)


def _text(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


SOURCES = {
    "a Fail state of the definition": fail_state_errors(),
    "a failure state of the definition": recorded_by_the_definition(),
    "a Retry of the definition (recorded when it outlasts the retries)": retried_by_the_definition(),
    "lambdas/refresh_common/errors.py": raised_by_the_lambdas(),
    "start_import.close (an end recorded from the execution's status change)": closed_by_the_run_function(),
    "the operator CLI": written_by_the_cli(),
    "reliability/catalog.py": ended_in_the_reliability_catalog(),
}
FAILURES = sorted({(name, source) for source, names in SOURCES.items() for name in names})
STATUSES = ("GATED", "SKIPPED", "ABANDONED", "TIMED_OUT", "ABORTED")


# What the runbook says --------------------------------------------------------------------------------


def _prose() -> str:
    return FENCED.sub("", RUNBOOK)


def entries() -> str:
    """The runbook's headings and bolded names, where a failure has its entry."""
    prose = _prose()
    return "\n".join(re.findall(r"^#{1,6} (.+)$", prose, re.MULTILINE) + re.findall(r"\*\*(.+?)\*\*", prose))


def cli_lines() -> Iterator[str]:
    """Every `personalize-refresh ...` the runbook gives: lines of its code blocks (continuations joined), and
    inline code that starts with the program or with one of its commands."""
    for block in FENCED.findall(RUNBOOK):
        for line in block.replace("\\\n", " ").splitlines()[1:-1]:
            if PROGRAM in line:
                yield line[line.index(PROGRAM) :]
    for span in re.findall(r"`([^`\n]+)`", _prose()):
        if span.startswith(PROGRAM):
            yield span
        elif span.split(" ", 1)[0] in cli.commands and " --" in span:
            yield f"{PROGRAM} {span}"


def _words(line: str) -> list[str]:
    """The program's arguments in a shell line: up to a pipe, redirection, `;` or `&&`; comments dropped."""
    lexer = shlex.shlex(line.replace("[", " ").replace("]", " "), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = []
    for word in list(lexer)[1:]:
        if word and set(word) <= set("|&;<>()"):
            break
        words.append(word)
    return words


# The tests --------------------------------------------------------------------------------------------


def test_the_enumerations_read_what_the_code_makes() -> None:
    """So that the entries test cannot pass by reading nothing."""
    assert {"ImportJobFailed", "ClaimFailed", "RefreshFailed", "ImportExecutionFailed"} <= fail_state_errors()
    assert {"TrainingFailed", "DeploymentTimedOut", "ExecutionTimedOut"} <= recorded_by_the_definition()
    assert {"LimitExceededException", "States.Timeout", "StepFunctions.ExecutionLimitExceededException"} <= (
        retried_by_the_definition()
    )
    assert {"ImportRefused", "AutomationConflict", "ImportRoomExhausted"} <= raised_by_the_lambdas()
    assert closed_by_the_run_function() == {"ExecutionTimedOut", "ExecutionAborted", "ExecutionFailed"}
    assert {"StoppedByOperator", "ExecutionNotFound"} <= written_by_the_cli()
    assert {"Runtime.ExitError", "States.Runtime", "ImportExecutionFailed"} <= ended_in_the_reliability_catalog()


@pytest.mark.parametrize(("name", "source"), FAILURES, ids=[name for name, _ in FAILURES])
def test_every_failure_has_an_entry(name: str, source: str) -> None:
    assert re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", entries()), (
        f"docs/RUNBOOK.md has no entry for {name} (from {source}): give it a heading or a bolded name saying "
        "what it means, what to check and the command that fixes it"
    )


@pytest.mark.parametrize("status", STATUSES)
def test_every_run_status_an_operator_meets_has_an_entry(status: str) -> None:
    assert re.search(rf"(?<![\w.]){status}(?![\w.])", entries()), f"docs/RUNBOOK.md has no entry for {status}"


def test_every_cli_command_it_gives_exists_with_its_options() -> None:
    lines = list(cli_lines())
    assert len(lines) > 20, "the runbook's commands were found"
    problems = []
    for line in lines:
        words = _words(line)
        if not words:
            continue  # the program named, not run
        command = cli.commands.get(words[0])
        if command is None:
            problems.append(f"{line}: no such command")
            continue
        options = {name: param for param in command.params for name in (*param.opts, *param.secondary_opts)}
        arguments = [param for param in command.params if isinstance(param, click.Argument)]
        positional, rest = [], iter(words[1:])
        for word in rest:
            if not word.startswith("--"):
                positional.append(word)
            elif (option := options.get(word.split("=", 1)[0])) is None and word not in ("--help", "-h"):
                problems.append(f"{line}: {words[0]} has no option {word}")
            elif isinstance(option, click.Option) and not option.is_flag and "=" not in word:
                next(rest, None)  # the option's value
        if positional and len(positional) != len(arguments):
            problems.append(f"{line}: {words[0]} takes {len(arguments)} argument(s), given {positional}")
    assert not problems, "\n".join(problems)


def test_every_cli_command_is_in_the_runbook() -> None:
    given = {_words(line)[0] for line in cli_lines() if _words(line)}
    assert set(cli.commands) <= given, f"docs/RUNBOOK.md never gives {sorted(set(cli.commands) - given)}"


def test_every_alarm_of_the_stack_has_an_entry(example_template: Any) -> None:
    """Each alarm by its name in the example stack (`PersonalizeRefresh-...`); each campaign's staleness alarm
    by its pattern, `PersonalizeRefresh-Stale-CAMPAIGN`."""
    alarms = example_template.find_resources("AWS::CloudWatch::Alarm").values()
    names = {re.sub(r"-Stale-.+$", "-Stale-CAMPAIGN", str(alarm["Properties"]["AlarmName"])) for alarm in alarms}
    assert "PersonalizeRefresh-Stale-CAMPAIGN" in names, "the stack's alarms were found"
    missing = [name for name in sorted(names) if f"`{name}`" not in entries()]
    assert missing == [], f"alarms without a runbook entry: {missing}"
