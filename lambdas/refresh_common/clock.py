"""The Lambdas' source of the current time: one function, so a local rehearsal can run them on simulated time."""

import time


def now() -> float:
    """Epoch seconds."""
    return time.time()
