"""Generators of what the docs show that is derived from the code, so it cannot drift from it: the state machine's
picture (`state_machine_diagram`), the configuration reference (`configuration_reference`), and the samples of
command output in README.md and docs/ (`samples`). A test regenerates each in memory and fails when the committed
text differs."""

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generate(
    argv: list[str] | None, *, program: str, description: str, doc: Path, command: str, render: Callable[[], str]
) -> bool:
    """A generator's command line: write `doc` from `render()`, or with --check only compare. True when the page
    was written (the caller then reports on it); exits 1 when --check finds the page out of date."""
    parser = argparse.ArgumentParser(prog=program, description=description)
    parser.add_argument("--check", action="store_true", help="only compare with the committed file")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not doc.exists() or doc.read_text(encoding="utf-8") != text:
            print(f"{doc.relative_to(ROOT)} is out of date: run `{command}`", file=sys.stderr)
            sys.exit(1)
        return False
    doc.write_text(text, encoding="utf-8")
    return True
