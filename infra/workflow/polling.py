"""The poll loop every phase has, in the project's shape or in a peer's.

The project's own (`PLANNED`): the task Lambda that starts a job plans its polls from earlier runs
(lambdas/refresh_common/polling.py): `poll` holds the waits, the index of the one in use and that wait
(`next`). Each poll waits, moves the plan on and describes the job; what the phase does with what it
described (status changed? over its limit?) is the phase's own, in imports.py and campaigns.py.

The peers the bench measures it against are built as their authors build them, in their shapes:
`FixedWaits` (Wait a fixed time, describe, Choice: ended?) and `LambdaRetry` (a Lambda that describes the
job and raises until it has ended, retried by Step Functions, then the same Choice). Neither records the
statuses it sees nor checks the phase's limit: they stop at the execution's timeout, or when the retries run out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import retries
from .states import DESCRIBE_TIMEOUT, LAMBDA_TASK_TIMEOUT, State, States, catch_all

PHASES = ("import", "training", "deployment")
UNCHANGED = (
    "An unchanged status is no end (the one seen before was not, or the loop would have ended): "
    "poll again without asking."
)


@dataclass(frozen=True)
class Planned:
    """The project's own: the waits its task Lambdas planned from earlier runs of the same job."""


@dataclass(frozen=True)
class FixedWaits:
    """A peer: Wait the same seconds before every poll, per phase."""

    seconds: Mapping[str, int]


@dataclass(frozen=True)
class LambdaRetry:
    """A peer (as AWS's solution for maintaining Personalize models polls): a Lambda raises PENDING until the
    job has ended, retried every `interval` seconds growing by `backoff`, at most `attempts[phase]` times."""

    attempts: Mapping[str, int]
    interval: int = 60  # seconds
    backoff: float = 1.02

    PENDING = "ResourcePending"  # what the poller raises while the job runs
    FUNCTION = "${PollFunctionArn}"  # a substitution the bench adds with the poller's function


Polling = Planned | FixedWaits | LambdaRetry
PLANNED = Planned()


@dataclass(frozen=True)
class PollLoop:
    phase: str  # one of PHASES
    wait: str  # the states' names
    plan: str
    describe: str
    poll_path: str  # where the plan is, e.g. "$.job.poll"
    planned_by: str  # who planned the waits, for the Wait's comment
    action: str  # the aws-sdk integration's action, e.g. "describeDatasetImportJob"
    parameters: dict[str, Any]
    result_selector: dict[str, Any]
    job: dict[str, str]  # the peers' poller's payload: what to describe, read from the state's input
    ended: str  # a peer's Choice: has the job ended?
    describe_comment: str | None = None

    def first(self, polling: Polling) -> str:
        """The state a poll starts from: where the phase goes to poll again."""
        return self.poller if isinstance(polling, LambdaRetry) else self.wait

    def ran_out(self, next_: str) -> dict[str, Any]:
        """A Choice rule: the plan has no wait left after this one (the next Pass would read past its end, an
        uncatchable States.Runtime), so the loop ends at `next_`. The plan holds waits for well past the phase's
        limit: only a job that never answers an end, nor lets the limit end it, gets there."""
        return {
            "Variable": f"{self.poll_path}.index",
            "NumericGreaterThanEqualsPath": f"{self.poll_path}.last",
            "Next": next_,
        }

    @property
    def poller(self) -> str:
        return f"Poll {self.phase} until it ends"

    def states(
        self, polling: Polling, *, ours: States, next_: str, on_error: str, endings: list[dict[str, Any]]
    ) -> States:
        """One phase's polling. Planned: the Wait, the Pass that moves the plan on and the describe Task, which
        goes to `next_` (the first of `ours`, the phase's own states after a describe). A peer: its own loop,
        whose Choice takes `endings` (Choice rules on `$.describe`) or polls again. A describe that fails after
        its retries goes to `on_error` with `$.error`."""
        if isinstance(polling, Planned):
            return {**self._planned(), self.describe: self._describe(next_=next_, on_error=on_error), **ours}
        ended = {"Type": "Choice", "Choices": endings, "Default": self.first(polling)}
        if isinstance(polling, FixedWaits):
            seconds = polling.seconds[self.phase]
            return {
                self.wait: {
                    "Type": "Wait",
                    "Comment": f"Fixed {seconds} s between polls.",
                    "Seconds": seconds,
                    "Next": self.describe,
                },
                self.describe: self._describe(next_=self.ended, on_error=on_error),
                self.ended: ended,
            }
        return {self.poller: self._poller(polling, on_error=on_error), self.ended: ended}

    def _planned(self) -> States:
        poll = self.poll_path
        return {
            self.wait: {
                "Type": "Wait",
                "Comment": f"Waits as the {self.planned_by} Lambda planned from earlier {self._jobs}.",
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
                    "last.$": f"{poll}.last",
                },
                "ResultPath": poll,
                "Next": self.describe,
            },
        }

    def _describe(self, *, next_: str, on_error: str) -> State:
        describe: State = {"Type": "Task"}
        if self.describe_comment:
            describe["Comment"] = self.describe_comment
        return describe | {
            "Resource": f"arn:aws:states:::aws-sdk:personalize:{self.action}",
            "Parameters": self.parameters,
            "ResultSelector": self.result_selector,
            "ResultPath": "$.describe",
            "TimeoutSeconds": DESCRIBE_TIMEOUT,
            "Retry": [retries.DESCRIBE],
            "Catch": [catch_all("$.error", on_error)],
            "Next": next_,
        }

    def _poller(self, polling: LambdaRetry, *, on_error: str) -> State:
        """Returns what the describe Task would have put in `$.describe`, once the job has ended (the time it
        looked instead of the state's entry time: a retried Task keeps its first)."""
        return {
            "Type": "Task",
            "Comment": f"Describes the {self.phase} job and raises {polling.PENDING} until it has ended.",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": polling.FUNCTION, "Payload": {"phase": self.phase, **self.job}},
            "ResultSelector": {
                key: "$.Payload.checked_at"
                if path == "$$.State.EnteredTime"
                else "$.Payload." + path.removeprefix("$.")
                for key, path in self.result_selector.items()
            },
            "ResultPath": "$.describe",
            "TimeoutSeconds": LAMBDA_TASK_TIMEOUT,
            "Retry": [
                {
                    "ErrorEquals": [polling.PENDING],
                    "IntervalSeconds": polling.interval,
                    "BackoffRate": polling.backoff,
                    "MaxAttempts": polling.attempts[self.phase],
                },
                retries.LAMBDA_SERVICE,
            ],
            "Catch": [catch_all("$.error", on_error)],
            "Next": self.ended,
        }

    @property
    def _jobs(self) -> str:
        return {
            "import": "imports of the dataset",
            "training": "trainings of the solution",
            "deployment": "updates of the campaign",
        }[self.phase]


def status_is(variable: str, status: str, next_: str) -> dict[str, Any]:
    return {"Variable": variable, "StringEquals": status, "Next": next_}
