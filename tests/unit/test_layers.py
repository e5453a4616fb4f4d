"""The project's packages import each other one way only, from the tools down to the Lambdas' shared package,
so that no package needs one above it: the Lambdas' code ships alone, the CDK app loads no engine, the engine
loads nothing of the operator CLI, and no two packages import each other, even by a late or type-only import."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from tests.conftest import ROOT

# From the bottom up: a package may import the packages of the layers below its own, never one above or beside it.
LAYERS = (
    ("refresh_common",),  # the task Lambdas' shared package: the run record, settings, polling
    ("lambdas",),  # the task Lambdas' handlers (lambdas/*.py), shipped with refresh_common alone
    ("infra",),  # the CDK app's constructs and the configuration
    ("local_engine",),  # the synthesized stack run on moto
    ("rehearsal",),  # a refresh rehearsed on the engine (`make demo`)
    ("operations",),  # the operator CLI
    ("bench", "reliability", "docs_tools"),  # measurements, fault checks and the generated reference pages
)
LAYER = {package: index for index, layer in enumerate(LAYERS) for package in layer}


def package_of(path: Path) -> str:
    parts = path.relative_to(ROOT).parts
    if parts[0] == "lambdas":
        return "refresh_common" if parts[1] == "refresh_common" else "lambdas"
    return parts[0]


def source_files() -> Iterator[Path]:
    for folder in ("bench", "docs_tools", "infra", "local_engine", "operations", "rehearsal", "reliability", "lambdas"):
        yield from sorted((ROOT / folder).rglob("*.py"))


def imported_packages(path: Path) -> set[str]:
    """The project's packages a module imports, wherever the import stands (in a function, under TYPE_CHECKING)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    handlers = {handler.stem for handler in (ROOT / "lambdas").glob("*.py")}
    top = {module.split(".")[0] for module in modules}
    return {"lambdas" if name in handlers else name for name in top if name in LAYER or name in handlers}


@cache
def package_graph() -> dict[str, dict[str, list[str]]]:
    """Each package's imports of the others: imported package -> the modules that import it."""
    graph: dict[str, dict[str, list[str]]] = {package: {} for package in LAYER}
    for path in source_files():
        importer = package_of(path)
        for imported in imported_packages(path) - {importer}:
            graph[importer].setdefault(imported, []).append(str(path.relative_to(ROOT)))
    return graph


def cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Every circle of imports, each as the packages along it (the first one again at its end)."""
    found: list[list[str]] = []

    def walk(path: list[str]) -> None:
        for imported in sorted(graph.get(path[-1], {})):
            if imported == path[0]:
                found.append([*path, imported])
            elif imported not in path and imported > path[0]:  # each circle once, from its first package by name
                walk([*path, imported])

    for package in sorted(graph):
        walk([package])
    return found


def test_the_reading_finds_the_imports_between_packages() -> None:
    graph = package_graph()
    assert "refresh_common" in graph["infra"]
    assert "local_engine" in graph["operations"]  # its --local commands
    assert "refresh_common" in graph["lambdas"]


def test_no_package_imports_itself_through_others() -> None:
    assert cycles(package_graph()) == []


def test_every_package_imports_only_the_layers_below_it() -> None:
    graph = package_graph()
    upward = [
        f"{importer} imports {imported} ({', '.join(modules)})"
        for importer, imports in sorted(graph.items())
        for imported, modules in sorted(imports.items())
        if LAYER[imported] >= LAYER[importer]
    ]
    assert upward == []


def test_the_engine_imports_nothing_of_the_operator_cli() -> None:
    assert "operations" not in package_graph()["local_engine"]


def test_a_circle_is_found() -> None:
    graph = {"a": {"b": ["a/x.py"]}, "b": {"c": ["b/y.py"]}, "c": {"a": ["c/z.py"], "d": ["c/z.py"]}, "d": {}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
