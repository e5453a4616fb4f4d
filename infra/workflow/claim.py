"""The run's start: validate the input and claim a run record per campaign, or end without touching anything."""

from __future__ import annotations

from . import retries
from .states import (
    START_IMPORT_FUNCTION,
    States,
    alert,
    announce,
    cause_given,
    lambda_task,
    run_detail,
)

START_AT = "Claim run"
INPUT_HELP = 'The execution input is not a Glue success event nor a manual start {"base_date": "YYYYMMDD"}'


def states(*, then: str) -> States:
    """From the execution's input to `then` (the imports), with `$.run` the claimed run."""
    return {
        START_AT: lambda_task(
            START_IMPORT_FUNCTION,
            {"action": "claim", "input.$": "$", "execution_arn.$": "$$.Execution.Id"},
            result_selector={"run.$": "$.Payload"},
            result_path="$",
            busy_retry=retries.RUN_RECORD_BUSY,
            catch=[
                {"ErrorEquals": ["InvalidRunInput"], "ResultPath": "$", "Next": "Rejection cause given?"},
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$", "Next": "Claim failure cause given?"},
            ],
            next_="Duplicate event?",
            comment="Validates the input, resolves the base date and claims one run record per campaign "
            "(conditional write).",
        ),
        **_rejection(),
        **_claim_failure(),
        "Duplicate event?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.run.duplicate", "BooleanEquals": True, "Next": "Announce duplicate skipped"}],
            "Default": "Announce run claimed",
        },
        "Announce duplicate skipped": announce(
            run_detail(
                **{"campaigns.$": "$.run.skipped_campaign_names"},
                phase="DONE",
                status="SKIPPED",
                decision="skip",
                reason="duplicate: every campaign's run for this base date is already running or succeeded",
                skipped_="$.run.skipped",
            ),
            next_="Skip duplicate event",
            comment="this base date is already running or refreshed for every campaign.",
        ),
        "Announce run claimed": announce(
            run_detail(
                phase="IMPORT",
                status="RUNNING",
                decision="refresh",
                reason_="States.Format('claimed on a {} trigger', $.run.trigger)",
                skipped_="$.run.skipped",
            ),
            next_=then,
            comment="the run is claimed for these campaigns; imports start next.",
        ),
        "Skip duplicate event": {
            "Type": "Succeed",
            "Comment": "Every campaign's run for this base date is already running or succeeded; "
            "Personalize is not touched.",
        },
    }


def _rejection() -> States:
    """Input that is no refresh: nothing was written, and the execution fails with the claim's reason."""
    return {
        "Rejection cause given?": cause_given("$.Cause", present="Reject input", absent="Reject input without a cause"),
        "Reject input without a cause": {"Type": "Fail", "Error": "InvalidRunInput", "Cause": INPUT_HELP},
        "Reject input": {
            "Type": "Fail",
            "Comment": "Not a Glue success event nor a manual start: nothing was written.",
            "Error": "InvalidRunInput",
            "CausePath": "$.Cause",
        },
    }


def _claim_failure() -> States:
    return {
        "Claim failure cause given?": cause_given(
            "$.Cause", present="Alert claim failure", absent="No claim failure cause"
        ),
        "No claim failure cause": {
            "Type": "Pass",
            "Result": "Step Functions reported no cause",
            "ResultPath": "$.Cause",
            "Next": "Alert claim failure",
        },
        "Alert claim failure": alert(
            "Personalize refresh could not start",
            "States.Format('The refresh could not claim its run.\nExecution: {}\nError: {}\nCause: {}', "
            "$$.Execution.Id, $.Error, $.Cause)",
            next_="Claim failed",
            error_path=None,
        ),
        "Claim failed": {"Type": "Fail", "Error": "ClaimFailed", "CausePath": "$.Cause"},
    }
