"""Writes the samples of command output in README.md and docs/*.md from the commands themselves.

    make samples                           # runs the commands, rewrites every sample that changed
    python -m docs_tools.samples --check   # exits 1 when a committed sample is not what its command prints

A sample is the fenced block between a `<!-- sample: NAME -->` line and the next `<!-- /sample -->` line. NAME is
one of SAMPLES below: the command a reader would run (a rehearsal, then the operator CLI on the state it saved),
and how it is run here. The rehearsals run in-process on the local engine, each configuration synthesized once;
the operator CLI runs as the installed command, on a copy of the rehearsal's saved state.

The rehearsal runs on a virtual clock and the Personalize emulator names its versions itself, so a command prints
the same every time except for two things, shown as `…`: the wall-clock seconds a rehearsal took, and the name
Step Functions gives an execution started without one (a random UUID, as on AWS), with the digest of it that ends
the name of each import's and campaign's execution the refresh starts. Trailing spaces are dropped.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.config import RefreshConfig, load_config
from local_engine.saved import SAVED_ENGINE_VARIABLE

from . import ROOT

COMMAND = "make samples"
PROGRAM = "personalize-refresh"
EXAMPLE = "config/example.json"
START = re.compile(r"^(?P<indent>[ \t]*)<!-- sample: (?P<name>[\w-]+) -->[ \t]*$", re.MULTILINE)
END = "<!-- /sample -->"
_VARYING = (
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "…"),
    (re.compile(r"(?<=-\d{8}-)[0-9a-f]{12}\b"), "…"),
    (re.compile(r" in \d+(?:\.\d+)? s \(synth \d+(?:\.\d+)? s\)"), " in … s (synth … s)"),
)


def pages() -> list[Path]:
    """The pages that may hold samples."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def normalized(text: str) -> str:
    """`text` as a sample shows it: what varies between runs as `…`, no trailing spaces or blank lines."""
    for pattern, shown in _VARYING:
        text = pattern.sub(shown, text)
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


class Runs:
    """The commands' runs, each made once however many samples show it: the templates per configuration, the
    rehearsals per scenario (with the state each saved), the week."""

    def __init__(self, workdir: Path, *, templates: Iterable[tuple[RefreshConfig, dict[str, Any]]] = ()) -> None:
        """`templates`: configurations the caller has synthesized already, with their templates."""
        self.workdir = workdir
        self._templates = {config.model_dump_json(): template for config, template in templates}
        self._refreshes: dict[Any, tuple[str, Path]] = {}
        self._week: str | None = None

    def config(self) -> RefreshConfig:
        return load_config(str(ROOT / EXAMPLE))

    def template(self, config: RefreshConfig) -> dict[str, Any]:
        from rehearsal.scenario import synthesized

        key = config.model_dump_json()
        if key not in self._templates:
            self._templates[key] = synthesized(config, _quiet)
        return self._templates[key]

    def refresh(self, **scenario: Any) -> tuple[str, Path]:
        """`make demo` with the scenario's options: (the report it prints, the state it saved)."""
        from rehearsal.report import render
        from rehearsal.scenario import Scenario, rehearse, scenario_config
        from rehearsal.verdict import judge

        key = tuple(sorted(scenario.items()))
        if key not in self._refreshes:
            chosen = Scenario(**scenario)
            config = scenario_config(self.config(), chosen, source=EXAMPLE)
            saved = self.workdir / f"refresh-{len(self._refreshes)}.pickle.gz"
            outcome = rehearse(
                config, chosen, progress=_quiet, template=self.template(config), save_to=saved, source=EXAMPLE
            )
            self._refreshes[key] = (render(outcome, judge(outcome)), saved)
        return self._refreshes[key]

    def week(self) -> str:
        """`make demo ARGS="--week"`: the report it prints."""
        from rehearsal.week import rehearse_week, week_config
        from rehearsal.week_report import render_week

        if self._week is None:
            config = week_config(self.config(), source=EXAMPLE)
            week = rehearse_week(config, progress=_quiet, template=self.template(config), source=EXAMPLE)
            self._week = render_week(week)
        return self._week

    def cli(self, saved: Path, *arguments: str) -> str:
        """`personalize-refresh ARGUMENTS` on the saved state, as a terminal-less shell runs it (a pipe, so
        that the output is not cut to a terminal's width), on a copy so that the state stays as it was."""
        state = self.workdir / "cli.pickle.gz"
        state.write_bytes(saved.read_bytes())
        installed = Path(sys.executable).with_name(PROGRAM)
        command = (
            [str(installed)] if installed.exists() else [sys.executable, "-c", "from operations.cli import run; run()"]
        )
        finished = subprocess.run(
            [*command, *arguments],
            cwd=ROOT,
            env={**os.environ, SAVED_ENGINE_VARIABLE: str(state)},
            capture_output=True,
            text=True,
            check=False,
        )
        if finished.returncode != 0:
            raise RuntimeError(f"`{PROGRAM} {' '.join(arguments)}` failed: {finished.stderr.strip()}")
        return finished.stdout


def _quiet(_: str) -> None:
    """The rehearsal's progress lines, which the samples leave out."""


@dataclass(frozen=True)
class Sample:
    name: str
    command: str  # what a reader runs to see it
    make: Callable[[Runs], str]


CAMPAIGN, BASE_DATE = "shop-home-recommendations", "20261129"

SAMPLES = (
    Sample("demo", "make demo", lambda runs: runs.refresh()[0]),
    Sample("demo-week", 'make demo ARGS="--week"', lambda runs: runs.week()),
    Sample(
        "show-failed-training",
        f'make demo ARGS="--fail training"; {PROGRAM} show --local {CAMPAIGN} {BASE_DATE}',
        lambda runs: runs.cli(runs.refresh(fail_phase="training")[1], "show", "--local", CAMPAIGN, BASE_DATE),
    ),
)
BY_NAME = {sample.name: sample for sample in SAMPLES}


@dataclass(frozen=True)
class Block:
    """A sample in a page: its name, where its fenced block's lines are, and its text (unindented)."""

    page: Path
    name: str
    indent: str
    start: int  # offset of the first line after the start marker
    end: int  # offset of the end marker's line
    text: str


class MalformedSample(ValueError):
    """A sample marker without its end, or without exactly one fenced block between them."""


def blocks(page: Path, text: str | None = None, *, root: Path = ROOT) -> Iterator[Block]:
    """The samples of a page (of `text`, when given, as the page's text)."""
    text = page.read_text(encoding="utf-8") if text is None else text
    for marker in START.finditer(text):
        indent, name = marker["indent"], marker["name"]
        start = marker.end() + 1
        end = text.find(f"{indent}{END}", start)
        where = f"{page.relative_to(root)}: sample {name!r}"
        if end < 0:
            raise MalformedSample(f"{where} has no `{END}` line after it")
        lines = [line.removeprefix(indent) for line in text[start:end].rstrip("\n").splitlines()]
        if len(lines) < 2 or not lines[0].startswith("```") or lines[-1] != "```":
            raise MalformedSample(f"{where}: put one fenced block (```text ... ```) between the markers")
        yield Block(page, name, indent, start, end, "\n".join(lines[1:-1]))


def fenced(block: Block, text: str) -> str:
    lines = ["```text", *text.splitlines(), "```"]
    return "".join(f"{block.indent}{line}".rstrip() + "\n" for line in lines)


def generate(runs: Runs, names: set[str]) -> dict[str, str]:
    """Each named sample as its command prints it today, normalized."""
    unknown = names - set(BY_NAME)
    if unknown:
        raise KeyError(f"no sample named {sorted(unknown)}; the samples are {sorted(BY_NAME)}")
    return {name: normalized(BY_NAME[name].make(runs)) for name in sorted(names)}


def stale(found: list[Block], generated: dict[str, str]) -> list[Block]:
    return [block for block in found if block.text != generated[block.name]]


def rewrite(page: Path, generated: dict[str, str], *, root: Path = ROOT) -> bool:
    """Rewrite the page's samples that changed; True when it wrote the page."""
    text = page.read_text(encoding="utf-8")
    changed = False
    for block in reversed(list(blocks(page, text, root=root))):
        if block.text != generated[block.name]:
            text = text[: block.start] + fenced(block, generated[block.name]) + text[block.end :]
            changed = True
    if changed:
        page.write_text(text, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m docs_tools.samples", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare with the committed samples")
    args = parser.parse_args(argv)

    from rehearsal.__main__ import use_project_node

    use_project_node()
    logging.disable(logging.CRITICAL)  # the embedded AWS logs each failed state as an error
    found = [block for page in pages() for block in blocks(page)]
    with tempfile.TemporaryDirectory(prefix="samples-") as workdir:
        generated = generate(Runs(Path(workdir)), {block.name for block in found})
    if args.check:
        outdated = stale(found, generated)
        for block in outdated:
            print(
                f"{block.page.relative_to(ROOT)}: sample {block.name!r} is out of date: run `{COMMAND}`",
                file=sys.stderr,
            )
        return 1 if outdated else 0
    for page in pages():
        if rewrite(page, generated):
            print(f"wrote {page.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
