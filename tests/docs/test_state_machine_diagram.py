"""docs/STATE_MACHINE.md is what `make diagram` draws from statemachine/*.asl.json (the refresh, an import, a
campaign's refresh), and the drawing leaves out no state and no transition: checked on the project's definitions
and on a small one with every state type."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from docs_tools import state_machine_diagram as diagram

NODE = re.compile(r'^\s*(?P<id>\w+)(?P<shape>\(\(\(|\(\(|\(\[|\[\[|\{\{|[\[({])"(?P<label>[^"]*)"')
SUBGRAPH = re.compile(r'^\s*subgraph (?P<id>\w+) \["(?P<label>[^"]*)"\]$')
EDGE = re.compile(r'^\s*(?P<source>\w+) (?P<arrow>-->|-\.->)(?:\|"(?P<label>[^"]*)"\|)? (?P<target>\w+)$')
CLASS = re.compile(r"^\s*class (?P<ids>[\w,]+) (?P<css>\w+)$")
SAFE_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass
class Chart:
    """One Mermaid flowchart as the page holds it: nodes (id: shape and label), subgraphs, edges, classes."""

    nodes: dict[str, tuple[str, str]] = field(default_factory=dict)
    subgraphs: dict[str, str] = field(default_factory=dict)
    edges: list[tuple[str, str, str, str]] = field(default_factory=list)  # source, arrow, label, target
    classes: dict[str, str] = field(default_factory=dict)
    unread: list[str] = field(default_factory=list)

    def name_of(self, node_id: str) -> str | None:
        """The state name a node or subgraph stands for (its label's first line), unless it only points elsewhere."""
        if self.classes.get(node_id) == "elsewhere":
            return None
        if node_id in self.subgraphs:
            return self.subgraphs[node_id].split(" · ")[0]
        if node_id in self.nodes:
            return self.nodes[node_id][1].split("<br/>")[0]
        return None


def charts(page: str) -> list[Chart]:
    result = []
    for block in re.findall(r"```mermaid\n(.*?)```", page, re.DOTALL):
        chart = Chart()
        lines = block.splitlines()
        assert lines[0] == "flowchart TD"
        for line in lines[1:]:
            if match := SUBGRAPH.match(line):
                chart.subgraphs[match["id"]] = match["label"]
            elif match := EDGE.match(line):
                chart.edges.append((match["source"], match["arrow"], match["label"] or "", match["target"]))
            elif match := CLASS.match(line):
                chart.classes.update(dict.fromkeys(match["ids"].split(","), match["css"]))
            elif match := NODE.match(line):
                chart.nodes[match["id"]] = (match["shape"], match["label"])
            elif line.strip() not in ("end", "direction TB") and not line.strip().startswith("classDef "):
                chart.unread.append(line)
        result.append(chart)
    return result


def transitions(definition: Any) -> list[tuple[diagram.Path_, str, str]]:
    """(state's path, kind, target's name) for every Next, Choice rule, Default and Catch, read from the ASL."""
    found = []
    for path, state in diagram.walk(definition):
        found += [(path, "Next", state["Next"])] if "Next" in state else []
        found += [(path, "Choice", rule["Next"]) for rule in state.get("Choices", [])]
        found += [(path, "Default", state["Default"])] if "Default" in state else []
        found += [(path, "Catch", catcher["Next"]) for catcher in state.get("Catch", [])]
    return found


def scopes_of(definition: Any) -> list[tuple[diagram.Path_, Any]]:
    """Every list of states with its path: the top level, each Map's iteration, each Parallel's branch."""
    found: list[tuple[diagram.Path_, Any]] = [((), definition)]
    for path, state in diagram.walk(definition):
        if state["Type"] == "Map":
            found += [(path, diagram.scopes(state)[0])]
        elif state["Type"] == "Parallel":
            found += [((*path, str(number)), branch) for number, branch in enumerate(state["Branches"], start=1)]
    return found


def assert_complete(definition: Any, page: str) -> None:
    """Each state is drawn as a node (or a subgraph) named for it, and each transition as an edge."""
    drawn = charts(page)
    ids = diagram.Ids(definition)
    edges = {(source, target) for chart in drawn for source, _, _, target in chart.edges}
    for chart in drawn:
        assert chart.unread == [], "lines the test cannot read"
    for path, _ in diagram.walk(definition):
        names = {chart.name_of(ids.state(path)) for chart in drawn}
        assert diagram.escape(path[-1]) in names, f"state {path[-1]!r} is not drawn as a node"
    for path, kind, target in transitions(definition):
        edge = (ids.state(path), ids.state((*path[:-1], target)))
        assert edge in edges, f"{kind} of {path[-1]!r} to {target!r} is not drawn"
    for prefix, scope in scopes_of(definition):
        start = (ids.marker(prefix, "start"), ids.state((*prefix, scope["StartAt"])))
        assert start in edges, f"the start of {prefix or 'the top level'} is not drawn"
        for name, state in scope["States"].items():
            if state.get("End"):
                assert (ids.state((*prefix, name)), ids.marker(prefix, "end")) in edges, f"End of {name!r} not drawn"


# The project's own definitions


def test_the_committed_page_is_what_the_definitions_draw() -> None:
    generated = diagram.render_all(diagram.load_all())
    committed = diagram.DOC.read_text(encoding="utf-8") if diagram.DOC.exists() else ""

    stale = list(
        difflib.unified_diff(committed.splitlines(), generated.splitlines(), "committed", "generated", lineterm="")
    )
    assert not stale, f"docs/STATE_MACHINE.md is out of date: run `{diagram.COMMAND}`\n" + "\n".join(stale[:40])


def test_the_definitions_are_read_as_they_are_with_their_placeholders() -> None:
    definitions = diagram.load_all()

    assert list(definitions) == ["refresh", "import", "campaign"]
    for name, path in diagram.DEFINITIONS.items():
        assert "${" in path.read_text(encoding="utf-8"), f"{name} keeps its ${{Placeholders}}"
        assert definitions[name]["StartAt"] in definitions[name]["States"]


@pytest.mark.parametrize("name", list(diagram.MACHINES))
def test_every_state_and_every_transition_of_each_definition_is_drawn_in_its_section(name: str) -> None:
    definitions = diagram.load_all()

    assert_complete(definitions[name], diagram.section(diagram.render_all(definitions), name))


def test_the_refresh_draws_its_children_as_the_executions_they_are() -> None:
    refresh = diagram.load_all()["refresh"]
    ids = diagram.Ids(refresh)
    drawn = charts(diagram.section(diagram.render_all(diagram.load_all()), "refresh"))
    nodes = {node_id: node for chart in drawn for node_id, node in chart.nodes.items()}
    classes = {node_id: css for chart in drawn for node_id, css in chart.classes.items()}

    for path, child in (
        (("Wait for imports", "Import dataset"), "an import"),
        (("Refresh campaigns", "Refresh campaign"), "a campaign"),
    ):
        shape, label = nodes[ids.state(path)]
        assert shape == "["
        assert label.startswith(f"{path[-1]}<br/>awaits {child} execution · states:startExecution.sync:2"), label
        assert classes[ids.state(path)] == "child"
    assert diagram.child_machine(refresh["States"]["Claim run"]) is None


def test_each_diagram_stays_within_what_github_renders() -> None:
    for definition in diagram.load_all().values():
        for chart in diagram.diagrams(definition):
            assert len(chart.text) < diagram.MAX_CHARACTERS, chart.title
            assert chart.edges < diagram.MAX_EDGES, chart.title


def test_the_page_says_how_it_is_generated() -> None:
    head = diagram.render_all(diagram.load_all()).splitlines()[:3]

    for name in diagram.MACHINES:
        assert any(f"`{diagram.COMMAND}`" in line and f"statemachine/{name}.asl.json" in line for line in head)


# A small definition, not the project's, with a state of every type

SAMPLE: dict[str, Any] = {
    "Comment": "Ships an order.",
    "StartAt": "Fetch order",
    "States": {
        "Fetch order": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${FetchOrderFunctionArn}", "Payload.$": "$"},
            "Retry": [{"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 3, "MaxAttempts": 2}],
            "Catch": [{"ErrorEquals": ["OrderMissing", "States.Timeout"], "Next": "Order missing"}],
            "Next": "Big order?",
        },
        "Big order?": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.order.total", "NumericGreaterThan": 100, "Next": "Hold for review"},
                {
                    "And": [
                        {"Variable": "$.order.express", "BooleanEquals": True},
                        {"Not": {"Variable": "$.order.ships_at", "IsPresent": True}},
                    ],
                    "Next": "Ship",
                },
            ],
            "Default": "Pack",
        },
        "Hold for review": {"Type": "Wait", "Seconds": 3600, "Next": "Still held?"},
        "Still held?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.review.held", "BooleanEquals": True, "Next": "Hold for review"}],
            "Default": "Pack",
        },
        "Pack": {
            "Type": "Map",
            "ItemsPath": "$.order.items",
            "MaxConcurrency": 2,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Pick item",
                "States": {"Pick item": {"Type": "Pass", "End": True}},
            },
            "Next": "Ship",
        },
        "Ship": {
            "Type": "Parallel",
            "Branches": [
                {
                    "StartAt": "Notify",
                    "States": {
                        "Notify": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::sns:publish",
                            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Notified"}],
                            "Next": "Notified",
                        },
                        "Notified": {"Type": "Succeed"},
                    },
                },
                {
                    "StartAt": "Book courier",
                    "States": {
                        "Book courier": {
                            "Type": "Task",
                            "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:book",
                            "End": True,
                        }
                    },
                },
            ],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Shipping failed"}],
            "Next": "End",
        },
        "Order missing": {"Type": "Fail", "Error": "OrderMissing", "Cause": "No such order"},
        "Shipping failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
        "End": {"Type": "Succeed"},
    },
}


def sample_chart(**options: Any) -> tuple[list[Chart], diagram.Ids]:
    return charts(diagram.render(SAMPLE, **options)), diagram.Ids(SAMPLE)


def test_every_state_and_transition_of_a_small_definition_is_drawn() -> None:
    assert_complete(SAMPLE, diagram.render(SAMPLE))
    assert_complete(SAMPLE, diagram.render(SAMPLE, inline_limit=0))


def test_each_state_type_has_its_shape_and_style() -> None:
    (chart,), ids = sample_chart()

    def node(name: str) -> tuple[str, str]:
        return chart.nodes[ids.state((name,))]

    assert node("Fetch order") == ("[", "Fetch order<br/>lambda:invoke · retry R1")
    assert node("Big order?") == ("{", "Big order?")
    assert node("Hold for review") == ("{{", "Hold for review<br/>3600 s")
    assert node("Order missing") == ("([", "Order missing<br/>OrderMissing")
    assert node("Shipping failed") == ("([", "Shipping failed<br/>error of $.error.Error")
    assert node("End")[0] == "(["
    assert chart.nodes[ids.state(("Pack", "Pick item"))] == ("(", "Pick item")
    assert chart.nodes[ids.state(("Ship", "2", "Book courier"))] == ("[", "Book courier<br/>lambda book")
    styles = {name: chart.classes.get(ids.state((name,))) for name in ("Order missing", "Shipping failed", "End")}
    assert styles == {"Order missing": "fail", "Shipping failed": "fail", "End": "succeed"}


def test_a_map_and_a_parallel_are_subgraphs_of_their_states() -> None:
    (chart,), ids = sample_chart()

    assert chart.subgraphs[ids.state(("Pack",))] == "Pack · Map over $.order.items, 2 at a time"
    assert chart.subgraphs[ids.state(("Ship",))] == "Ship · Parallel, 2 branches"
    assert chart.subgraphs[ids.marker(("Ship", "1"), "")] == "branch 1"
    assert chart.subgraphs[ids.marker(("Ship", "2"), "")] == "branch 2"
    assert (ids.state(("Ship",)), "-.->", "States.ALL", ids.state(("Shipping failed",))) in chart.edges


def test_a_big_map_gets_a_diagram_of_its_own() -> None:
    (overview, pack, ship), ids = sample_chart(inline_limit=0)

    assert overview.nodes[ids.state(("Pack",))][0] == "[["
    assert ids.state(("Pack",)) in pack.subgraphs and ids.state(("Ship",)) in ship.subgraphs
    assert pack.classes[ids.state(("Ship",))] == "elsewhere", "where the Map goes on is shown, dotted"


def test_choice_edges_summarize_each_rule_in_order_and_the_default() -> None:
    (chart,), ids = sample_chart()
    choice = ids.state(("Big order?",))

    labels = [label for source, _, label, _ in chart.edges if source == choice]

    assert labels == ["1: order.total #gt; 100", "2: order.express is true and order.ships_at absent", "otherwise"]


def test_catch_edges_are_dashed_and_name_their_errors_and_retries_are_listed() -> None:
    (chart,), ids = sample_chart()
    page = diagram.render(SAMPLE)

    fetch, missing = ids.state(("Fetch order",)), ids.state(("Order missing",))
    assert (fetch, "-.->", "OrderMissing, States.Timeout", missing) in chart.edges
    assert "| R1 | `Lambda.ServiceException` | 3 s | 2 | 2.0 | - | NONE | Fetch order |" in page


def test_a_catch_that_goes_where_the_state_goes_anyway_is_one_edge() -> None:
    (chart,), ids = sample_chart()
    notify, notified = ids.state(("Ship", "1", "Notify")), ids.state(("Ship", "1", "Notified"))

    assert [edge for edge in chart.edges if edge[0] == notify] == [(notify, "-->", "also on States.ALL", notified)]
    assert chart.classes[notify] == "besteffort"


def test_a_loop_is_boxed() -> None:
    (chart,), ids = sample_chart()

    assert chart.subgraphs[ids.marker(("Hold for review",), "loop")] == "loop"
    assert diagram.loops(SAMPLE) == [{"Hold for review", "Still held?"}]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Claim run", "claim_run"),
        ("Mirror first dataset's import status", "mirror_first_datasets_import_status"),
        ("End", "s_end"),
        ("2nd try", "s_2nd_try"),
        ("Subgraph", "s_subgraph"),
        ("???", "state"),
    ],
)
def test_node_ids_are_mermaid_safe(name: str, expected: str) -> None:
    assert diagram.slug(name) == expected


@pytest.mark.parametrize("name", list(diagram.MACHINES))
def test_every_id_is_safe_and_unique_and_labels_are_quoted_safely(name: str) -> None:
    definition = diagram.load_all()[name]
    ids = diagram.Ids(definition)
    states = [ids.state(path) for path, _ in diagram.walk(definition)]

    assert len(set(states)) == len(states)
    assert all(SAFE_ID.match(node_id) for node_id in states)
    assert diagram.escape('say "hi" | <b>') == "say #quot;hi#quot; #124; #lt;b#gt;"
