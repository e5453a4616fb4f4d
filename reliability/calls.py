"""What the pipeline asked Personalize, and faults armed at a chosen call.

The emulator already lists every call that reached it; this log sits in front of its entry point to
tell the pipeline's calls from the harness's own (a describe to see what a campaign serves, a version
stopped by "someone else"), to record how each call ended, and to run a hook just before the n-th
call of an operation: that is how a fault is injected at a moment of the run rather than at its start.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from local_engine.personalize import PersonalizeEmulator, PersonalizeError

Hook = Callable[[dict[str, Any]], None]  # receives the call's parameters


@dataclass(frozen=True)
class Call:
    operation: str
    outcome: str  # "ok", or the error code Personalize answered with


@dataclass
class _ArmedHook:
    operation: str
    nth: int
    action: Hook


class CallLog:
    """Wraps `emulator.call` while installed; counts only what the pipeline asked."""

    def __init__(self, emulator: PersonalizeEmulator) -> None:
        self._emulator = emulator
        self._lock = threading.Lock()
        self._local = threading.local()
        self._calls: list[Call] = []
        self._seen: Counter[str] = Counter()
        self._hooks: list[_ArmedHook] = []

    @contextmanager
    def installed(self) -> Iterator[CallLog]:
        real_call = self._emulator.call

        def call(operation: str, params: Any) -> Any:
            if getattr(self._local, "harness", False):
                return real_call(operation, params)
            self._before(operation, params)
            try:
                result = real_call(operation, params)
            except PersonalizeError as error:
                self._record(Call(operation, error.code))
                raise
            self._record(Call(operation, "ok"))
            return result

        self._emulator.call = call  # type: ignore[method-assign]
        try:
            yield self
        finally:
            del self._emulator.call

    @contextmanager
    def by_harness(self) -> Iterator[None]:
        """Calls made inside are the harness's own: not counted, and no hook fires on them."""
        previous = getattr(self._local, "harness", False)
        self._local.harness = True
        try:
            yield
        finally:
            self._local.harness = previous

    def on_call(self, operation: str, nth: int, action: Hook) -> None:
        """Run `action` just before the pipeline's `nth` call (1 = the next) of `operation`, counted from now."""
        if nth < 1:
            raise ValueError("nth counts from 1")
        with self._lock:
            self._hooks.append(_ArmedHook(operation, self._seen[operation] + nth, action))

    def reset(self) -> None:
        """Forget the calls so far: what a case observes starts at its trigger."""
        with self._lock:
            self._calls.clear()

    def count(self, operation: str, outcome: str | None = None) -> int:
        with self._lock:
            return sum(1 for c in self._calls if c.operation == operation and outcome in (None, c.outcome))

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def _before(self, operation: str, params: Any) -> None:
        with self._lock:
            self._seen[operation] += 1
            due = [h for h in self._hooks if h.operation == operation and h.nth == self._seen[operation]]
            for hook in due:
                self._hooks.remove(hook)
        for hook in due:
            with self.by_harness():
                hook.action(dict(params or {}))

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)
