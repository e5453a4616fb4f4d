"""Every relative link in README.md and docs/*.md leads somewhere: to a file of the checkout and, with a
`#fragment`, to a heading of that page, as GitHub names its anchors."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCED = re.compile(r"^[ \t]*```.*?^[ \t]*```[ \t]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\((?P<target>[^()\s]+)(?:\s+\"[^\"]*\")?\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:, ...


def prose(text: str) -> str:
    """The page without its code blocks and code spans, where `[x](y)` is not a link."""
    return CODE_SPAN.sub("", FENCED.sub("", text))


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: its text lowercased, without punctuation, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    """The anchors of a page's headings; a repeated heading gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", FENCED.sub("", page.read_text(encoding="utf-8")), re.M):
        name = anchor(heading)
        found.add(f"{name}-{seen[name]}" if name in seen else name)
        seen[name] = seen.get(name, 0) + 1
    return frozenset(found)


def links(page: Path) -> list[str]:
    return [match["target"] for match in LINK.finditer(prose(page.read_text(encoding="utf-8")))]


def test_headings_are_named_as_github_names_them() -> None:
    assert anchor("Personalize's own automation") == "personalizes-own-automation"
    assert anchor("`PersonalizeRefresh-Stale-CAMPAIGN`") == "personalizerefresh-stale-campaign"
    assert anchor("`ExecutionAborted` and `StoppedByOperator` (record `ABORTED`)") == (
        "executionaborted-and-stoppedbyoperator-record-aborted"
    )
    assert anchor("Events that never arrived: dlq") == "events-that-never-arrived-dlq"
    assert anchor("Dependencies, and why each is there") == "dependencies-and-why-each-is-there"


def test_the_pages_have_links_to_check() -> None:
    runbook = ROOT / "docs" / "RUNBOOK.md"

    assert "docs/RUNBOOK.md" in links(ROOT / "README.md")
    assert "../README.md#operating-it" in links(runbook)
    assert "#claimfailed" in links(runbook) and "claimfailed" in anchors(runbook)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page: Path) -> None:
    broken = []
    for target in links(page):
        if EXTERNAL.match(target):
            continue
        path, _, fragment = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no file {linked.relative_to(ROOT) if linked.is_relative_to(ROOT) else linked}")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            broken.append(f"{target}: no heading with the anchor #{fragment} in {linked.relative_to(ROOT)}")

    assert broken == [], f"{page.relative_to(ROOT)}: broken links:\n" + "\n".join(broken)
