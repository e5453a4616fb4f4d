"""The Lambdas' source of the current time: one function, so a local rehearsal can run them on simulated time."""

import time
from datetime import UTC, datetime


def now() -> float:
    """Epoch seconds."""
    return time.time()


def iso(epoch: float) -> str:
    """ISO-8601 in UTC with milliseconds, as Step Functions writes `$$.State.EnteredTime`, so the
    state machine's Choice rules can compare the two."""
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def phase_limit(timeout_seconds: int) -> dict[str, str]:
    """When a phase started now must be over: what its poll loop compares each check with, and the
    limit in words for the record."""
    started = now()
    hours, rest = divmod(timeout_seconds, 3600)
    limit = f"{hours} h" if not rest else f"{timeout_seconds // 60} min"
    return {"checked_at": iso(started), "deadline": iso(started + timeout_seconds), "limit": limit}
