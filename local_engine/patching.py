"""The one shape every change to moto takes here: a set of `mock.patch` objects started together
and stopped in reverse, usable as a context manager; and the stand-in module some of them put in."""

from __future__ import annotations

from types import ModuleType
from typing import Any


class ModuleShim:
    """Stands in for a module inside one moto module: a few names replaced, everything else
    forwarded to the real module."""

    def __init__(self, real: ModuleType, **overrides: Any) -> None:
        self._real = real
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


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
