"""The largest execution history a configuration can produce, against Step Functions' quota.

A Standard execution fails when its history reaches 25,000 events, and that end is uncatchable.
Each poll of a job adds a fixed number of events, so the largest history is bounded by how many
polls each phase may make before its timeout:

    polls(phase)   = the most polls a plan can make before the phase's limit (`largest_number_of_polls`
                     in lambdas/refresh_common/polling.py): the first wait, at most 30 in the expected
                     window, the growth back to the longest wait, and ceil(limit / longest wait) + 1
    per poll       = the events of one poll that sees no change, read from the built definition
                     (`events_per_poll` in infra/workflow/history.py)
    per dataset    = per poll(import) x polls(import)
    per campaign   = per poll(training) x polls(training) + per poll(deployment) x polls(deployment)
    fixed          = 160 events for the claim, the starts, the status changes and the ends, plus
                     70 per dataset and 100 per campaign for their Map iterations and record writes
    stage events   = each PutEvents Task writes 5 (entered, scheduled, started, succeeded, exited);
                     a run puts at most 2 (claimed, its end), a dataset 2 (import started, ACTIVE)
                     and a campaign 4 (training started, ACTIVE, the gate's decision, its end),
                     which the fixed figures above include

and the whole must stay below BUDGET, 80 % of the quota: retries of throttled calls add events too
(each retry three), and a run that comes that near has a polling interval too short for its limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from refresh_common import polling

from .workflow.history import events_per_poll

HISTORY_EVENT_QUOTA = 25_000
BUDGET = int(HISTORY_EVENT_QUOTA * 0.8)
FIXED_EVENTS = 160
EVENTS_PER_DATASET = 70
EVENTS_PER_CAMPAIGN = 100


@dataclass(frozen=True)
class Phase:
    timeout_seconds: float
    polling_seconds: int  # the longest wait between two polls
    dense_seconds: int  # the wait around the expected end
    window_polls: int = 30  # the polls in the expected window, at most
    growth: float = 1.25  # how much longer each wait is than the one before, past the window

    @property
    def polls(self) -> int:
        dense = min(self.dense_seconds, self.polling_seconds)
        bounds = polling.PollBounds(
            dense, self.polling_seconds, ceil(self.timeout_seconds), window_polls=self.window_polls, growth=self.growth
        )
        return int(polling.largest_number_of_polls(bounds))


def largest_history(*, import_: Phase, training: Phase, deployment: Phase, datasets: int, campaigns: int) -> int:
    """The most events one execution of this configuration can write."""
    per_dataset = EVENTS_PER_DATASET + events_per_poll("import") * import_.polls
    per_campaign = EVENTS_PER_CAMPAIGN + events_per_poll("training") * training.polls
    per_campaign += events_per_poll("deployment") * deployment.polls
    return FIXED_EVENTS + datasets * per_dataset + campaigns * per_campaign
