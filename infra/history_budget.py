"""The largest execution histories a configuration can produce, against Step Functions' quota.

A Standard execution fails when its history reaches 25,000 events, and that end is uncatchable. A run is
three kinds of execution (infra/workflow/executions.py), each with its own history:

    campaign execution = FIXED_CAMPAIGN + per poll(training) x polls(training)
                                        + per poll(deployment) x polls(deployment)
    import execution   = FIXED_IMPORT + per poll(import) x polls(import)
                         + STATUS_CHANGES x (MIRROR + MIRROR_PER_CAMPAIGN x campaigns)
    refresh execution  = FIXED + PER_DATASET x datasets + PER_CAMPAIGN x campaigns

    polls(phase)   = the most polls a plan can make before the phase's limit (`largest_number_of_polls`
                     in lambdas/refresh_common/polling.py): the first wait, at most 30 in the expected
                     window, the growth back to the longest wait, and ceil(limit / longest wait) + 1
    per poll       = the events of one poll that sees no change, read from the built definition
                     (`events_per_poll` in infra/workflow/history.py)
    fixed figures  = a campaign's starts, gate, status changes, record writes and stage events (100), a
                     dataset's (40); the refresh's claim, starts and ends (160), and per dataset and campaign
                     the Map iteration that starts and awaits its execution (20 each); an import's status
                     change is mirrored into the record of every campaign of the run (a Map: 6, and 10 per
                     campaign), at most STATUS_CHANGES times

So no execution's history grows with both the datasets and the campaigns' polls: a campaign's polls are in its
own execution. Each must stay below BUDGET, 80 % of the quota: retries of throttled calls add events too
(each retry three), and a run that comes that near has a polling interval too short for its limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from refresh_common import polling

from .workflow.history import events_per_poll

HISTORY_EVENT_QUOTA = 25_000
BUDGET = int(HISTORY_EVENT_QUOTA * 0.8)
FIXED = 160
PER_DATASET = 20
PER_CAMPAIGN = 20
FIXED_IMPORT = 40
STATUS_CHANGES = 4  # CREATE PENDING, CREATE IN_PROGRESS, ACTIVE or CREATE FAILED, and one to spare
MIRROR = 6
MIRROR_PER_CAMPAIGN = 10
FIXED_CAMPAIGN = 100


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


@dataclass(frozen=True)
class Histories:
    """The most events each kind of execution of a run can write."""

    refresh: int
    import_: int
    campaign: int

    def over(self, budget: int = BUDGET) -> dict[str, int]:
        """The executions whose history could pass `budget`, by name, with their figure."""
        named = {"refresh": self.refresh, "import": self.import_, "campaign": self.campaign}
        return {name: events for name, events in named.items() if events > budget}


def largest_histories(
    *, import_: Phase, training: Phase, deployment: Phase, datasets: int, campaigns: int
) -> Histories:
    """The most events each execution of a run of this configuration can write."""
    campaign = FIXED_CAMPAIGN + events_per_poll("training") * training.polls
    campaign += events_per_poll("deployment") * deployment.polls
    import_events = FIXED_IMPORT + events_per_poll("import") * import_.polls
    import_events += STATUS_CHANGES * (MIRROR + MIRROR_PER_CAMPAIGN * campaigns)
    refresh = FIXED + PER_DATASET * datasets + PER_CAMPAIGN * campaigns
    return Histories(refresh=refresh, import_=import_events, campaign=campaign)
