"""The README stays true to the code and leads: it names every make target, stack output and pinned dependency
(and why each is there), the error it shows is the one `cdk synth` prints, and it stays short."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.conftest import ROOT, example_raw

README = (ROOT / "README.md").read_text(encoding="utf-8")
README_MOST_LINES = 300


def section(heading: str, text: str = README) -> str:
    """The README's text (or `text`) from `heading` to the next heading of the same or a higher level."""
    start = text.index(f"\n{heading}\n")
    level = len(heading.split(" ", 1)[0])
    following = re.compile(rf"^#{{1,{level}}} ", re.MULTILINE).search(text, start + len(heading) + 2)
    return text[start : following.start() if following else len(text)]


def test_every_make_target_and_stack_output_is_named() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    (phony,) = re.findall(r"^\.PHONY: (.*)$", makefile, re.MULTILINE)
    stack = (ROOT / "infra" / "stack.py").read_text(encoding="utf-8")
    outputs = re.findall(r'CfnOutput\(\s*self,\s*"(\w+)"', stack)
    assert {"StateMachineArn", "AlertSubscription"} <= set(outputs), "the stack's outputs were found"

    assert [target for target in phony.split() if f"make {target}" not in README] == []
    assert [output for output in outputs if f"`{output}`" not in README] == []
    assert "-c stack_name=" in README


def test_the_readme_says_why_each_pinned_dependency_is_there() -> None:
    dependencies = section("## Dependencies, and why each is there")
    explained = {name.lower() for name in re.findall(r"\*\*([\w.-]+)\*\*", dependencies)}
    pinned = [
        Requirement(line).name.lower()
        for file_name in ("requirements.txt", "requirements-dev.txt")
        for line in (ROOT / file_name).read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith(("#", "-r"))
    ]
    assert "aws-cdk-lib" in pinned and "moto" in pinned, "the requirements were read"

    assert [name for name in pinned if name not in explained] == []


def test_the_configuration_error_shown_is_what_cdk_synth_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app

    shown = re.findall(r"^```\n(cdk synth: .*)\n```$", section("## Configure"), re.MULTILINE)
    assert len(shown) == 1, "the README shows one error of cdk synth"
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "my-shop.json").write_text(json.dumps({**example_raw(), "time_zone": "Seoul"}))
    monkeypatch.chdir(tmp_path)
    # `cdk synth -c config=config/my-shop.json` (the CLI's -c reaches the app as its context)
    app_with_context = app.cdk.App
    monkeypatch.setattr(app.cdk, "App", lambda: app_with_context(context={"config": "config/my-shop.json"}))

    with pytest.raises(SystemExit) as exited:
        app.main()

    assert exited.value.code == shown[0]


def test_the_readme_leads_in_at_most_300_lines() -> None:
    lines = len(README.splitlines())

    assert lines <= README_MOST_LINES, (
        f"README.md has {lines} lines: keep it to what a newcomer needs first, and move the rest to docs/"
    )
