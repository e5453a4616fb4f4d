"""The imports: start one dataset import job per dataset, then poll each until it is ACTIVE.

A failed or late import fails the whole run (every campaign depends on the data), so the Map's errors go
to the run's failure (run_end.py).
"""

from __future__ import annotations

from refresh_common.schema import WAITING_FOR_ROOM, Attr, ImportJobAttr

from . import retries
from .executions import IMPORT_STATE_MACHINE, child_end_states, child_execution
from .polling import PLANNED, UNCHANGED, Polling, PollLoop, status_is
from .states import (
    START_IMPORT_FUNCTION,
    State,
    States,
    announce,
    catch_all,
    lambda_task,
    raised_by_step_functions,
    reason_given,
    record_write,
    run_detail,
)

START_AT = "Start import"
STATUS = "$.describe.job.Status"
FAILED = "Import failed"  # where the imports' errors go: the run's failure

POLL = PollLoop(
    phase="import",
    wait="Wait before polling import",
    plan="Plan next import poll",
    describe="Describe import job",
    poll_path="$.job.poll",
    planned_by="Start import",
    action="describeDatasetImportJob",
    parameters={"DatasetImportJobArn.$": "$.job.dataset_import_job_arn"},
    # No field of the job: a path the answer lacks would end the execution uncaught (States.Runtime).
    result_selector={"job.$": "$.DatasetImportJob", "checked_at.$": "$$.State.EnteredTime"},
    job={"arn.$": "$.job.dataset_import_job_arn"},
    ended="Import ended?",
)


def states(*, then: str, polling: Polling = PLANNED) -> States:
    """From the claimed run to `then` (the campaigns) once every import is ACTIVE, with `$.import` holding the
    jobs and the campaigns' decisions; an import that fails goes to FAILED with `$.error`."""
    return {
        START_AT: lambda_task(
            START_IMPORT_FUNCTION,
            {"action": "import", "run.$": "$.run"},
            result_selector={"jobs.$": "$.Payload.import_jobs", "campaigns.$": "$.Payload.campaigns"},
            result_path="$.import",
            busy_retry=retries.PERSONALIZE_BUSY,
            catch=[catch_all("$.error", FAILED)],
            next_="Wait for imports",
            comment="Creates one dataset import job per dataset, or reuses the one an earlier attempt created.",
        ),
        "Wait for imports": {
            "Type": "Map",
            "Comment": "Polls every import job until it is ACTIVE, each in its own execution; a failed job fails the "
            "whole refresh.",
            "ItemsPath": "$.import.jobs",
            "ItemSelector": {
                "job.$": "$$.Map.Item.Value",
                "execution_name.$": "$$.Map.Item.Value.execution_name",
                "run.$": "$.run",
            },
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Import dataset",
                "States": _import_execution(),
            },
            "ResultPath": None,
            "Catch": [catch_all("$.error", FAILED)],
            "Next": then,
        },
    }


def execution_states(polling: Polling = PLANNED) -> States:
    """One dataset's import, as its own execution: from its job's creation (or reuse) to ACTIVE. Its input is
    the Map item (job, run); it fails with the import's own error (ImportJobFailed, ImportTimedOut, ...)."""
    return _one_import(polling)


EXECUTION_START_AT = "Room for the import?"


def _import_execution() -> States:
    return {
        "Import dataset": child_execution(
            IMPORT_STATE_MACHINE,
            {"job.$": "$.job", "seen": {"status.$": "$.job.status"}, "run.$": "$.run"},
            on_error="Import execution did not succeed",
            comment="The dataset's own execution (its history holds its polls).",
        ),
        **child_end_states(
            "Import execution did not succeed",
            kind="Import",
            then="Import error raised by Step Functions?",
            not_started={
                "Type": "Fail",
                "Comment": "The import's execution could not be started.",
                "Error": "ImportExecutionNotStarted",
                "CausePath": "States.JsonToString($.error)",
            },
        ),
        "Import error raised by Step Functions?": raised_by_step_functions(
            "$.failure.error", yes="Import execution failed with a Step Functions error", no="Import failed as it ended"
        ),
        "Import execution failed with a Step Functions error": {
            "Type": "Fail",
            "Error": "ImportExecutionFailed",
            "CausePath": "States.Format('{}: {}', $.failure.error, $.failure.cause)",
        },
        "Import failed as it ended": {
            "Type": "Fail",
            "Comment": "The refresh fails as the import's execution did: its error (ImportJobFailed, ImportTimedOut, "
            "...) and cause.",
            "ErrorPath": "$.failure.error",
            "CausePath": "$.failure.cause",
        },
    }


def _one_import(polling: Polling) -> States:
    """One dataset's job, from its creation (or reuse) to ACTIVE."""
    over_limit = {
        "Variable": "$.describe.checked_at",
        "TimestampGreaterThanPath": "$.job.deadline",
        "Next": "Import over its limit",
    }
    ours: States = {
        "Import status changed?": {
            "Type": "Choice",
            "Comment": UNCHANGED,
            "Choices": [
                {"Variable": STATUS, "IsPresent": False, "Next": "Import status not given"},
                {"Not": {"Variable": STATUS, "StringEqualsPath": "$.seen.status"}, "Next": "Record import status"},
                over_limit,
                POLL.ran_out("Import polls ran out"),
            ],
            "Default": POLL.wait,
        },
        "Import status not given": {
            "Type": "Choice",
            "Comment": "Personalize answered without a status: the limit still ends the wait.",
            "Choices": [over_limit, POLL.ran_out("Import polls ran out")],
            "Default": POLL.wait,
        },
        "Record import status": _record_status(),
        "Remember import status": {
            "Type": "Pass",
            "Parameters": {"status.$": STATUS},
            "ResultPath": "$.seen",
            "Next": "Import finished?",
        },
        "Import over its limit": {
            "Type": "Fail",
            "Comment": "An import cannot be stopped: it goes on, and a re-run of the day reuses it once it is ACTIVE.",
            "Error": "ImportTimedOut",
            "CausePath": "States.Format('Import job {} was still {} at its {} limit; an import cannot be stopped: "
            "it goes on, and a re-run of the day reuses it once ACTIVE', $.job.dataset_import_job_arn, "
            "$.seen.status, $.job.limit)",
        },
        "Import polls ran out": {
            "Type": "Fail",
            "Error": "ImportTimedOut",
            "CausePath": "States.Format('Import job {} was still {} when its polls ran out, long past its {} limit; "
            "an import cannot be stopped: it goes on, and a re-run of the day reuses it once ACTIVE', "
            "$.job.dataset_import_job_arn, $.seen.status, $.job.limit)",
        },
    }
    return {
        EXECUTION_START_AT: {
            "Type": "Choice",
            "Comment": "Start import found the region at its quota of concurrent import jobs for this one.",
            "Choices": [
                {
                    "Variable": "$.job.status",
                    "StringEquals": WAITING_FOR_ROOM,
                    "Next": "Start import when there is room",
                }
            ],
            "Default": "Announce import started",
        },
        "Start import when there is room": lambda_task(
            START_IMPORT_FUNCTION,
            {
                "action": "import_dataset",
                "run.$": "$.run",
                "dataset_name.$": "$.job.dataset_name",
                "import_mode.$": "$.job.import_mode",
                "primary.$": "$.job.primary",
            },
            result_selector={
                field: f"$.Payload.{field.removesuffix('.$')}"
                for field in (
                    "primary.$",
                    "dataset_name.$",
                    "job_name.$",
                    "dataset_import_job_arn.$",
                    "status.$",
                    "poll.$",
                    "checked_at.$",
                    "deadline.$",
                    "limit.$",
                )
            },
            result_path="$.job",
            busy_retry=retries.ROOM,
            catch=[catch_all("$.error", "Import not started")],
            next_="Remember created import status",
            comment="Creates the import job once Personalize has room, retried (backing off) until then.",
        ),
        "Import not started": {
            "Type": "Fail",
            "Comment": "Personalize had no room for the import within the retries (about ten hours), or the call "
            "failed otherwise: the cause holds the error.",
            "Error": "ImportNotStarted",
            "CausePath": "States.JsonToString($.error)",
        },
        "Remember created import status": {
            "Type": "Pass",
            "Parameters": {"status.$": "$.job.status"},
            "ResultPath": "$.seen",
            "Next": "Announce import started",
        },
        "Announce import started": announce(
            _dataset_detail(
                status_="$.job.status", decision="import", reason_="States.Format('import job {}', $.job.job_name)"
            ),
            next_="Import finished?",
            comment="the dataset's import job is created, or reused from an earlier attempt.",
        ),
        **POLL.states(
            polling,
            ours=ours,
            next_="Import status changed?",
            on_error="Import poll failed",
            endings=[
                status_is(STATUS, "ACTIVE", "Announce import active"),
                status_is(STATUS, "CREATE FAILED", "Import failure reason given?"),
            ],
        ),
        "Import poll failed": {
            "Type": "Fail",
            "Comment": "A fixed error name: Fail states may not raise the States.* errors a Catch can receive.",
            "Error": "ImportPollFailed",
            "CausePath": "States.JsonToString($.error)",
        },
        "Import finished?": {
            "Type": "Choice",
            "Comment": "Entered first too: a job reused from an earlier attempt may already be ACTIVE.",
            "Choices": [
                {"Variable": "$.seen.status", "StringEquals": "ACTIVE", "Next": "Announce import active"},
                {"Variable": "$.seen.status", "StringEquals": "CREATE FAILED", "Next": "Import failure reason given?"},
                *([POLL.ran_out("Import polls ran out")] if polling == PLANNED else []),
            ],
            "Default": POLL.first(polling),
        },
        "Import failure reason given?": reason_given(
            "$.describe.job.FailureReason", present="Import job failed", absent="Import job failed without a reason"
        ),
        "Import job failed": {
            "Type": "Fail",
            "Error": "ImportJobFailed",
            "CausePath": "States.Format('Import job {} failed: {}', $.job.dataset_import_job_arn, "
            "$.describe.job.FailureReason)",
        },
        "Import job failed without a reason": {
            "Type": "Fail",
            "Error": "ImportJobFailed",
            "CausePath": "States.Format('Import job {} failed; Personalize gave no failureReason', "
            "$.job.dataset_import_job_arn)",
        },
        "Announce import active": announce(
            _dataset_detail(
                status="ACTIVE",
                decision="continue",
                reason="the dataset is imported; training starts once every dataset is",
            ),
            next_="Import job active",
            comment="the dataset is imported.",
        ),
        "Import job active": {"Type": "Succeed"},
    }


def _dataset_detail(**fields: str) -> dict[str, str]:
    return run_detail(
        phase="IMPORT",
        dataset_name_="$.job.dataset_name",
        dataset_import_job_arn_="$.job.dataset_import_job_arn",
        **fields,
    )


def _record_status() -> State:
    """The job's new status, in the run record of every campaign of the run; the first configured dataset's
    also in the record's top-level dataset_import_job_* attributes."""
    job = f"{Attr.DATASET_IMPORT_JOBS}.#dataset"
    dataset = [
        (f"{job}.#status", ":status"),
        (f"{job}.{ImportJobAttr.UPDATED_AT}", ":now"),
        (f"{job}.{ImportJobAttr.POLLS}", ":polls"),
    ]
    first = [(Attr.DATASET_IMPORT_JOB_STATUS, ":status"), (Attr.DATASET_IMPORT_JOB_UPDATED_AT, ":now")]
    values = {":status": {"S.$": "$.status"}, ":polls": {"N.$": "States.JsonToString($.polls)"}}
    names = {"#dataset.$": "$.dataset_name", "#status": ImportJobAttr.STATUS}  # status is a reserved word
    not_recorded = [catch_all("$.error", "Import status not recorded")]
    return {
        "Type": "Map",
        "Comment": "Mirrors the job's new status into the run record of every campaign of this run.",
        "ItemsPath": "$.run.campaigns",
        "ItemSelector": {
            "campaign_name.$": "$$.Map.Item.Value.campaign_name",
            "run.$": "$.run",
            "dataset_name.$": "$.job.dataset_name",
            "primary.$": "$.job.primary",
            "status.$": STATUS,
            "polls.$": "$.job.poll.index",
        },
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "First dataset?",
            "States": {
                "First dataset?": {
                    "Type": "Choice",
                    "Comment": "The record's top-level dataset_import_job_* attributes follow the first configured "
                    "dataset.",
                    "Choices": [
                        {
                            "Variable": "$.primary",
                            "BooleanEquals": True,
                            "Next": "Mirror first dataset's import status",
                        }
                    ],
                    "Default": "Mirror import status",
                },
                "Mirror first dataset's import status": {
                    **record_write(dataset + first, values, names=names),
                    "Catch": not_recorded,
                    "End": True,
                },
                "Mirror import status": {
                    **record_write(dataset, values, names=names),
                    "Catch": not_recorded,
                    "End": True,
                },
                "Import status not recorded": {
                    "Type": "Fail",
                    "Error": "RunRecordNotWritten",
                    "CausePath": "States.JsonToString($.error)",
                },
            },
        },
        "ResultPath": None,
        "Catch": [catch_all("$.error", "Import poll failed")],
        "Next": "Remember import status",
    }
