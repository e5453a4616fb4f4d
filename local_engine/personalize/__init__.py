"""Amazon Personalize emulator with virtual-clock lifecycles and fault
injection, servable to boto3 through moto (see ``endpoint.serve``)."""

from typing import Any

from .emulator import DEFAULT_RECIPE_ARN, MAX_ACTIVE_IMPORT_JOBS, Call, PersonalizeEmulator
from .errors import PersonalizeError
from .faults import Faults, JobKind
from .lifecycle import (
    ACTIVE,
    CREATE_FAILED,
    CREATE_IN_PROGRESS,
    CREATE_PENDING,
    CREATE_STOPPED,
    CREATE_STOPPING,
)

__all__ = [
    "ACTIVE",
    "CREATE_FAILED",
    "CREATE_IN_PROGRESS",
    "CREATE_PENDING",
    "CREATE_STOPPED",
    "CREATE_STOPPING",
    "DEFAULT_RECIPE_ARN",
    "MAX_ACTIVE_IMPORT_JOBS",
    "Call",
    "Faults",
    "JobKind",
    "PersonalizeEmulator",
    "PersonalizeError",
    "serve",
]


def __getattr__(name: str) -> Any:
    # serve pulls in moto; import it lazily so the emulator alone stays light.
    if name == "serve":
        from .endpoint import serve

        return serve
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
