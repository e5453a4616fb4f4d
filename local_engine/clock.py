"""A discrete-event virtual clock shared by every thread of a local workflow run.

Simulated time only moves when nothing that participates in the simulation
can make progress any more: each participating thread is either blocked in
the clock (a ``sleep``, a timed wait, a wait on a clock-aware event or
thread) or has finished. Time then jumps, instantly in wall time, to the
earliest pending wake-up.

Participation is decided by the kind of thread, not by guesswork: threads
created through :meth:`VirtualClock.Thread` are participants, counted as
*runnable* from the moment ``start()`` is called until they block in the
clock or end. Wake-ups hand the runnable count over atomically (the waker
counts the woken thread before it lets go of the clock lock), so there is no
window in which a thread that is about to run looks idle.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any


class _Waiter:
    """One blocked call; ``woken`` flips exactly once, under the clock lock."""

    __slots__ = ("by_event", "counted", "deadline", "woken")

    def __init__(self, deadline: datetime | None, counted: bool) -> None:
        self.deadline = deadline
        self.counted = counted
        self.woken = False
        self.by_event = False


class VirtualClock:
    """Simulated UTC time that advances only when every participant is idle."""

    def __init__(self, start: datetime) -> None:
        self._start = _as_utc(start)
        self._now = self._start
        self._cond = threading.Condition(threading.Lock())
        self._runnable = 0
        self._timers: list[tuple[datetime, int, _Waiter]] = []
        self._sequence = itertools.count()

    # -- reading time ---------------------------------------------------

    def now(self) -> datetime:
        with self._cond:
            return self._now

    def time(self) -> float:
        return self.now().timestamp()

    @property
    def start(self) -> datetime:
        return self._start

    @property
    def elapsed(self) -> timedelta:
        return self.now() - self._start

    # -- moving time ----------------------------------------------------

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds`` of simulated time."""
        if seconds > 0:
            self._block(timeout=seconds, event=None)

    def advance(self, seconds: float) -> None:
        """Move time forward by hand, waking every sleeper that falls due."""
        if seconds < 0:
            raise ValueError("the clock cannot go backwards")
        with self._cond:
            target = self._now + timedelta(seconds=seconds)
            self._wake_due(target)
            self._now = target
            self._maybe_advance()

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Keep time still while the caller (e.g. a test) sets several things up.

        Without it, a first execution started from a non-participating thread
        could already sleep its way forward before a second one is started.
        """
        with self._cond:
            self._runnable += 1
        try:
            yield
        finally:
            with self._cond:
                self._runnable -= 1
                self._maybe_advance()

    # -- clock-aware primitives -------------------------------------------
    # Named like threading's factories so a stand-in `threading` module can
    # hand them to code that calls threading.Thread(...) / threading.Event().

    def Thread(self, *args: Any, **kwargs: Any) -> ClockThread:
        return ClockThread(*args, clock=self, **kwargs)

    def Event(self) -> ClockEvent:
        return ClockEvent(self)

    def RLock(self) -> ClockRLock:
        return ClockRLock(self)

    def is_participant(self, thread: threading.Thread | None = None) -> bool:
        thread = thread or threading.current_thread()
        return isinstance(thread, ClockThread) and thread.virtual_clock is self

    # -- bookkeeping shared with ClockThread / ClockEvent ----------------

    def _enter(self) -> None:
        with self._cond:
            self._runnable += 1

    def _leave(self) -> None:
        with self._cond:
            self._runnable -= 1
            self._maybe_advance()

    def _block(self, timeout: float | None, event: ClockEvent | None) -> bool:
        """Wait for ``event`` and/or ``timeout`` simulated seconds.

        Returns True when the event fired (or was already set), False when
        the simulated deadline passed first.
        """
        with self._cond:
            if event is not None and event.is_set():
                return True
            waiter = _Waiter(self._deadline(timeout), self.is_participant())
            if waiter.deadline is not None:
                heapq.heappush(self._timers, (waiter.deadline, next(self._sequence), waiter))
            if event is not None:
                event._clock_waiters.add(waiter)
            if waiter.counted:
                self._runnable -= 1
            self._maybe_advance()
            while not waiter.woken:
                self._cond.wait()
            if event is not None:
                event._clock_waiters.discard(waiter)
            if not waiter.counted:
                # An outside thread (a test) got a runnable token on waking so
                # time could not race past it; it gives the token back now.
                self._runnable -= 1
                self._maybe_advance()
            return waiter.by_event

    def _wake_event_waiters(self, event: ClockEvent) -> None:
        with self._cond:
            for waiter in list(event._clock_waiters):
                self._wake(waiter, by_event=True)
            event._clock_waiters.clear()

    def _deadline(self, timeout: float | None) -> datetime | None:
        if timeout is None:
            return None
        try:
            return self._now + timedelta(seconds=max(timeout, 0))
        except OverflowError:
            # threading.TIMEOUT_MAX and friends mean "forever".
            return None

    def _wake(self, waiter: _Waiter, by_event: bool) -> None:
        if waiter.woken:
            return
        waiter.woken = True
        waiter.by_event = by_event
        self._runnable += 1
        self._cond.notify_all()

    def _wake_due(self, instant: datetime) -> None:
        while self._timers and self._timers[0][0] <= instant:
            _, _, waiter = heapq.heappop(self._timers)
            self._wake(waiter, by_event=False)

    def _maybe_advance(self) -> None:
        """Jump to the earliest wake-up if nobody can make progress (lock held)."""
        while self._runnable == 0 and self._timers:
            deadline, _, waiter = self._timers[0]
            if waiter.woken:
                heapq.heappop(self._timers)
                continue
            self._now = max(self._now, deadline)
            self._wake_due(self._now)


class ClockEvent(threading.Event):
    """A ``threading.Event`` whose waits by participants are simulated-time waits."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self._virtual_clock = clock
        self._clock_waiters: set[_Waiter] = set()

    def set(self) -> None:
        super().set()
        # Hand runnable tokens to the waiters while the setter still holds
        # its own, so the clock never sees a false "everyone is idle".
        self._virtual_clock._wake_event_waiters(self)

    def wait(self, timeout: float | None = None) -> bool:
        if not self._virtual_clock.is_participant():
            return super().wait(timeout)
        if timeout is not None and timeout <= 0:
            return self.is_set()
        return self._virtual_clock._block(timeout=timeout, event=self)


class ClockRLock:
    """A reentrant lock whose waits by participants are simulated-time waits: a thread that holds it may sleep
    on the clock (an SDK's retry backoff in a Lambda handler) while others wait for it, and time still moves."""

    def __init__(self, clock: VirtualClock) -> None:
        self._virtual_clock = clock
        self._guard = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._released = ClockEvent(clock)

    def acquire(self) -> None:
        me = threading.get_ident()
        while True:
            with self._guard:
                if self._owner in (None, me):
                    self._owner, self._depth = me, self._depth + 1
                    return
                released = self._released
            released.wait()

    def release(self) -> None:
        with self._guard:
            self._depth -= 1
            if self._depth:
                return
            self._owner = None
            released, self._released = self._released, ClockEvent(self._virtual_clock)
        released.set()

    def __enter__(self) -> ClockRLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.release()


class ClockThread(threading.Thread):
    """A thread that takes part in the simulation from start() until it ends."""

    def __init__(self, *args: Any, clock: VirtualClock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._virtual_clock = clock
        self._clock_finished = ClockEvent(clock)

    @property
    def virtual_clock(self) -> VirtualClock:
        return self._virtual_clock

    def start(self) -> None:
        # Counted before the OS thread exists: a sibling blocking right now
        # must not let time pass this thread by before it even ran.
        self._virtual_clock._enter()
        try:
            super().start()
        except BaseException:
            self._virtual_clock._leave()
            raise

    def run(self) -> None:
        try:
            super().run()
        finally:
            self._clock_finished.set()
            self._virtual_clock._leave()

    def join(self, timeout: float | None = None) -> None:
        if self.ident is None or not self._virtual_clock.is_participant():
            super().join(timeout)
            return
        if self._clock_finished.wait(timeout):
            super().join()  # only the interpreter's thread teardown is left


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
