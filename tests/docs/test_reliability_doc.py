"""docs/RELIABILITY.md is what `make reliability-report` generates from the catalog and the soak figures."""

from __future__ import annotations

import difflib

from reliability.matrix import Environment
from reliability.outcomes import Observation
from reliability.report import DOC, load_figures, render


def test_reliability_doc_is_current(observations: dict[str, Observation], environments: dict[str, Environment]) -> None:
    generated = render(observations, environments, load_figures())
    committed = DOC.read_text() if DOC.exists() else ""

    stale = list(
        difflib.unified_diff(committed.splitlines(), generated.splitlines(), "committed", "generated", lineterm="")
    )
    assert not stale, "docs/RELIABILITY.md is out of date: run `make reliability-report`\n" + "\n".join(stale[:40])
