"""Every poll loop ends recorded, whatever Personalize answers it: a job that never ends, answers without the
fields the loop reads, errors at every call. Before, some of these ran until the plan of waits ran out and the
execution ended uncaught (States.Runtime), the run record still RUNNING."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from local_engine.refresh import LocalRefresh

FOREVER = timedelta(days=1000)
ALWAYS = 1_000_000  # calls: every one the run makes
DESCRIBES = {
    "import": ("DescribeDatasetImportJob", "datasetImportJob", "status"),
    "training": ("DescribeSolutionVersion", "solutionVersion", "status"),
    "deployment": ("DescribeCampaign", "campaign", "latestCampaignUpdate"),
}


def never_ends(refresh: LocalRefresh, phase: str) -> None:
    refresh.emulator.set_duration(phase, FOREVER)


def answers_without_its_status(refresh: LocalRefresh, phase: str) -> None:
    refresh.emulator.faults.omit_field(*DESCRIBES[phase])


def answers_with_errors(refresh: LocalRefresh, phase: str) -> None:
    # The task Lambdas describe the campaign too, before the deployment: the loop's calls come after the update.
    after = "UpdateCampaign" if phase == "deployment" else None
    refresh.emulator.faults.raise_error(DESCRIBES[phase][0], "LimitExceededException", times=ALWAYS, after=after)


ANSWERS: dict[str, Callable[[LocalRefresh, str], None]] = {
    "never ends": never_ends,
    "answers without its status": answers_without_its_status,
    "answers with errors": answers_with_errors,
}
# How each phase's run ends, by answer: (run status, error).
ENDINGS = {
    ("import", "never ends"): ("TIMED_OUT", "ImportTimedOut"),
    ("import", "answers without its status"): ("TIMED_OUT", "ImportTimedOut"),
    ("import", "answers with errors"): ("FAILED", "ImportPollFailed"),
    ("training", "never ends"): ("TIMED_OUT", "TrainingTimedOut"),
    ("training", "answers without its status"): ("TIMED_OUT", "TrainingTimedOut"),
    ("training", "answers with errors"): ("FAILED", "Personalize.LimitExceededException"),
    ("deployment", "never ends"): ("TIMED_OUT", "DeploymentTimedOut"),
    ("deployment", "answers without its status"): ("TIMED_OUT", "DeploymentTimedOut"),
    ("deployment", "answers with errors"): ("FAILED", "Personalize.LimitExceededException"),
}


@pytest.mark.parametrize(("phase", "answer"), ENDINGS)
def test_each_poll_loop_ends_recorded_whatever_personalize_answers(
    refresh: LocalRefresh, phase: str, answer: str
) -> None:
    ANSWERS[answer](refresh, phase)

    (arn,) = refresh.put_glue_event()
    execution = refresh.wait(arn)

    (record,) = refresh.run_records()
    assert execution["status"] == "FAILED"
    assert (record["run_status"], record["failure_error"]) == ENDINGS[phase, answer]
    assert record["failure_phase"] == phase.upper()


def test_a_training_that_cannot_be_stopped_is_asked_once_and_ends_recorded_when_its_polls_run_out(
    refresh: LocalRefresh,
) -> None:
    never_ends(refresh, "training")
    refresh.emulator.faults.raise_error("StopSolutionVersionCreation", "InvalidInputException", times=ALWAYS)

    (arn,) = refresh.put_glue_event()
    assert refresh.wait(arn)["status"] == "FAILED"

    (record,) = refresh.run_records()
    assert (record["run_status"], record["failure_error"]) == ("TIMED_OUT", "TrainingTimedOut")
    assert "when its polls ran out" in record["failure_reason"]
    assert refresh.emulator.count("StopSolutionVersionCreation") == 1
