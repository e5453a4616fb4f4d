"""VirtualClock on its own: discrete-event advancing among ClockThreads."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from local_engine.clock import ClockEvent, ClockThread, VirtualClock

T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = 3600


def run_threads(clock: VirtualClock, *targets) -> None:
    threads = [clock.Thread(target=target, daemon=True) for target in targets]
    with clock.hold():  # all start at the same simulated instant
        for thread in threads:
            thread.start()
    for thread in threads:
        thread.join(timeout=10)  # from the test thread: wall-time join
        assert not thread.is_alive(), "simulation stalled"


def test_reads_time_as_aware_utc() -> None:
    clock = VirtualClock(datetime(2024, 1, 1, 12, 0))  # naive means UTC

    assert clock.now() == datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert clock.now().tzinfo is not None
    assert clock.time() == clock.now().timestamp()
    assert clock.elapsed == timedelta(0)


def test_sleep_from_an_outside_thread_passes_instantly_in_simulated_time() -> None:
    clock = VirtualClock(T0)

    clock.sleep(90)

    assert clock.elapsed == timedelta(seconds=90)


def test_advance_moves_time_and_rejects_going_back() -> None:
    clock = VirtualClock(T0)

    clock.advance(30)

    assert clock.elapsed == timedelta(seconds=30)
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_side_by_side_sleepers_share_simulated_time() -> None:
    clock = VirtualClock(T0)
    woke: list[datetime] = []

    def sleeper() -> None:
        clock.sleep(6 * HOUR)
        woke.append(clock.now())

    run_threads(clock, sleeper, sleeper)

    assert woke == [T0 + timedelta(hours=6)] * 2
    assert clock.elapsed == timedelta(hours=6)


def test_a_busy_participant_is_never_skipped_past() -> None:
    clock = VirtualClock(T0)
    seen: dict[str, datetime] = {}

    def worker() -> None:
        clock.sleep(HOUR)
        seen["work started"] = clock.now()
        time.sleep(0.05)  # real work: the clock must hold still meanwhile
        seen["work ended"] = clock.now()
        clock.sleep(HOUR)

    def neighbour() -> None:
        clock.sleep(1.5 * HOUR)
        seen["neighbour woke"] = clock.now()

    run_threads(clock, worker, neighbour)

    assert seen["work started"] == T0 + timedelta(hours=1)
    assert seen["work ended"] == T0 + timedelta(hours=1)
    assert seen["neighbour woke"] == T0 + timedelta(hours=1.5)
    assert clock.elapsed == timedelta(hours=2)


def test_parent_joining_its_child_is_idle_not_busy() -> None:
    clock = VirtualClock(T0)
    joined_at: list[datetime] = []

    def parent() -> None:
        child = clock.Thread(target=lambda: clock.sleep(2 * HOUR))
        child.start()
        child.join()
        joined_at.append(clock.now())

    run_threads(clock, parent)

    assert joined_at == [T0 + timedelta(hours=2)]


def test_join_timeout_is_simulated() -> None:
    clock = VirtualClock(T0)
    outcome: dict[str, object] = {}

    def parent() -> None:
        child = clock.Thread(target=lambda: clock.sleep(HOUR), daemon=True)
        child.start()
        child.join(timeout=60)
        outcome["alive after timeout"] = child.is_alive()
        outcome["at"] = clock.now()
        child.join()

    run_threads(clock, parent)

    assert outcome == {"alive after timeout": True, "at": T0 + timedelta(seconds=60)}


def test_event_wait_times_out_or_fires_in_simulated_time() -> None:
    clock = VirtualClock(T0)
    event = clock.Event()
    results: list[tuple[str, bool, timedelta]] = []

    def short_waiter() -> None:
        results.append(("short", event.wait(timeout=10), clock.elapsed))

    def long_waiter() -> None:
        results.append(("long", event.wait(timeout=1000), clock.elapsed))

    def setter() -> None:
        clock.sleep(100)
        event.set()
        event.clear()  # moto pulses its program-state event exactly like this

    run_threads(clock, short_waiter, long_waiter, setter)

    assert sorted(results) == [
        ("long", True, timedelta(seconds=100)),
        ("short", False, timedelta(seconds=10)),
    ]


def test_wake_up_hands_over_without_a_false_idle_moment() -> None:
    # A child sets an event and exits while a sibling sleeps far ahead: the
    # woken parent must run before time may jump to the sibling's wake-up.
    clock = VirtualClock(T0)
    seen: list[timedelta] = []

    def parent() -> None:
        done = clock.Event()

        def child() -> None:
            clock.sleep(1)
            done.set()

        clock.Thread(target=child).start()
        done.wait()
        seen.append(clock.elapsed)

    def far_sleeper() -> None:
        clock.sleep(HOUR)

    for _ in range(50):
        clock = VirtualClock(T0)
        run_threads(clock, parent, far_sleeper)

    assert seen == [timedelta(seconds=1)] * 50


def test_hold_keeps_time_still_until_released() -> None:
    clock = VirtualClock(T0)
    woke: list[datetime] = []
    sleeper = clock.Thread(target=lambda: (clock.sleep(60), woke.append(clock.now())))

    with clock.hold():
        sleeper.start()
        time.sleep(0.05)
        assert clock.elapsed == timedelta(0)
    sleeper.join(timeout=10)

    assert woke == [T0 + timedelta(seconds=60)]


def test_advance_wakes_due_sleepers_while_time_is_held() -> None:
    clock = VirtualClock(T0)
    woke = threading.Event()

    with clock.hold():
        clock.Thread(target=lambda: (clock.sleep(30), woke.set()), daemon=True).start()
        clock.advance(29)
        assert not woke.wait(0.05)
        clock.advance(1)
        assert woke.wait(10)
        assert clock.elapsed == timedelta(seconds=30)


def test_outside_threads_use_ordinary_blocking() -> None:
    clock = VirtualClock(T0)
    event = clock.Event()
    thread = clock.Thread(target=event.set)

    assert isinstance(event, ClockEvent) and isinstance(thread, ClockThread)
    assert not clock.is_participant()
    assert event.wait(timeout=0.01) is False
    thread.start()
    thread.join(timeout=10)
    assert event.wait(timeout=10) is True
    assert clock.elapsed == timedelta(0)
