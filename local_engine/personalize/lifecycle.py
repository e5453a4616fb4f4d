"""Status timelines: a resource's future is scheduled when it is created and
its status is read off the timeline at whatever ``now`` the caller passes, so
advancing the virtual clock is all it takes to move a lifecycle forward."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

CREATE_PENDING = "CREATE PENDING"
CREATE_IN_PROGRESS = "CREATE IN_PROGRESS"
ACTIVE = "ACTIVE"
CREATE_FAILED = "CREATE FAILED"
CREATE_STOPPING = "CREATE STOPPING"
CREATE_STOPPED = "CREATE STOPPED"

TERMINAL_STATUSES = frozenset({ACTIVE, CREATE_FAILED, CREATE_STOPPED})


@dataclass(frozen=True)
class Failure:
    """How a job that fails ends. ``reason`` may be None: the API reference
    marks every ``failureReason`` optional, so a CREATE FAILED job can come
    back without one."""

    reason: str | None


@dataclass
class Timeline:
    """Ordered (time, status) transitions, and how the job fails if it does."""

    transitions: list[tuple[datetime.datetime, str]]
    failure: Failure | None = None

    @classmethod
    def scheduled(
        cls,
        start: datetime.datetime,
        pending: datetime.timedelta,
        work: datetime.timedelta,
        failure: Failure | None = None,
    ) -> Timeline:
        end_status = CREATE_FAILED if failure is not None else ACTIVE
        return cls(
            transitions=[
                (start, CREATE_PENDING),
                (start + pending, CREATE_IN_PROGRESS),
                (start + pending + work, end_status),
            ],
            failure=failure,
        )

    def state_at(self, now: datetime.datetime) -> tuple[str, datetime.datetime]:
        """(status, time that status was entered) as seen at ``now``."""
        when, status = self.transitions[0]
        for t, s in self.transitions[1:]:
            if t > now:
                break
            when, status = t, s
        return status, when

    def status_at(self, now: datetime.datetime) -> str:
        return self.state_at(now)[0]

    def is_busy(self, now: datetime.datetime) -> bool:
        return self.status_at(now) not in TERMINAL_STATUSES

    def failure_reason_at(self, now: datetime.datetime) -> str | None:
        """The reason shown at ``now``: only once failed, and only if it has one."""
        if self.failure is None or self.status_at(now) != CREATE_FAILED:
            return None
        return self.failure.reason

    def reached_at(self, status: str, now: datetime.datetime) -> datetime.datetime | None:
        """When ``status`` was entered, if it has been by ``now``."""
        for t, s in self.transitions:
            if s == status and t <= now:
                return t
        return None

    @property
    def end(self) -> datetime.datetime:
        """When the last scheduled transition happens."""
        return self.transitions[-1][0]

    def fail_at_end(self, failure: Failure) -> None:
        """Turn a scheduled success into a failure at the same moment: for a
        job whose outcome is only known once its work is done."""
        when, _ = self.transitions[-1]
        self.transitions[-1] = (when, CREATE_FAILED)
        self.failure = failure

    def stop(self, now: datetime.datetime, stopping: datetime.timedelta) -> None:
        """Cancel the remaining schedule. Per the StopSolutionVersionCreation
        docs a pending version goes straight to CREATE STOPPED while one in
        progress passes through CREATE STOPPING first."""
        was_pending = self.status_at(now) == CREATE_PENDING
        self.transitions = [(t, s) for t, s in self.transitions if t <= now]
        if was_pending:
            self.transitions.append((now, CREATE_STOPPED))
        else:
            self.transitions.append((now, CREATE_STOPPING))
            self.transitions.append((now + stopping, CREATE_STOPPED))
        self.failure = None


@dataclass
class Durations:
    """Phase lengths applied to jobs created from now on."""

    pending: datetime.timedelta = field(default_factory=lambda: datetime.timedelta(seconds=60))
    import_: datetime.timedelta = field(default_factory=lambda: datetime.timedelta(hours=1))
    training: datetime.timedelta = field(default_factory=lambda: datetime.timedelta(hours=6))
    deployment: datetime.timedelta = field(default_factory=lambda: datetime.timedelta(minutes=30))
    stopping: datetime.timedelta = field(default_factory=lambda: datetime.timedelta(seconds=60))
    # AWS documents no duration for either training mode; an UPDATE only adds new items to a trained
    # model, so a rehearsal may give it its own (None: as long as a FULL training).
    update_training: datetime.timedelta | None = None

    PHASES = ("pending", "import", "training", "update_training", "deployment", "stopping")

    def set(self, phase: str, duration: datetime.timedelta) -> None:
        if phase not in self.PHASES:
            raise ValueError(f"unknown phase {phase!r}; expected one of {self.PHASES}")
        if duration < datetime.timedelta(0):
            raise ValueError("a phase cannot take a negative duration")
        setattr(self, "import_" if phase == "import" else phase, duration)

    def training_for(self, mode: str) -> datetime.timedelta:
        """How long a version created with this trainingMode trains."""
        if mode == "UPDATE" and self.update_training is not None:
            return self.update_training
        return self.training
