"""Draws the three state machines of a run as Mermaid flowcharts, from statemachine/*.asl.json themselves.

    python -m docs_tools.state_machine_diagram           # writes docs/STATE_MACHINE.md
    python -m docs_tools.state_machine_diagram --check   # exits 1 when the committed file is not what it would write

Each definition is read as plain JSON: its `${Placeholders}` stand inside strings, so the file parses as it is.
Every state is a node and every transition an edge (Next, each Choice rule, Default, each Catch, End); a Map
or Parallel is a subgraph of its states, in place when it is small and in a diagram of its own when it is not.
A Task that starts and awaits an execution of another state machine (`states:startExecution.sync`) is drawn as
that child execution, named for the state machine it runs.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ROOT, generate

# The refresh (one execution per run), then the state machines it starts, each as its own section of the page.
MACHINES = {
    "refresh": (
        "The refresh",
        "One execution per run: it claims the run, starts and awaits one import execution per dataset, then one "
        "campaign execution per campaign whose data changed, and ends the run as their ends say.",
    ),
    "import": (
        "An import",
        "One execution per dataset import, started and awaited by the refresh's `Import dataset`: it creates the "
        "import job if the run had to wait for room (the region's quota of concurrent imports), then polls the "
        "job until it is ACTIVE. It fails with the import's own error, which the refresh records for the run.",
    ),
    "campaign": (
        "A campaign's refresh",
        "One execution per campaign, started and awaited by the refresh's `Refresh campaign` once the imports are "
        "ACTIVE: it trains a solution version, checks the quality gate, deploys, and records and alerts the "
        "campaign's end. It succeeds with the campaign's outcome, whatever that is; an end it could not record "
        "(a timeout, a stop, an uncatchable error) the refresh records.",
    ),
}
DEFINITIONS = {name: ROOT / "statemachine" / f"{name}.asl.json" for name in MACHINES}
DEFINITION = DEFINITIONS["refresh"]
DOC = ROOT / "docs" / "STATE_MACHINE.md"
COMMAND = "make diagram"
# The ARN placeholders (CDK's definition substitutions) a child execution's Task names its state machine by.
_CHILD_PLACEHOLDER = re.compile(r"^\$\{(?P<name>[A-Z][a-z]+)StateMachineArn\}$")
_CHILD_INTEGRATION = re.compile(r"^states:startExecution\.sync(?::\d+)?$")

# A Map or Parallel holding more states than this gets a diagram of its own; a smaller one is drawn in place.
INLINE_LIMIT = 12
# What GitHub's Mermaid renders in one diagram (its maxTextSize and maxEdges).
MAX_CHARACTERS = 50_000
MAX_EDGES = 500

State = Mapping[str, Any]
Path_ = tuple[str, ...]  # a state's names from the top level down; a Parallel's branch adds its number

_STATES_ARN = re.compile(r"^arn:[^:]+:states:::(?P<integration>.+)$")
_COMPARISON = re.compile(
    r"^(?P<kind>String|Numeric|Timestamp|Boolean)"
    r"(?P<operator>Equals|LessThanEquals|GreaterThanEquals|LessThan|GreaterThan)(?P<path>Path)?$"
)
_SYMBOLS = {"Equals": "=", "LessThan": "<", "GreaterThan": ">", "LessThanEquals": "≤", "GreaterThanEquals": "≥"}
_TIME_WORDS = {
    "Equals": "at",
    "LessThan": "before",
    "GreaterThan": "after",
    "LessThanEquals": "at or before",
    "GreaterThanEquals": "at or after",
}
_NEGATED = {
    "=": "≠",
    "<": "≥",
    ">": "≤",
    "≤": ">",
    "≥": "<",
    "at": "not at",
    "before": "at or after",
    "after": "at or before",
    "at or before": "after",
    "at or after": "before",
}
# Words Mermaid's flowchart grammar reads as keywords, so never node ids.
_RESERVED = {"end", "graph", "flowchart", "subgraph", "direction", "style", "class", "classdef", "click", "linkstyle"}
_CLASSES = {
    "pass": "fill:#f3f3f3,stroke:#888,color:#222",
    "choice": "fill:#fff6d5,stroke:#b08800,color:#222",
    "wait": "fill:#e6f0fb,stroke:#3d6fb0,color:#222",
    "map": "fill:#ecebfb,stroke:#5a55b0,color:#222",
    "succeed": "fill:#e2f5e2,stroke:#2e7d32,stroke-width:2px,color:#222",
    "fail": "fill:#fde6e6,stroke:#c62828,stroke-width:2px,color:#222",
    "besteffort": "stroke-dasharray:4 3",
    "marker": "fill:#444,stroke:#444,color:#fff",
    "child": "fill:#eef7ee,stroke:#2e7d32,stroke-width:3px,color:#222",
    "elsewhere": "fill:#fff,stroke:#999,stroke-dasharray:2 2,color:#555",
}
_LABEL_LINE = 48  # characters of a Choice rule's summary per line
_LABEL_MAX = 120


def load(path: Path = DEFINITION) -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return definition


def load_all() -> dict[str, dict[str, Any]]:
    """Every state machine's definition, by name, the refresh's first."""
    return {name: load(path) for name, path in DEFINITIONS.items()}


def scopes(state: State) -> list[State]:
    """The state lists inside a Map (its item processor) or a Parallel (its branches)."""
    if state["Type"] == "Map":
        return [state.get("ItemProcessor") or state["Iterator"]]
    if state["Type"] == "Parallel":
        return list(state["Branches"])
    return []


def walk(scope: State, prefix: Path_ = ()) -> Iterator[tuple[Path_, State]]:
    """Every state, depth first in the definition's order, with its path."""
    for name, state in scope["States"].items():
        path = (*prefix, name)
        yield path, state
        inner = scopes(state)
        for number, branch in enumerate(inner, start=1):
            yield from walk(branch, (*path, str(number)) if state["Type"] == "Parallel" else path)


def size(state: State) -> int:
    """How many states a Map or Parallel holds, at any depth."""
    return sum(1 for scope in scopes(state) for _ in walk(scope))


def successors(state: State) -> list[str]:
    """The states a state can go to next, in its own scope: Next, each Choice rule, Default, each Catch."""
    targets = [state["Next"]] if "Next" in state else []
    targets += [rule["Next"] for rule in state.get("Choices", [])]
    targets += [state["Default"]] if "Default" in state else []
    targets += [catcher["Next"] for catcher in state.get("Catch", [])]
    return list(dict.fromkeys(targets))


def loops(scope: State) -> list[set[str]]:
    """The scope's loops: each set of states that can all reach one another (a strongly connected component
    of more than one state), such as a poll's Wait, describe and Choice."""
    states = scope["States"]
    reach = {name: _reachable(states, name) for name in states}
    found: list[set[str]] = []
    for name in states:
        loop = {other for other in reach[name] if name in reach[other]}
        if len(loop) > 1 and loop not in found:
            found.append(loop)
    return found


def _reachable(states: Mapping[str, State], start: str) -> set[str]:
    seen: set[str] = set()
    pending = list(successors(states[start]))
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending += successors(states[name])
    return seen


def slug(name: str) -> str:
    text = re.sub(r"[^a-z0-9]+", "_", name.lower().replace("'", "")).strip("_") or "state"
    return f"s_{text}" if text[0].isdigit() or text in _RESERVED else text


class Ids:
    """Mermaid-safe node ids, derived from the state names, the same in every diagram of the page."""

    def __init__(self, definition: State) -> None:
        self._taken: set[str] = set()
        self._states = {path: self._claim(slug(path[-1])) for path, _ in walk(definition)}
        self._markers: dict[tuple[Path_, str], str] = {}

    def _claim(self, base: str) -> str:
        candidate, number = base, 1
        while candidate in self._taken:
            number += 1
            candidate = f"{base}_{number}"
        self._taken.add(candidate)
        return candidate

    def state(self, path: Path_) -> str:
        return self._states[path]

    def marker(self, scope: Path_, which: str) -> str:
        """An id of a scope (the top level, a Map's iteration, a Parallel's branch): its `start` or `end`
        marker, or with `which` empty, the subgraph of a Parallel's branch."""
        key = (scope, which)
        if key not in self._markers:
            if not scope:
                name = "execution"
            elif scope in self._states:
                name = self._states[scope]
            else:  # a Parallel's branch: the Parallel's path and the branch's number
                name = f"{self._states[scope[:-1]]}_branch{scope[-1]}"
            self._markers[key] = self._claim(f"{name}_{which}" if which else name)
        return self._markers[key]


def escape(text: str) -> str:
    """Label text as Mermaid reads it inside double quotes (entity codes for what its grammar or HTML would eat)."""
    for char, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("|", "#124;"), ("`", "#96;")):
        text = text.replace(char, code)
    return text


def short_path(path: str) -> str:
    """A JSONPath's last two steps: `$.describe.job.FailureReason` reads `job.FailureReason`."""
    steps = [step for step in re.split(r"\.", path.lstrip("$")) if step]
    return ".".join(steps[-2:]) or path


def condition(rule: State, negate: bool = False) -> list[str]:
    """A Choice rule in short, one term per item (joined by its and / or)."""
    for operator in ("And", "Or"):
        if operator in rule:
            if negate:  # De Morgan, so a negated conjunction still reads term by term
                operator = "Or" if operator == "And" else "And"
            terms = [_grouped(condition(inner, negate)) for inner in rule["And" if "And" in rule else "Or"]]
            return [terms[0], *(f"{operator.lower()} {term}" for term in terms[1:])]
    if "Not" in rule:
        return condition(rule["Not"], not negate)
    variable = short_path(rule["Variable"])
    key, value = next((k, v) for k, v in rule.items() if k not in ("Variable", "Next"))
    return [comparison(variable, key, value, negate)]


def _grouped(terms: list[str]) -> str:
    return f"({' '.join(terms)})" if len(terms) > 1 else terms[0]


def comparison(variable: str, key: str, value: Any, negate: bool) -> str:
    if key == "IsPresent":
        return f"{variable} {'present' if bool(value) != negate else 'absent'}"
    if key in ("IsNull", "IsString", "IsNumeric", "IsBoolean", "IsTimestamp"):
        return f"{variable} is {'' if bool(value) != negate else 'not '}{key[2:].lower()}"
    if key.endswith("Matches"):
        return f"{variable} {'does not match' if negate else 'matches'} {value}"
    match = _COMPARISON.match(key)
    if not match:
        return f"{'not ' if negate else ''}{variable} {key} {value}"
    operand = short_path(value) if match["path"] else json.dumps(value) if isinstance(value, bool) else str(value)
    if match["kind"] == "Boolean" and not match["path"]:
        return f"{variable} is {json.dumps(bool(value) != negate)}"
    words = _TIME_WORDS if match["kind"] == "Timestamp" else _SYMBOLS
    operator = words[match["operator"]]
    return f"{variable} {_NEGATED[operator] if negate else operator} {operand}"


def rule_label(terms: Sequence[str], number: int | None) -> str:
    """Terms on lines of about _LABEL_LINE characters, at most _LABEL_MAX in all."""
    lines: list[str] = []
    for term in terms:
        if lines and len(lines[-1]) + 1 + len(term) <= _LABEL_LINE:
            lines[-1] += f" {term}"
        else:
            lines.append(term)
    text = "\n".join(lines)
    if len(text) > _LABEL_MAX:
        text = text[: _LABEL_MAX - 1].rstrip() + "…"
    return f"{number}: {text}" if number is not None else text


def child_machine(state: State) -> str | None:
    """The state machine a Task starts and awaits (`import`, `campaign`), or None when it starts none."""
    match = _STATES_ARN.match(str(state.get("Resource", "")))
    if state["Type"] != "Task" or not match or not _CHILD_INTEGRATION.match(match["integration"]):
        return None
    arn = (state.get("Parameters") or {}).get("StateMachineArn", "")
    named = _CHILD_PLACEHOLDER.match(str(arn))
    return named["name"].lower() if named else "another state machine's"


def integration(resource: str) -> str:
    """What a Task calls, in short: `lambda:invoke`, `personalize:describeCampaign`, `sns:publish`."""
    match = _STATES_ARN.match(resource)
    if match:
        return match["integration"].removeprefix("aws-sdk:")
    if ":function:" in resource:
        return f"lambda {resource.split(':function:')[-1]}"
    return resource.rsplit(":", 1)[-1]


def errors(names: Sequence[str]) -> str:
    shown = ", ".join(names[:2])
    return f"{shown} +{len(names) - 2}" if len(names) > 2 else shown


class RetryPolicies:
    """Each distinct retrier of the definitions, numbered R1, R2, ... in the order they first appear."""

    def __init__(self, *definitions: State) -> None:
        self.policies: list[dict[str, Any]] = []
        self.users: list[list[str]] = []
        self._numbers: dict[str, int] = {}
        for path, state in (found for definition in definitions for found in walk(definition)):
            for retrier in state.get("Retry", []):
                key = json.dumps(retrier, sort_keys=True)
                if key not in self._numbers:
                    self._numbers[key] = len(self.policies) + 1
                    self.policies.append(retrier)
                    self.users.append([])
                self.users[self._numbers[key] - 1].append(path[-1])

    def names(self, state: State) -> list[str]:
        return [f"R{self._numbers[json.dumps(retrier, sort_keys=True)]}" for retrier in state.get("Retry", [])]


@dataclass
class Diagram:
    """One Mermaid flowchart of the page, with the section it sits in."""

    title: str
    description: str
    lines: list[str] = field(default_factory=lambda: ["flowchart TD"])
    nodes: int = 0
    edges: int = 0

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


class _Drawing:
    """Draws one diagram: node definitions in their subgraphs first, then every edge, then the styles."""

    def __init__(self, ids: Ids, retries: RetryPolicies, inline_limit: int, diagram: Diagram) -> None:
        self.ids, self.retries, self.inline_limit, self.diagram = ids, retries, inline_limit, diagram
        self.edge_lines: list[str] = []
        self.classes: dict[str, list[str]] = {}
        self.detached: list[tuple[Path_, State]] = []

    def node(self, depth: int, node_id: str, shape: str, label: str, css: str | None = None) -> None:
        opening, closing = shape.split("…")
        self.diagram.lines.append(f'{"  " * depth}{node_id}{opening}"{label}"{closing}')
        self.diagram.nodes += 1
        if css:
            self.classes.setdefault(css, []).append(node_id)

    def edge(self, source: str, target: str, label: str = "", *, dashed: bool = False) -> None:
        arrow = "-.->" if dashed else "-->"
        text = f'|"{escape(label).replace(chr(10), "<br/>")}"|' if label else ""
        self.edge_lines.append(f"  {source} {arrow}{text} {target}")
        self.diagram.edges += 1

    def scope(self, scope: State, prefix: Path_, depth: int) -> None:
        """A list of states: a start marker, the states, and an end marker where a state ends the scope."""
        start = self.ids.marker(prefix, "start")
        self.node(depth, start, "((…))", "start", "marker")
        self.edge(start, self.ids.state((*prefix, scope["StartAt"])))
        ends = [name for name, state in scope["States"].items() if state.get("End")]
        drawn: set[str] = set()
        scope_loops = loops(scope)
        for name, state in scope["States"].items():
            loop = next((loop for loop in scope_loops if name in loop), None)
            if loop is None:
                self.state((*prefix, name), state, depth)
            elif name not in drawn:  # a loop's states in one box, where its first state stands in the definition
                indent = "  " * depth
                self.diagram.lines += [f'{indent}subgraph {self.ids.marker((*prefix, name), "loop")} ["loop"]']
                self.diagram.lines += [f"{indent}  direction TB"]
                for member, member_state in scope["States"].items():
                    if member in loop:
                        self.state((*prefix, member), member_state, depth + 1)
                self.diagram.lines.append(f"{indent}end")
                drawn |= loop
        if ends:
            end = self.ids.marker(prefix, "end")
            self.node(depth, end, "(((…)))", "end", "marker")
            for name in ends:
                self.edge(self.ids.state((*prefix, name)), end)

    def state(self, path: Path_, state: State, depth: int, *, root: bool = False) -> None:
        node_id, name, kind = self.ids.state(path), escape(path[-1]), state["Type"]
        if kind in ("Map", "Parallel") and (root or size(state) <= self.inline_limit):
            self.container(path, state, depth)
        elif kind in ("Map", "Parallel"):
            self.detached.append((path, state))
            self.node(depth, node_id, "[[…]]", f"{name}<br/>{escape(container_kind(state))}, drawn below", "map")
        elif kind == "Task" and (child := child_machine(state)):
            article = "an" if child[0] in "aeiou" else "a"
            awaited = [f"awaits {article} {child} execution", integration(state["Resource"])]
            detail = " · ".join([*awaited, *self.retry_note(state)])
            self.node(depth, node_id, "[…]", f"{name}<br/>{escape(detail)}", "child")
        elif kind == "Task":
            detail = " · ".join([integration(state.get("Resource", "")), *self.retry_note(state)])
            css = "besteffort" if best_effort(state) else None
            self.node(depth, node_id, "[…]", f"{name}<br/>{escape(detail)}", css)
        elif kind == "Choice":
            self.node(depth, node_id, "{…}", name, "choice")
        elif kind == "Wait":
            self.node(depth, node_id, "{{…}}", f"{name}<br/>{escape(wait_for(state))}", "wait")
        elif kind == "Succeed":
            self.node(depth, node_id, "([…])", name, "succeed")
        elif kind == "Fail":
            self.node(depth, node_id, "([…])", f"{name}<br/>{escape(fail_error(state))}", "fail")
        else:  # Pass, and any type this drawing does not know
            label = name if kind == "Pass" else f"{name}<br/>{escape(kind)}"
            self.node(depth, node_id, "(…)", label, "pass")
        if not root:
            self.transitions(path, state)

    def container(self, path: Path_, state: State, depth: int) -> None:
        node_id, indent = self.ids.state(path), "  " * depth
        self.diagram.lines.append(f'{indent}subgraph {node_id} ["{escape(f"{path[-1]} · {container_kind(state)}")}"]')
        # Mermaid turns a subgraph that no edge crosses sideways unless it is told otherwise.
        self.diagram.lines.append(f"{indent}  direction TB")
        inner = scopes(state)
        if state["Type"] == "Map":
            self.scope(inner[0], path, depth + 1)
        else:
            for number, branch in enumerate(inner, start=1):
                branch_path = (*path, str(number))
                branch_id = self.ids.marker(branch_path, "")
                self.diagram.lines.append(f'{indent}  subgraph {branch_id} ["branch {number}"]')
                self.diagram.lines.append(f"{indent}    direction TB")
                self.scope(branch, branch_path, depth + 2)
                self.diagram.lines.append(f"{indent}  end")
        self.diagram.lines.append(f"{indent}end")

    def retry_note(self, state: State) -> list[str]:
        names = self.retries.names(state)
        return [f"retry {' '.join(names)}"] if names else []

    def transitions(self, path: Path_, state: State) -> None:
        source, scope = self.ids.state(path), path[:-1]

        def target(name: str) -> str:
            return self.ids.state((*scope, name))

        catchers = state.get("Catch", [])
        along = [c for c in catchers if c["Next"] == state.get("Next")]
        if "Next" in state:
            also = [error for catcher in along for error in catcher["ErrorEquals"]]
            self.edge(source, target(state["Next"]), f"also on {errors(also)}" if also else "")
        rules = state.get("Choices", [])
        for number, rule in enumerate(rules, start=1):
            self.edge(source, target(rule["Next"]), rule_label(condition(rule), number if len(rules) > 1 else None))
        if "Default" in state:
            self.edge(source, target(state["Default"]), "otherwise")
        for catcher in catchers:
            if catcher not in along:
                self.edge(source, target(catcher["Next"]), errors(catcher["ErrorEquals"]), dashed=True)

    def finish(self) -> None:
        self.diagram.lines.extend(self.edge_lines)
        for css, members in self.classes.items():
            self.diagram.lines.append(f"  classDef {css} {_CLASSES[css]}")
            self.diagram.lines.append(f"  class {','.join(members)} {css}")


def container_kind(state: State) -> str:
    if state["Type"] == "Parallel":
        return f"Parallel, {len(state['Branches'])} branches"
    items = state.get("ItemsPath", "$")
    at_once = f", {state['MaxConcurrency']} at a time" if state.get("MaxConcurrency") else ""
    return f"Map over {items}{at_once}"


def best_effort(state: State) -> bool:
    """A Task whose every Catch goes where its success goes: its failure only lands in the history."""
    catchers = state.get("Catch", [])
    return bool(catchers) and all(c["Next"] == state.get("Next") for c in catchers)


def wait_for(state: State) -> str:
    if "Seconds" in state:
        return f"{state['Seconds']} s"
    if "SecondsPath" in state:
        return f"{short_path(state['SecondsPath'])} s"
    if "Timestamp" in state:
        return f"until {state['Timestamp']}"
    return f"until {short_path(state.get('TimestampPath', '?'))}"


def fail_error(state: State) -> str:
    if "Error" in state:
        return str(state["Error"])
    if "ErrorPath" in state:
        return f"error of {state['ErrorPath']}"
    return "no error name"


def diagrams(
    definition: State, *, inline_limit: int = INLINE_LIMIT, retries: RetryPolicies | None = None
) -> list[Diagram]:
    """The overview, then one diagram per Map or Parallel too big to draw in place, in the definition's order;
    `retries` numbers the retry policies (by default, the definition's own)."""
    ids, retries = Ids(definition), retries or RetryPolicies(definition)
    overview = Diagram("Overview", "The top level, from the execution's input to its end.")
    drawing = _Drawing(ids, retries, inline_limit, overview)
    drawing.scope(definition, (), 1)
    drawing.finish()
    result = [overview]
    pending = list(drawing.detached)
    while pending:
        path, state = pending.pop(0)
        diagram = Diagram(path[-1], detached_description(path, state))
        drawing = _Drawing(ids, retries, inline_limit, diagram)
        drawing.state(path, state, 1, root=True)
        elsewhere(drawing, path, state)
        drawing.finish()
        result.append(diagram)
        pending[:0] = drawing.detached
    return result


def detached_description(path: Path_, state: State) -> str:
    where = f"inside `{path[-2]}`" if len(path) > 1 else "at the top level"
    kind = "one iteration per item" if state["Type"] == "Map" else "its branches at once"
    return (
        f"`{path[-1]}` ({container_kind(state)}, {where}): {kind}. Dotted nodes are drawn in the diagram that holds it."
    )


def elsewhere(drawing: _Drawing, path: Path_, state: State) -> None:
    """Where a detached Map or Parallel goes on: its Next and Catch targets, as dotted nodes."""
    targets = [state["Next"]] if "Next" in state else []
    targets += [c["Next"] for c in state.get("Catch", []) if c["Next"] not in targets]
    for name in targets:
        drawing.node(1, drawing.ids.state((*path[:-1], name)), "[…]", escape(name), "elsewhere")
    if state.get("End"):
        drawing.node(1, drawing.ids.marker(path[:-1], "end"), "(((…)))", "end", "marker")
        drawing.edge(drawing.ids.state(path), drawing.ids.marker(path[:-1], "end"))
    drawing.transitions(path, state)


def retry_table(retries: RetryPolicies) -> list[str]:
    lines = [
        "| policy | errors | first retry after | retries | backoff | longest wait | jitter | states |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for number, (retrier, users) in enumerate(zip(retries.policies, retries.users, strict=True), start=1):
        names = ", ".join(f"`{name}`" for name in retrier["ErrorEquals"])
        cells = [
            f"R{number}",
            names,
            f"{retrier.get('IntervalSeconds', 1)} s",
            str(retrier.get("MaxAttempts", 3)),
            str(retrier.get("BackoffRate", 2.0)),
            f"{retrier['MaxDelaySeconds']} s" if "MaxDelaySeconds" in retrier else "-",
            str(retrier.get("JitterStrategy", "NONE")),
            ", ".join(dict.fromkeys(users)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render(definition: State, *, inline_limit: int = INLINE_LIMIT) -> str:
    """A page for one definition alone: its diagrams and its retry policies."""
    retries = RetryPolicies(definition)
    lines = ["# The state machine", "", *_reading(inline_limit)]
    lines += _machine(definition, retries, inline_limit, heading="##")
    lines += ["## Retry policies", "", *retry_table(retries), ""]
    return "\n".join(lines)


def render_all(definitions: Mapping[str, State], *, inline_limit: int = INLINE_LIMIT) -> str:
    """docs/STATE_MACHINE.md: each state machine of MACHINES in a section of its own, one table of retry
    policies for all."""
    retries = RetryPolicies(*definitions.values())
    files = [f"`statemachine/{name}.asl.json`" for name in definitions]
    counts = ", ".join(
        f"{MACHINES[name][0].lower()} {sum(1 for _ in walk(definition))}" for name, definition in definitions.items()
    )
    lines = [
        "# The state machines",
        "",
        f"Generated from {', '.join(files[:-1])} and {files[-1]} by `{COMMAND}` "
        "(`python -m docs_tools.state_machine_diagram`); do not edit by hand: a unit test fails when it is out of "
        "date.",
        "",
        "A run is three kinds of execution, each with its own history (Step Functions caps an execution's history "
        "at 25,000 events): [the refresh](#the-refresh) starts and awaits [an import](#an-import) per dataset and "
        "[a campaign's refresh](#a-campaigns-refresh) per campaign. Stopping the refresh stops the executions it "
        f"awaits. Their states, drawn from the definitions themselves ({counts}).",
        "",
        *_reading(inline_limit),
    ]
    for name, definition in definitions.items():
        title, about = MACHINES[name]
        lines += [f"## {title}", "", about, ""]
        lines += _machine(definition, retries, inline_limit, heading="###", overview_heading=False)
    lines += ["## Retry policies", "", *retry_table(retries), ""]
    return "\n".join(lines)


def section(page: str, name: str) -> str:
    """The part of a page `render_all` wrote for the state machine `name` (of MACHINES)."""
    title = MACHINES[name][0]
    start = page.index(f"\n## {title}\n")
    end = page.find("\n## ", start + 1)
    return page[start : end if end >= 0 else len(page)]


def _machine(
    definition: State, retries: RetryPolicies, inline_limit: int, *, heading: str, overview_heading: bool = True
) -> list[str]:
    """The definition's diagrams, each under its heading; the overview's only with `overview_heading` (else it
    stands under the heading of the state machine's section)."""
    lines: list[str] = []
    for number, chart in enumerate(diagrams(definition, inline_limit=inline_limit, retries=retries)):
        if number or overview_heading:
            lines += [f"{heading} {chart.title}", "", chart.description, ""]
        lines += ["```mermaid", chart.text.rstrip("\n"), "```", ""]
    return lines


def _reading(inline_limit: int) -> list[str]:
    return [
        "How to read it:",
        "",
        "- A rectangle is a Task, with what it calls (`lambda:invoke`, `personalize:describeCampaign`, ...) and its",
        "  retry policies (`retry R1 R2`: see [Retry policies](#retry-policies)); a rounded box is a Pass, a hexagon",
        "  a Wait (with what it waits for), a rhombus a Choice, green a Succeed, red a Fail (with the error it",
        "  ends with). Small dark circles start and end the execution, a Map's iteration or a Parallel's branch.",
        "- A green rectangle with a thick border is a child execution: the Task starts an execution of the state",
        "  machine it names (`states:startExecution.sync:2`) and waits for its end; that execution's states are",
        "  drawn in its own section. A child that fails fails the Task with `States.TaskFailed`, caught like any.",
        "- A Choice's edges give each rule in short, numbered in the order Step Functions tries them, and",
        "  `otherwise` for its Default. Paths are shortened to their last two steps (`$.describe.job.FailureReason`",
        "  reads `job.FailureReason`).",
        "- A dashed edge is a Catch, labelled with the errors it catches.",
        "- A Task with a dashed border goes on where it would have gone had it succeeded, whatever error it meets (its",
        "  every Catch leads to its Next: the stage announcements and the alerts are best effort). It has one edge,",
        "  labelled `also on` the errors, instead of a Catch edge beside its Next.",
        f"- A Map or Parallel holding up to {inline_limit} states is a box around its states; a bigger one is a",
        "  double-edged node in the diagram that holds it, and drawn in a section of its own below.",
        "",
        "Left out: parameters, paths and result selectors, a Fail's cause, a Task's timeouts, comments. The exact",
        "rules are in the definitions.",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    definitions = load_all()
    description = (__doc__ or "").split("\n\n")[0]
    program = "python -m docs_tools.state_machine_diagram"
    if generate(
        argv, program=program, description=description, doc=DOC, command=COMMAND, render=lambda: render_all(definitions)
    ):
        for name, definition in definitions.items():
            for chart in diagrams(definition):
                counts = f"{chart.nodes} nodes, {chart.edges} edges, {len(chart.text):,} characters"
                print(f"{name}, {chart.title}: {counts}")
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
