"""The poll loop every phase shares: wait as planned, move the plan on, describe the job.

The task Lambda that starts a job plans its polls (lambdas/refresh_common/polling.py): `poll` holds the
waits, the index of the one in use and that wait (`next`). What each phase does with what it described
(status changed? over its limit? finished?) is the phase's own: see imports.py and campaigns.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import retries
from .states import DESCRIBE_TIMEOUT, State, States, catch_all


@dataclass(frozen=True)
class PollLoop:
    phase: str  # "import", "training" or "deployment"
    wait: str  # the states' names
    plan: str
    describe: str
    poll_path: str  # where the plan is, e.g. "$.job.poll"
    planned_by: str  # who planned the waits, for the Wait's comment
    action: str  # the aws-sdk integration's action, e.g. "describeDatasetImportJob"
    parameters: dict[str, Any]
    result_selector: dict[str, Any]
    describe_comment: str | None = None

    def states(self, *, next_: str, on_error: str) -> States:
        """The Wait, the Pass that moves the plan on, and the describe Task, which goes to `next_`, or to
        `on_error` with `$.error` once its retries are spent."""
        describe: State = {"Type": "Task"}
        if self.describe_comment:
            describe["Comment"] = self.describe_comment
        describe |= {
            "Resource": f"arn:aws:states:::aws-sdk:personalize:{self.action}",
            "Parameters": self.parameters,
            "ResultSelector": self.result_selector,
            "ResultPath": "$.describe",
            "TimeoutSeconds": DESCRIBE_TIMEOUT,
            "Retry": [retries.DESCRIBE],
            "Catch": [catch_all("$.error", on_error)],
            "Next": next_,
        }
        poll = self.poll_path
        return {
            self.wait: {
                "Type": "Wait",
                "Comment": f"Waits as the {self.planned_by} Lambda planned from earlier {self.phase_noun}.",
                "SecondsPath": f"{poll}.next",
                "Next": self.plan,
            },
            self.plan: {
                "Type": "Pass",
                "Comment": "Moves on to the next planned wait (the plan covers the phase's limit with waits to spare).",
                "Parameters": {
                    "waits.$": f"{poll}.waits",
                    "index.$": f"States.MathAdd({poll}.index, 1)",
                    "next.$": f"States.ArrayGetItem({poll}.waits, States.MathAdd({poll}.index, 1))",
                },
                "ResultPath": poll,
                "Next": self.describe,
            },
            self.describe: describe,
        }

    @property
    def phase_noun(self) -> str:
        return {
            "import": "imports of the dataset",
            "training": "trainings of the solution",
            "deployment": "updates of the campaign",
        }[self.phase]
