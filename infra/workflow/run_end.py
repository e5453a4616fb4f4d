"""How a run ends: failed before or around its campaigns (every record marked, one alert), or after them,
as their outcomes say."""

from __future__ import annotations

from refresh_common.schema import FAILED, IMPORT, TIMED_OUT

from .states import (
    States,
    alert,
    announce,
    caught_failure,
    failure_cause,
    failure_not_recorded,
    mark_failed,
    raised_by_step_functions,
    run_detail,
)

IMPORT_FAILED = "Import failed"
CAMPAIGNS_FAILED = "Campaign refresh failed"
OUTCOME = "Tally campaigns"


def failure_states() -> States:
    """From a failed import (IMPORT_FAILED) or a failure of the campaigns' Map itself (CAMPAIGNS_FAILED),
    with `$.error`, to the execution's failure."""
    return {
        IMPORT_FAILED: {
            "Type": "Choice",
            "Choices": [{"Variable": "$.error.Error", "StringEquals": "ImportTimedOut", "Next": "Import timed out"}],
            "Default": "Import did not finish",
        },
        "Import timed out": caught_failure(IMPORT, TIMED_OUT, next_="Failure cause given?"),
        "Import did not finish": caught_failure(IMPORT, FAILED, next_="Failure cause given?"),
        # Not a phase of the record's: the Map over the campaigns failed as a whole (each campaign's own
        # failure is recorded in its phase).
        CAMPAIGNS_FAILED: caught_failure("CAMPAIGNS", FAILED, next_="Failure cause given?"),
        **failure_cause(("Failure cause given?", "Keep failure cause", "No failure cause"), next_="Record run failure"),
        "Record run failure": {
            "Type": "Map",
            "Comment": "Marks every campaign of this run that is still RUNNING as FAILED, with the phase and reason.",
            "ItemsPath": "$.run.campaigns",
            "ItemSelector": {
                "campaign_name.$": "$$.Map.Item.Value.campaign_name",
                "run.$": "$.run",
                "failure.$": "$.failure",
            },
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Mark run failed",
                "States": {
                    "Mark run failed": mark_failed(
                        catch=[
                            {
                                "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                                "ResultPath": None,
                                "Next": "Record already final",
                            },
                            {
                                "ErrorEquals": ["States.ALL"],
                                "ResultPath": "$.record_error",
                                "Next": "Failure not recorded",
                            },
                        ],
                        End=True,
                    ),
                    "Record already final": {
                        "Type": "Pass",
                        "Comment": "The record ended before the run failed (SKIPPED, or closed by another path): "
                        "it stays as it is.",
                        "End": True,
                    },
                    "Failure not recorded": {
                        "Type": "Fail",
                        "Error": "RunRecordNotWritten",
                        "CausePath": "States.JsonToString($.record_error)",
                    },
                },
            },
            "ResultPath": None,
            "Catch": [
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.record_error", "Next": "Run failure not recorded"}
            ],
            "Next": "Alert run failure",
        },
        "Run failure not recorded": failure_not_recorded("Alert run failure"),
        "Alert run failure": alert(
            "Personalize refresh failed",
            "States.Format('The Personalize refresh for base date {} failed in phase {}; campaigns keep the version "
            "they served.\nError: {}\nReason: {}\nExecution: {}', $.run.base_date, $.failure.phase, "
            "$.failure.error, $.failure.cause, $$.Execution.Id)",
            next_="Announce refresh failed",
        ),
        "Announce refresh failed": announce(
            run_detail(
                phase="DONE",
                status_="$.failure.run_status",
                decision="end",
                reason_="$.failure.cause",
                error_="$.failure.error",
                failure_phase_="$.failure.phase",
            ),
            next_="Phase error raised by Step Functions?",
            comment="the run ended FAILED or TIMED_OUT before or around its campaigns; every campaign keeps its "
            "version.",
        ),
        "Phase error raised by Step Functions?": raised_by_step_functions(
            "$.failure.error", yes="Refresh failed in phase with a Step Functions error", no="Refresh failed in phase"
        ),
        "Refresh failed in phase with a Step Functions error": {
            "Type": "Fail",
            "Error": "RefreshFailed",
            "CausePath": "States.Format('Failed in phase {} with {}: {}', $.failure.phase, $.failure.error, "
            "$.failure.cause)",
        },
        "Refresh failed in phase": {"Type": "Fail", "ErrorPath": "$.failure.error", "CausePath": "$.failure.cause"},
    }


def outcome_states() -> States:
    """From the campaigns' outcomes (`$.outcome`) to the execution's end: failed if any campaign failed."""
    failed_cause = (
        "States.Format('Campaign {} failed in {}: {}', $.failed.first.campaign_name, $.failed.first.phase, "
        "$.failed.first.cause)"
    )
    return {
        OUTCOME: {
            "Type": "Pass",
            "Comment": "States.ArrayContains on a path's result, as the intrinsic functions page documents it.",
            "Parameters": {
                "campaigns.$": "$.outcome.campaigns",
                "any_failed.$": "States.ArrayContains($.outcome.statuses, 'FAILED')",
            },
            "ResultPath": "$.outcome",
            "Next": "Any campaign failed?",
        },
        "Any campaign failed?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.outcome.any_failed", "BooleanEquals": True, "Next": "Select failed campaigns"}],
            "Default": "Announce refresh succeeded",
        },
        "Select failed campaigns": {
            "Type": "Pass",
            "Comment": 'A filter in a Parameters path ("Using JSONPath paths"), then the first of its list by index.',
            "Parameters": {"all.$": "$.outcome.campaigns[?(@.run_status == 'FAILED')]"},
            "ResultPath": "$.failed",
            "Next": "Take the first failed campaign",
        },
        "Take the first failed campaign": {
            "Type": "Pass",
            "Parameters": {"first.$": "$.failed.all[0]"},
            "ResultPath": "$.failed",
            "Next": "Announce refresh ended with failed campaigns",
        },
        "Announce refresh ended with failed campaigns": announce(
            run_detail(
                phase="DONE",
                status="FAILED",
                decision="end",
                reason_="States.Format('campaign {} failed in {}: {}', $.failed.first.campaign_name, "
                "$.failed.first.phase, $.failed.first.cause)",
                error_="$.failed.first.error",
                outcome_="$.outcome.campaigns",
            ),
            next_="Campaign error raised by Step Functions?",
            comment="the run ended FAILED: at least one campaign failed; each campaign's outcome is listed.",
        ),
        "Campaign error raised by Step Functions?": raised_by_step_functions(
            "$.failed.first.error", yes="Refresh failed with a Step Functions error", no="Refresh failed"
        ),
        "Refresh failed with a Step Functions error": {
            "Type": "Fail",
            "Error": "CampaignRefreshFailed",
            "CausePath": "States.Format('Campaign {} failed in {} with {}: {}', $.failed.first.campaign_name, "
            "$.failed.first.phase, $.failed.first.error, $.failed.first.cause)",
        },
        "Refresh failed": {
            "Type": "Fail",
            "Comment": "Each failed campaign is recorded FAILED with its phase and reason, and was alerted; the error "
            "is the first one's.",
            "ErrorPath": "$.failed.first.error",
            "CausePath": failed_cause,
        },
        "Announce refresh succeeded": announce(
            run_detail(
                phase="DONE",
                status="SUCCEEDED",
                decision="end",
                reason="every campaign serves its new version, or kept its version by its quality gate",
                outcome_="$.outcome.campaigns",
            ),
            next_="Refresh succeeded",
            comment="the run ended; every campaign serves its new version or was held back by its gate.",
        ),
        "Refresh succeeded": {"Type": "Succeed"},
    }
