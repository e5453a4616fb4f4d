"""Exceptions whose class names are the error names the state machine's Retry and Catch match."""


class InvalidRunInput(ValueError):
    """The execution input is not a Glue success event nor a manual start; nothing was written."""


class InvalidSettings(RuntimeError):
    """The function's environment does not hold valid settings: a deployment problem."""


class NameAttemptsExhausted(RuntimeError):
    """Every deterministic job name for this base date is taken by a failed job."""


class RunNotOwned(RuntimeError):
    """The run record belongs to another execution; this one must not write it."""
