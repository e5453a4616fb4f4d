"""Every sample of command output in README.md and docs/*.md is what its command prints today.

The samples are written by `make samples` (docs_tools/samples.py), which runs the rehearsals and the operator CLI
on the local engine. The commands run once for this module, whatever number of samples show them."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest

from docs_tools import samples
from infra.config import RefreshConfig
from tests.conftest import ROOT

BLOCKS = [block for page in samples.pages() for block in samples.blocks(page)]


@pytest.fixture(scope="module")
def generated(
    tmp_path_factory: pytest.TempPathFactory, example_config: RefreshConfig, example_template: Any
) -> dict[str, str]:
    runs = samples.Runs(tmp_path_factory.mktemp("samples"), templates=[(example_config, example_template.to_json())])
    return samples.generate(runs, {block.name for block in BLOCKS})


def test_every_sample_in_the_pages_has_a_command_and_every_command_a_sample() -> None:
    shown = {block.name for block in BLOCKS}

    assert shown <= set(samples.BY_NAME), f"no command makes {sorted(shown - set(samples.BY_NAME))}"
    assert set(samples.BY_NAME) <= shown, f"shown nowhere: {sorted(set(samples.BY_NAME) - shown)}"
    assert {(block.page.name, block.name) for block in BLOCKS} >= {
        ("README.md", "demo"),
        ("REHEARSAL.md", "demo-week"),
        ("RUNBOOK.md", "show-failed-training"),
    }


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: f"{block.page.relative_to(ROOT)}:{block.name}")
def test_the_sample_is_what_its_command_prints_today(block: samples.Block, generated: dict[str, str]) -> None:
    today = generated[block.name]

    stale = list(difflib.unified_diff(block.text.splitlines(), today.splitlines(), "committed", "today", lineterm=""))
    assert not stale, (
        f"{block.page.relative_to(ROOT)}: the sample of `{samples.BY_NAME[block.name].command}` is out of date: "
        f"run `{samples.COMMAND}`\n" + "\n".join(stale[:40])
    )


def test_what_varies_between_runs_is_shown_as_an_ellipsis() -> None:
    printed = (
        "Execution: FAILED arn:aws:states:eu-west-1:1:execution:Refresh:de4bdbbb-bb32-416a-a36d-7967b462f2e9  \n"
        "Rehearsed 7:40:40 of simulated time in 10.3 s (synth 16.9 s). More detail: --states\n\n"
    )

    assert samples.normalized(printed) == (
        "Execution: FAILED arn:aws:states:eu-west-1:1:execution:Refresh:…\n"
        "Rehearsed 7:40:40 of simulated time in … s (synth … s). More detail: --states"
    )


def test_a_sample_is_rewritten_in_place_at_its_indentation(tmp_path: Path) -> None:
    page = tmp_path / "PAGE.md"
    page.write_text(
        "Intro.\n\n1. Read it:\n\n   <!-- sample: demo -->\n   ```text\n   old\n   ```\n   <!-- /sample -->\n\nAfter.\n"
    )
    (block,) = samples.blocks(page, root=tmp_path)

    assert (block.name, block.text) == ("demo", "old")
    assert samples.rewrite(page, {"demo": "new line\n  indented"}, root=tmp_path)
    assert page.read_text() == (
        "Intro.\n\n1. Read it:\n\n   <!-- sample: demo -->\n   ```text\n   new line\n     indented\n   ```\n"
        "   <!-- /sample -->\n\nAfter.\n"
    )
    assert not samples.rewrite(page, {"demo": "new line\n  indented"}, root=tmp_path), "unchanged: not written"


def test_a_sample_without_its_end_or_its_block_is_named(tmp_path: Path) -> None:
    page = tmp_path / "PAGE.md"
    page.write_text("<!-- sample: demo -->\n```text\nold\n```\n")
    with pytest.raises(samples.MalformedSample, match=r"PAGE\.md: sample 'demo' has no `<!-- /sample -->` line"):
        list(samples.blocks(page, root=tmp_path))

    page.write_text("<!-- sample: demo -->\nold\n<!-- /sample -->\n")
    with pytest.raises(samples.MalformedSample, match="put one fenced block"):
        list(samples.blocks(page, root=tmp_path))
