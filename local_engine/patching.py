"""The one shape every change to moto takes here: a set of `mock.patch` objects started together
and stopped in reverse, usable as a context manager."""

from __future__ import annotations

from typing import Any


class PatchSet:
    """Subclasses say what to patch in `_patches_to_apply`; install and uninstall are shared."""

    def __init__(self) -> None:
        self._patches: list[Any] = []

    def _patches_to_apply(self) -> list[Any]:
        raise NotImplementedError

    @property
    def installed(self) -> bool:
        return bool(self._patches)

    def install(self) -> None:
        if self._patches:
            return
        self._patches = self._patches_to_apply()
        for patch in self._patches:
            patch.start()

    def uninstall(self) -> None:
        for patch in reversed(self._patches):
            patch.stop()
        self._patches = []

    def __enter__(self) -> PatchSet:
        self.install()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.uninstall()
