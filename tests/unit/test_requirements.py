"""The pinned requirements install cleanly: every extra asked of a package is one it provides."""

from __future__ import annotations

from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT


def requirements(file_name: str) -> list[Requirement]:
    lines = (ROOT / file_name).read_text(encoding="utf-8").splitlines()
    return [Requirement(line) for line in lines if line.strip() and not line.startswith(("#", "-r"))]


def test_every_requested_extra_exists() -> None:
    for file_name in ("requirements.txt", "requirements-dev.txt"):
        for requirement in requirements(file_name):
            extras = metadata.metadata(requirement.name).get_all("Provides-Extra") or []
            provided = {canonicalize_name(extra) for extra in extras}
            unknown = {canonicalize_name(e) for e in requirement.extras} - provided
            assert not unknown, f"{file_name}: {requirement.name} has no extra {sorted(unknown)}; pip warns on install"
