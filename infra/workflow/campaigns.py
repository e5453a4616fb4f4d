"""The campaigns: each trained and deployed on its own, in an inline Map; a failed campaign is recorded,
alerted and announced, and does not stop the others."""

from __future__ import annotations

from typing import Any

from refresh_common.schema import (
    ACTIVE,
    DONE,
    FAILED,
    GATED,
    PHASE_JOBS,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    TIMED_OUT,
    Attr,
)
from refresh_common.schema import DEPLOYMENT as DEPLOYMENT_PHASE
from refresh_common.schema import TRAINING as TRAINING_PHASE

from . import retries
from .executions import CAMPAIGN_STATE_MACHINE, child_end_states, child_execution
from .polling import PLANNED, UNCHANGED, Polling, PollLoop, status_is
from .states import (
    DEPLOY_VERSION_FUNCTION,
    START_TRAINING_FUNCTION,
    STILL_RUNNING,
    State,
    States,
    alert,
    announce,
    campaign_detail,
    catch_all,
    caught_failure,
    failure,
    failure_cause,
    failure_not_recorded,
    lambda_task,
    mark_failed,
    reason_given,
    record_write,
)

TRAINING = PollLoop(
    phase="training",
    wait="Wait before polling training",
    plan="Plan next training poll",
    describe="Describe solution version",
    poll_path="$.training.poll",
    planned_by="Start training",
    action="describeSolutionVersion",
    parameters={"SolutionVersionArn.$": "$.training.solution_version_arn"},
    # No field of the version: a path the answer lacks would end the execution uncaught (States.Runtime).
    result_selector={"version.$": "$.SolutionVersion", "checked_at.$": "$$.State.EnteredTime"},
    job={"arn.$": "$.training.solution_version_arn"},
    ended="Training ended?",
)
DEPLOYMENT = PollLoop(
    phase="deployment",
    wait="Wait before polling deployment",
    plan="Plan next deployment poll",
    describe="Describe campaign",
    poll_path="$.deployment.poll",
    planned_by="Deploy version",
    action="describeCampaign",
    parameters={"CampaignArn.$": "$.campaign_arn"},
    result_selector={"campaign.$": "$.Campaign", "checked_at.$": "$$.State.EnteredTime"},
    job={"arn.$": "$.campaign_arn", "solution_version_arn.$": "$.training.solution_version_arn"},
    ended="Deployment ended?",
    describe_comment="The update is done only when latestCampaignUpdate is ACTIVE for this version; "
    "campaign.status stays ACTIVE throughout.",
)
TRAINING_FAILED = "Training step failed"
DEPLOYMENT_FAILED = "Deployment step failed"
RECORD_FAILURE = "Record campaign failure"
VERSION = "$.training.solution_version_arn"
TRAINING_STATUS = "$.describe.version.Status"
UPDATE = "$.describe.campaign.LatestCampaignUpdate"


def states(*, then: str, on_error: str) -> States:
    """The Map over the campaigns Start import decided on, to `then` with `$.outcome` (each campaign's outcome,
    and the list of their statuses); an error of the Map itself goes to `on_error`. Each campaign whose data
    changed is refreshed in its own execution of the campaign state machine (`execution_states`), so this
    execution's history does not grow with the campaigns' polls."""
    return {
        "Refresh campaigns": {
            "Type": "Map",
            "Comment": "Trains and deploys each campaign independently; a failed campaign does not stop the others. "
            "A campaign whose data did not change was recorded SKIPPED by Start import.",
            "ItemsPath": "$.import.campaigns",
            "ItemSelector": {
                "campaign_name.$": "$$.Map.Item.Value.campaign_name",
                "campaign_arn.$": "$$.Map.Item.Value.campaign_arn",
                "execution_name.$": "$$.Map.Item.Value.execution_name",
                "skip.$": "$$.Map.Item.Value.skip",
                "skip_reason.$": "$$.Map.Item.Value.skip_reason",
                "run.$": "$.run",
            },
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Data changed?",
                "States": {**_skip(), **_campaign_execution(), **_failure(own_execution=False)},
            },
            # A wildcard in a path (not in an intrinsic function's argument: no page documents that form); the
            # run end asks States.ArrayContains of the list it gives.
            "ResultSelector": {"campaigns.$": "$", "statuses.$": "$[*].run_status"},
            "ResultPath": "$.outcome",
            "Catch": [catch_all("$.error", on_error)],
            "Next": then,
        }
    }


def execution_states(polling: Polling = PLANNED) -> States:
    """One campaign's refresh, as its own execution: train, gate, deploy, and its failures recorded. Its input
    is the Map item (campaign_name, campaign_arn, run); its output is the campaign's outcome."""
    return {**_training(polling), **_deployment(polling), **_failure(own_execution=True)}


EXECUTION_START_AT = "Record import active"


def _campaign_execution() -> States:
    return {
        "Refresh campaign": child_execution(
            CAMPAIGN_STATE_MACHINE,
            {"campaign_name.$": "$.campaign_name", "campaign_arn.$": "$.campaign_arn", "run.$": "$.run"},
            on_error="Campaign execution did not succeed",
            comment="The campaign's own execution (its history holds its polls); its output is the campaign's "
            "outcome. Stopping this execution stops it too.",
        ),
        **child_end_states(
            "Campaign execution did not succeed",
            kind="Campaign",
            then="Close campaign record",
            not_started=caught_failure(TRAINING_PHASE, FAILED, next_="Campaign start cause given?"),
        ),
        **failure_cause(
            ("Campaign start cause given?", "Keep campaign start cause", "No campaign start cause"),
            next_=RECORD_FAILURE,
        ),
        "Close campaign record": {
            **record_write(
                [
                    (Attr.RUN_STATUS, ":failed"),
                    (Attr.FAILURE_PHASE, Attr.PHASE),
                    (Attr.FAILURE_ERROR, ":error"),
                    (Attr.FAILURE_REASON, ":reason"),
                    (Attr.ENDED_AT, ":now"),
                ],
                {
                    ":failed": {"S.$": "$.failure.run_status"},
                    ":running": {"S": RUNNING},
                    ":error": {"S.$": "$.failure.error"},
                    ":reason": {"S.$": "$.failure.cause"},
                },
                condition=STILL_RUNNING,
                returns="ALL_NEW",
            ),
            "Comment": "The campaign's execution ended without recording it: its record ends in the phase it was in.",
            "ResultSelector": {"phase.$": f"$.Attributes.{Attr.FAILURE_PHASE}.S"},
            "ResultPath": "$.closed",
            "Catch": [
                {
                    "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                    "ResultPath": None,
                    "Next": "Campaign record already final",
                },
                catch_all("$.record_error", "Campaign failure not recorded"),
            ],
            "Next": "Campaign closed in its phase",
        },
        "Campaign record already final": {
            "Type": "Pass",
            "Comment": "The execution recorded the campaign's end before it failed: the record stays as it is.",
            "Result": {"phase": DONE},
            "ResultPath": "$.closed",
            "Next": "Campaign closed in its phase",
        },
        "Campaign closed in its phase": {
            "Type": "Pass",
            "Parameters": {
                "phase.$": "$.closed.phase",
                "error.$": "$.failure.error",
                "run_status.$": "$.failure.run_status",
                "cause.$": "$.failure.cause",
            },
            "ResultPath": "$.failure",
            "Next": "Alert campaign failure",
        },
    }


def _skip() -> States:
    return {
        "Data changed?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.skip", "BooleanEquals": True, "Next": "Announce campaign skipped"}],
            "Default": "Refresh campaign",
        },
        "Announce campaign skipped": announce(
            campaign_detail(phase="DONE", status="SKIPPED", decision="skip", reason_="$.skip_reason"),
            next_="Campaign skipped",
            comment="the data the campaign depends on did not change; nothing is trained or deployed.",
        ),
        "Campaign skipped": _outcome(run_status=SKIPPED),
    }


def _training(polling: Polling) -> States:
    version_fields = {"solution_version_arn_": VERSION, "training_mode_": "$.training.training_mode"}
    over_limit = {
        "And": [
            {"Variable": "$.training.limit.timed_out", "IsPresent": False},
            {"Variable": "$.describe.checked_at", "TimestampGreaterThanPath": "$.training.limit.deadline"},
        ],
        "Next": "Stop training over its limit",
    }
    ours: States = {
        "Training status changed?": {
            "Type": "Choice",
            "Comment": UNCHANGED,
            "Choices": [
                {"Variable": TRAINING_STATUS, "IsPresent": False, "Next": "Training status not given"},
                {
                    "Not": {"Variable": TRAINING_STATUS, "StringEqualsPath": "$.training.seen.status"},
                    "Next": "Record training status",
                },
                over_limit,
                TRAINING.ran_out("Training polls ran out"),
            ],
            "Default": TRAINING.wait,
        },
        "Training status not given": {
            "Type": "Choice",
            "Comment": "Personalize answered without a status: the limit still stops the training.",
            "Choices": [over_limit, TRAINING.ran_out("Training polls ran out")],
            "Default": TRAINING.wait,
        },
        "Record training status": _record_status(
            TRAINING_PHASE, TRAINING_STATUS, TRAINING, next_="Training finished?", on_error=TRAINING_FAILED
        ),
        "Training polls ran out": failure(
            TRAINING_PHASE,
            "TrainingTimedOut",
            TIMED_OUT,
            "States.Format('Solution version {} was still {} when its polls ran out, long past its {} limit: a stop "
            "was asked and not done; stop it by hand (aws personalize stop-solution-version-creation) if it still "
            "trains', $.training.solution_version_arn, $.training.seen.status, $.training.limit.limit)",
            next_=RECORD_FAILURE,
        ),
    }
    return {
        "Record import active": {
            **record_write(
                [
                    (Attr.DATASET_IMPORT_JOB_STATUS, ":active"),
                    (Attr.DATASET_IMPORT_JOB_UPDATED_AT, ":now"),
                    (Attr.PHASE, ":training"),
                    (Attr.CAMPAIGN_EXECUTION_ARN, ":campaign_execution"),
                ],
                {
                    ":active": {"S": ACTIVE},
                    ":training": {"S": TRAINING_PHASE},
                    ":campaign_execution": {"S.$": "$$.Execution.Id"},
                },
            ),
            "Catch": [catch_all("$.error", TRAINING_FAILED)],
            "Next": "Start training",
        },
        "Start training": lambda_task(
            START_TRAINING_FUNCTION,
            {
                "campaign_name.$": "$.campaign_name",
                "base_date.$": "$.run.base_date",
                "execution_arn.$": "$.run.execution_arn",
            },
            result_selector={
                "solution_version_arn.$": "$.Payload.solution_version_arn",
                "seen": {"status.$": "$.Payload.status"},
                "training_mode.$": "$.Payload.training_mode",
                "training_mode_reason.$": "$.Payload.training_mode_reason",
                "poll.$": "$.Payload.poll",
                "limit.$": "$.Payload.limit",
            },
            result_path="$.training",
            busy_retry=retries.ROOM,
            catch=[catch_all("$.error", TRAINING_FAILED)],
            next_="Announce training started",
            comment="Creates the solution version (trainingMode FULL or UPDATE, as the campaign's training policy "
            "decides), or reuses the one an earlier attempt created.",
        ),
        "Announce training started": announce(
            campaign_detail(
                phase="TRAINING",
                status_="$.training.seen.status",
                decision_="$.training.training_mode",
                reason_="$.training.training_mode_reason",
                **version_fields,
            ),
            next_="Training finished?",
            comment="the solution version is created (or reused), FULL or UPDATE, and why.",
        ),
        **TRAINING.states(
            polling,
            ours={**ours, **_stop_training()},
            next_="Training status changed?",
            on_error=TRAINING_FAILED,
            endings=[
                status_is(TRAINING_STATUS, "ACTIVE", "Announce training active"),
                status_is(TRAINING_STATUS, "CREATE FAILED", "Training failure reason given?"),
                status_is(TRAINING_STATUS, "CREATE STOPPED", "Stopped at its limit?"),
            ],
        ),
        "Training finished?": {
            "Type": "Choice",
            "Comment": "Entered first too: a version reused from an earlier attempt may already be ACTIVE.",
            "Choices": [
                {"Variable": "$.training.seen.status", "StringEquals": "ACTIVE", "Next": "Announce training active"},
                {
                    "Variable": "$.training.seen.status",
                    "StringEquals": "CREATE FAILED",
                    "Next": "Training failure reason given?",
                },
                {
                    "Variable": "$.training.seen.status",
                    "StringEquals": "CREATE STOPPED",
                    "Next": "Stopped at its limit?",
                },
                *([TRAINING.ran_out("Training polls ran out")] if polling == PLANNED else []),
            ],
            "Default": TRAINING.first(polling),
        },
        "Training failure reason given?": reason_given(
            "$.describe.version.FailureReason", present="Training failed", absent="Training failed without a reason"
        ),
        "Training failed": failure(
            TRAINING_PHASE,
            "TrainingFailed",
            FAILED,
            "States.Format('Solution version {} failed: {}', $.training.solution_version_arn, "
            "$.describe.version.FailureReason)",
            next_=RECORD_FAILURE,
        ),
        "Training failed without a reason": failure(
            TRAINING_PHASE,
            "TrainingFailed",
            FAILED,
            "States.Format('Solution version {} failed; Personalize gave no failureReason', "
            "$.training.solution_version_arn)",
            next_=RECORD_FAILURE,
        ),
        **_stopped(),
        "Training step failed": caught_failure(TRAINING_PHASE, FAILED, next_="Step failure cause given?"),
        "Announce training active": announce(
            campaign_detail(
                phase="TRAINING",
                status="ACTIVE",
                decision="continue",
                reason="the solution version is trained; the quality gate decides whether it is deployed",
                **version_fields,
            ),
            next_="Deploy version",
            comment="the new solution version is trained; the quality gate decides next.",
        ),
    }


def _stop_training() -> States:
    """Training over its limit is stopped (and then polled until Personalize says CREATE STOPPED)."""
    stop = {
        "Type": "Task",
        "Comment": "Training done until now is billed; the version cannot be resumed.",
        "Resource": "arn:aws:states:::aws-sdk:personalize:stopSolutionVersionCreation",
        "Parameters": {"SolutionVersionArn.$": VERSION},
        "ResultPath": None,
        "TimeoutSeconds": 60,
        "Retry": [retries.DESCRIBE],
        "Catch": [
            {
                "ErrorEquals": ["Personalize.InvalidInputException"],
                "Comment": "It cannot be stopped now (it finished meanwhile, or Personalize refuses): asked once, "
                "not at every poll; the next polls see how it ends, or the plan runs out.",
                "ResultPath": None,
                "Next": "Training stop requested",
            },
            catch_all("$.error", TRAINING_FAILED),
        ],
        "Next": "Training stop requested",
    }
    return {
        "Stop training over its limit": stop,
        "Training stop requested": {
            "Type": "Pass",
            "Result": True,
            "ResultPath": "$.training.limit.timed_out",
            "Next": TRAINING.wait,
        },
    }


def _stopped() -> States:
    """Personalize says CREATE STOPPED: at its limit, by this run, or by someone else."""
    return {
        "Stopped at its limit?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.training.limit.timed_out", "IsPresent": True, "Next": "Training timed out"}],
            "Default": "Training stopped",
        },
        "Training timed out": failure(
            TRAINING_PHASE,
            "TrainingTimedOut",
            TIMED_OUT,
            "States.Format('Solution version {} was still training at its {} limit and was stopped; the campaign "
            "keeps its version', $.training.solution_version_arn, $.training.limit.limit)",
            next_=RECORD_FAILURE,
        ),
        "Training stopped": failure(
            TRAINING_PHASE,
            "TrainingStopped",
            FAILED,
            "States.Format('Solution version {} was stopped before it became ACTIVE', $.training.solution_version_arn)",
            next_=RECORD_FAILURE,
        ),
    }


def _deployment(polling: Polling) -> States:
    version_fields = {
        "solution_version_arn_": VERSION,
        "training_mode_": "$.training.training_mode",
        "metrics": {"solution_version.$": "$.deployment.metrics", "serving_version.$": "$.deployment.serving_metrics"},
    }
    # latestCampaignUpdate names the version, or the form Deploy version asked for (SOLUTION/$LATEST for a
    # campaign that follows its solution's latest version): the reference does not say which it shows then.
    ours_version = {
        "Or": [
            {"Variable": f"{UPDATE}.SolutionVersionArn", "StringEqualsPath": VERSION},
            {"Variable": f"{UPDATE}.SolutionVersionArn", "StringEqualsPath": "$.deployment.requested_version_arn"},
        ]
    }
    over_limit = {
        "Variable": "$.describe.checked_at",
        "TimestampGreaterThanPath": "$.deployment.limit.deadline",
        "Next": "Deployment timed out",
    }
    ours: States = {
        "Deployment status changed?": {
            "Type": "Choice",
            "Comment": "latestCampaignUpdate may not show the update yet: keep polling until it shows this version. "
            + UNCHANGED,
            "Choices": [
                {
                    "Or": [
                        {"Variable": f"{UPDATE}.SolutionVersionArn", "IsPresent": False},
                        {"Variable": f"{UPDATE}.Status", "IsPresent": False},
                    ],
                    "Next": "Deployment update not shown",
                },
                {
                    "And": [
                        ours_version,
                        {"Not": {"Variable": f"{UPDATE}.Status", "StringEqualsPath": "$.deployment.seen.status"}},
                    ],
                    "Next": "Record deployment status",
                },
                over_limit,
                DEPLOYMENT.ran_out("Deployment polls ran out"),
            ],
            "Default": DEPLOYMENT.wait,
        },
        "Deployment update not shown": {
            "Type": "Choice",
            "Comment": "latestCampaignUpdate is missing, or says no version or status: the limit still ends the wait.",
            "Choices": [over_limit, DEPLOYMENT.ran_out("Deployment polls ran out")],
            "Default": DEPLOYMENT.wait,
        },
        "Record deployment status": _record_status(
            DEPLOYMENT_PHASE, f"{UPDATE}.Status", DEPLOYMENT, next_="Deployment finished?", on_error=DEPLOYMENT_FAILED
        ),
        "Deployment timed out": failure(
            DEPLOYMENT_PHASE,
            "DeploymentTimedOut",
            TIMED_OUT,
            "States.Format('Campaign update to {} was not done at its {} limit; an update cannot be stopped: if it "
            "still finishes, the campaign serves the new version, else it keeps its previous one', "
            "$.training.solution_version_arn, $.deployment.limit.limit)",
            next_=RECORD_FAILURE,
            comment="A campaign update cannot be stopped.",
        ),
        "Deployment polls ran out": failure(
            DEPLOYMENT_PHASE,
            "DeploymentTimedOut",
            TIMED_OUT,
            "States.Format('Campaign update to {} was still {} when its polls ran out, long past its {} limit; an "
            "update cannot be stopped: if it still finishes, the campaign serves the new version, else it keeps its "
            "previous one', $.training.solution_version_arn, $.deployment.seen.status, $.deployment.limit.limit)",
            next_=RECORD_FAILURE,
        ),
    }
    return {
        "Deploy version": lambda_task(
            DEPLOY_VERSION_FUNCTION,
            {
                "campaign_name.$": "$.campaign_name",
                "base_date.$": "$.run.base_date",
                "execution_arn.$": "$.run.execution_arn",
                "solution_version_arn.$": VERSION,
            },
            result_selector={
                "requested_version_arn.$": "$.Payload.requested_version_arn",
                "seen": {"status.$": "$.Payload.status"},
                "gated.$": "$.Payload.gated",
                "gate_decision.$": "$.Payload.gate_decision",
                "gate_reason.$": "$.Payload.gate_reason",
                "metrics.$": "$.Payload.metrics",
                "serving_metrics.$": "$.Payload.serving_metrics",
                "poll.$": "$.Payload.poll",
                "limit.$": "$.Payload.limit",
            },
            result_path="$.deployment",
            busy_retry=retries.PERSONALIZE_BUSY,
            catch=[catch_all("$.error", DEPLOYMENT_FAILED)],
            next_="Announce deployment decision",
            comment="Checks the quality gate, then updates the campaign to the new version, keeping its "
            "minProvisionedTPS and campaignConfig. A version the gate holds back is recorded GATED by the Lambda.",
        ),
        "Announce deployment decision": announce(
            campaign_detail(
                phase="DEPLOYMENT",
                status_="$.deployment.seen.status",
                decision_="$.deployment.gate_decision",
                reason_="$.deployment.gate_reason",
                **version_fields,
            ),
            next_="Deployment finished?",
            comment="the quality gate's decision; deploy (the campaign update has started) or hold.",
        ),
        **DEPLOYMENT.states(
            polling,
            ours=ours,
            next_="Deployment status changed?",
            on_error=DEPLOYMENT_FAILED,
            endings=[
                {"And": [ours_version, {"Variable": f"{UPDATE}.Status", "StringEquals": status}], "Next": next_}
                for status, next_ in (
                    ("ACTIVE", "Deployment end time given?"),
                    ("CREATE FAILED", "Deployment failure reason given?"),
                )
            ],
        ),
        "Deployment finished?": {
            "Type": "Choice",
            "Comment": "Entered first too: an update reused from an earlier attempt may already be ACTIVE. The status "
            "seen is always latestCampaignUpdate's, for this version.",
            "Choices": [
                {"Variable": "$.deployment.gated", "BooleanEquals": True, "Next": "Alert model held back"},
                {
                    "Variable": "$.deployment.seen.status",
                    "StringEquals": "ACTIVE",
                    "Next": "Deployment end time given?",
                },
                {
                    "Variable": "$.deployment.seen.status",
                    "StringEquals": "CREATE FAILED",
                    "Next": "Deployment failure reason given?",
                },
                *([DEPLOYMENT.ran_out("Deployment polls ran out")] if polling == PLANNED else []),
            ],
            "Default": DEPLOYMENT.first(polling),
        },
        "Deployment end time given?": {
            "Type": "Choice",
            "Comment": "When Personalize says the update became ACTIVE, for the record's idle time; the model marks "
            "it optional, and an update an earlier attempt left ACTIVE was not described by this run.",
            "Choices": [
                {"Variable": f"{UPDATE}.LastUpdatedDateTime", "IsPresent": True, "Next": "Keep deployment end time"}
            ],
            "Default": "No deployment end time",
        },
        "Keep deployment end time": {
            "Type": "Pass",
            "Parameters": {"S.$": f"{UPDATE}.LastUpdatedDateTime"},
            "ResultPath": "$.deployment.completed_at",
            "Next": "Record success",
        },
        "No deployment end time": {
            "Type": "Pass",
            "Result": {"NULL": True},
            "ResultPath": "$.deployment.completed_at",
            "Next": "Record success",
        },
        **_held_back(version_fields),
        "Deployment failure reason given?": reason_given(
            f"{UPDATE}.FailureReason", present="Deployment failed", absent="Deployment failed without a reason"
        ),
        "Deployment failed": failure(
            DEPLOYMENT_PHASE,
            "DeploymentFailed",
            FAILED,
            "States.Format('Campaign update to {} failed: {}; the campaign still serves its previous version', "
            "$.training.solution_version_arn, $.describe.campaign.LatestCampaignUpdate.FailureReason)",
            next_=RECORD_FAILURE,
        ),
        "Deployment failed without a reason": failure(
            DEPLOYMENT_PHASE,
            "DeploymentFailed",
            FAILED,
            "States.Format('Campaign update to {} failed; Personalize gave no failureReason; the campaign still "
            "serves its previous version', $.training.solution_version_arn)",
            next_=RECORD_FAILURE,
        ),
        DEPLOYMENT_FAILED: caught_failure(DEPLOYMENT_PHASE, FAILED, next_="Step failure cause given?"),
        **failure_cause(
            ("Step failure cause given?", "Keep step failure cause", "No step failure cause"), next_=RECORD_FAILURE
        ),
        "Record success": {
            **record_write(
                [
                    (Attr.RUN_STATUS, ":succeeded"),
                    (Attr.PHASE, ":done"),
                    (Attr.DEPLOYED_SOLUTION_VERSION_ARN, ":version"),
                    (Attr.CAMPAIGN_UPDATE_COMPLETED_AT, ":completed"),
                    (Attr.ENDED_AT, ":now"),
                ],
                {
                    ":succeeded": {"S": SUCCEEDED},
                    ":done": {"S": DONE},
                    ":version": {"S.$": VERSION},
                    ":completed.$": "$.deployment.completed_at",
                },
            ),
            "Catch": [catch_all("$.error", DEPLOYMENT_FAILED)],
            "Next": "Announce campaign refreshed",
        },
        "Announce campaign refreshed": announce(
            campaign_detail(
                phase="DONE",
                status="SUCCEEDED",
                decision="serve",
                reason="the campaign update is ACTIVE: the campaign serves the new solution version",
                **version_fields,
            ),
            next_="Campaign refreshed",
            comment="the campaign update is ACTIVE; the campaign serves the new version.",
        ),
        "Campaign refreshed": _outcome(run_status=SUCCEEDED, **{"solution_version_arn.$": VERSION}),
    }


def _held_back(version_fields: dict[str, Any]) -> States:
    return {
        "Alert model held back": alert(
            "Personalize refresh held back a new version",
            "States.Format('The quality gate held back the new solution version of campaign {} for base date {}; "
            "the campaign keeps the version it served.\nGate: {}\nHeld back: {}\nExecution: {}\n"
            "Campaign execution: {}', $.campaign_name, $.run.base_date, $.deployment.gate_reason, "
            "$.training.solution_version_arn, $.run.execution_arn, $$.Execution.Id)",
            next_="Announce campaign held back",
        ),
        "Announce campaign held back": announce(
            campaign_detail(
                phase="DONE", status="GATED", decision="hold", reason_="$.deployment.gate_reason", **version_fields
            ),
            next_="Campaign held back",
            comment="the run is GATED; the campaign keeps the version it served.",
        ),
        "Campaign held back": {
            **_outcome(run_status=GATED, **{"solution_version_arn.$": VERSION}),
            "Comment": "Not a failure: the run did what it should, and the campaign keeps the version it served.",
        },
    }


def _failure(*, own_execution: bool) -> States:
    """A campaign's failure recorded, alerted and announced: in its own execution, or in the refresh's Map when
    that execution could not start or ended uncaught. The alert names the run's execution, and the campaign's
    own where it is the one failing."""
    own = ("\nCampaign execution: {}", ", $$.Execution.Id") if own_execution else ("", "")
    return {
        RECORD_FAILURE: mark_failed(
            catch=[catch_all("$.record_error", "Campaign failure not recorded")], Next="Alert campaign failure"
        ),
        "Campaign failure not recorded": failure_not_recorded("Alert campaign failure"),
        "Alert campaign failure": alert(
            "Personalize refresh failed",
            "States.Format('The Personalize refresh of campaign {} for base date {} failed in phase {}.\nError: {}\n"
            f"Reason: {{}}\nExecution: {{}}{own[0]}', $.campaign_name, $.run.base_date, $.failure.phase, "
            f"$.failure.error, $.failure.cause, $.run.execution_arn{own[1]})",
            next_="Announce campaign failed",
        ),
        "Announce campaign failed": announce(
            campaign_detail(
                phase="DONE",
                status_="$.failure.run_status",
                decision="keep",
                reason_="$.failure.cause",
                error_="$.failure.error",
                failure_phase_="$.failure.phase",
            ),
            next_="Campaign failed",
            comment="the campaign's run FAILED or TIMED_OUT in a phase; the campaign keeps the version it served.",
        ),
        "Campaign failed": _outcome(
            run_status=FAILED,
            **{"phase.$": "$.failure.phase", "error.$": "$.failure.error", "cause.$": "$.failure.cause"},
        ),
    }


def _outcome(run_status: str, **fields: str) -> State:
    """The campaign's item of the Map's result: its name, how its run ended, and what the run end needs."""
    return {
        "Type": "Pass",
        "Parameters": {"campaign_name.$": "$.campaign_name", "run_status": run_status, **fields},
        "End": True,
    }


def _record_status(phase: str, status: str, loop: PollLoop, *, next_: str, on_error: str) -> State:
    """The job's new status in the campaign's run record; what was written becomes the status seen."""
    job = PHASE_JOBS[phase]
    return {
        **record_write(
            [(job.status, ":status"), (job.updated_at, ":now"), (job.polls, ":polls")],
            {":status": {"S.$": status}, ":polls": {"N.$": f"States.JsonToString({loop.poll_path}.index)"}},
            returns="UPDATED_NEW",
        ),
        "ResultSelector": {"status.$": f"$.Attributes.{job.status}.S"},
        "ResultPath": f"{loop.poll_path.rsplit('.', 1)[0]}.seen",
        "Catch": [catch_all("$.error", on_error)],
        "Next": next_,
    }
