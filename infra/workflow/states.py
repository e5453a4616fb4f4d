"""The kinds of state the refresh is made of, one function each: Lambda task, stage event, run-record write,
alert, and the shaping of a failure.

Plain dicts, not CDK's `aws_stepfunctions` chain: the definition is written to `statemachine/refresh.asl.json`
and read back by the bench, the history budget and the configuration check before the CDK is loaded (which
takes seconds), and CDK's chain has no way to say some of what this definition needs (a Comment on a Catcher,
CausePath with an intrinsic function, a Map's ItemSelector reading `$$.Map.Item.Value`). Keys keep their ASL
spelling (`"base_date.$": "$.run.base_date"`), so what is written here is what Step Functions reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from refresh_common.schema import RUNNING, Attr

from . import retries

State = dict[str, Any]
States = dict[str, State]

# Filled in by CDK's definition_substitutions (infra/refresh_workflow.py).
START_IMPORT_FUNCTION = "${StartImportFunctionArn}"
START_TRAINING_FUNCTION = "${StartTrainingFunctionArn}"
DEPLOY_VERSION_FUNCTION = "${DeployVersionFunctionArn}"
RUN_TABLE = "${RunTableName}"
ALERT_TOPIC = "${AlertTopicArn}"
EVENT_SOURCE = "${EventSource}"
EVENT_DETAIL_TYPE = "${EventDetailType}"

NO_CAUSE = "Step Functions reported no cause"
LAMBDA_TASK_TIMEOUT = 120  # seconds; the functions themselves time out at 60
STAGE_EVENT_TIMEOUT = 30  # seconds
DESCRIBE_TIMEOUT = 60  # seconds


def _with_comment(comment: str | None, state: State) -> State:
    return {"Type": state.pop("Type"), "Comment": comment, **state} if comment else state


def lambda_task(
    function: str,
    payload: dict[str, Any],
    *,
    result_selector: dict[str, Any],
    result_path: str,
    busy_retry: retries.Retrier,
    catch: list[dict[str, Any]],
    next_: str,
    comment: str | None = None,
) -> State:
    """A task Lambda invoked with `payload`; its service errors are retried, then `busy_retry`."""
    return _with_comment(
        comment,
        {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": function, "Payload": payload},
            "ResultSelector": result_selector,
            "ResultPath": result_path,
            "TimeoutSeconds": LAMBDA_TASK_TIMEOUT,
            "Retry": [retries.LAMBDA_SERVICE, busy_retry],
            "Catch": catch,
            "Next": next_,
        },
    )


def catch_all(result_path: str | None, next_: str) -> dict[str, Any]:
    return {"ErrorEquals": ["States.ALL"], "ResultPath": result_path, "Next": next_}


# Stage events -----------------------------------------------------------------------------------------

RUN_CAMPAIGNS = {"campaigns.$": "$.run.campaigns[*].campaign_name"}


def run_detail(**fields: Any) -> dict[str, Any]:
    """A run's stage event: every campaign of the run."""
    return {
        **RUN_CAMPAIGNS,
        "base_date.$": "$.run.base_date",
        "execution_arn.$": "$.run.execution_arn",
        **_spelled(fields),
    }


def campaign_detail(**fields: Any) -> dict[str, Any]:
    """A campaign's stage event, in the refresh's Map or the campaign's own execution: `execution_arn` is the
    run's (the refresh execution's) in both."""
    return {
        "campaign_name.$": "$.campaign_name",
        "campaigns.$": "States.Array($.campaign_name)",
        "base_date.$": "$.run.base_date",
        "campaign_arn.$": "$.campaign_arn",
        "execution_arn.$": "$.run.execution_arn",
        **_spelled(fields),
    }


def _spelled(fields: dict[str, Any]) -> dict[str, Any]:
    """Python keywords cannot end in `.$`: a field named `x_` reads its value from a path."""
    return {(f"{key[:-1]}.$" if key.endswith("_") else key): value for key, value in fields.items()}


def announce(detail: dict[str, Any], *, next_: str, comment: str) -> State:
    """A stage event on the default bus; a stage event that cannot be put never stops the run."""
    return {
        "Type": "Task",
        "Comment": f"Stage event: {comment}",
        "Resource": "arn:aws:states:::events:putEvents",
        "Parameters": {"Entries": [{"Source": EVENT_SOURCE, "DetailType": EVENT_DETAIL_TYPE, "Detail": detail}]},
        "ResultPath": None,
        "TimeoutSeconds": STAGE_EVENT_TIMEOUT,
        "Retry": [retries.STAGE_EVENT],
        "Catch": [catch_all("$.stage_event_error", next_)],
        "Next": next_,
    }


# Run-record writes ------------------------------------------------------------------------------------

NOW = {"S.$": "$$.State.EnteredTime"}
THIS_EXECUTION = f"{Attr.EXECUTION_ARN} = :execution_arn"
STILL_RUNNING = f"{THIS_EXECUTION} AND {Attr.RUN_STATUS} = :running"


def record_write(
    updates: Iterable[tuple[str, str]],
    values: dict[str, Any],
    *,
    condition: str = THIS_EXECUTION,
    names: dict[str, Any] | None = None,
    returns: str | None = None,
) -> State:
    """An UpdateItem of the campaign's run record for this base date, made only while this execution owns
    it (`condition`); `updates` are (attribute, value placeholder) pairs, and updated_at is always set.
    Without Next, End or Catch: the caller adds those."""
    assignments = [*(f"{attribute} = {value}" for attribute, value in updates), f"{Attr.UPDATED_AT} = :now"]
    parameters: dict[str, Any] = {
        "TableName": RUN_TABLE,
        "Key": {Attr.CAMPAIGN_NAME: {"S.$": "$.campaign_name"}, Attr.BASE_DATE: {"N.$": "$.run.base_date"}},
        "UpdateExpression": "SET " + ", ".join(assignments),
        "ConditionExpression": condition,
    }
    if names:
        parameters["ExpressionAttributeNames"] = names
    parameters["ExpressionAttributeValues"] = {**values, ":now": NOW, ":execution_arn": {"S.$": "$.run.execution_arn"}}
    if returns:
        parameters["ReturnValues"] = returns
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::dynamodb:updateItem",
        "Parameters": parameters,
        "ResultPath": None,
        "Retry": [retries.RECORD_WRITE],
    }


def mark_failed(*, catch: list[dict[str, Any]], **ending: Any) -> State:
    """The run record ends as `$.failure` says (FAILED or TIMED_OUT, phase, error, cause), if still RUNNING."""
    return {
        **record_write(
            [
                (Attr.RUN_STATUS, ":failed"),
                (Attr.FAILURE_PHASE, ":phase"),
                (Attr.FAILURE_ERROR, ":error"),
                (Attr.FAILURE_REASON, ":reason"),
                (Attr.ENDED_AT, ":now"),
            ],
            {
                ":failed": {"S.$": "$.failure.run_status"},
                ":running": {"S": RUNNING},
                ":phase": {"S.$": "$.failure.phase"},
                ":error": {"S.$": "$.failure.error"},
                ":reason": {"S.$": "$.failure.cause"},
            },
            condition=STILL_RUNNING,
        ),
        "Catch": catch,
        **ending,
    }


def failure_not_recorded(next_: str) -> State:
    return {
        "Type": "Pass",
        "Comment": "The alert says so: the record may still say RUNNING until the execution's end closes it.",
        "Parameters": {
            "phase.$": "$.failure.phase",
            "error.$": "$.failure.error",
            "run_status.$": "$.failure.run_status",
            "cause.$": "States.Format('{}; the run record could not be written ({})', $.failure.cause, "
            "$.record_error.Error)",
        },
        "ResultPath": "$.failure",
        "Next": next_,
    }


# Alerts -----------------------------------------------------------------------------------------------


def alert(subject: str, message: str, *, next_: str, error_path: str | None = "$.alert_error") -> State:
    """An e-mail to the operators (`message` is a States.Format call); an alert that cannot be sent never
    changes how the run ends."""
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {"TopicArn": ALERT_TOPIC, "Subject": subject, "Message.$": message},
        "ResultPath": None,
        "Retry": [retries.ALERT],
        "Catch": [catch_all(error_path, next_)],
        "Next": next_,
    }


# Failures ---------------------------------------------------------------------------------------------


def cause_given(variable: str, *, present: str, absent: str) -> State:
    return {
        "Type": "Choice",
        "Comment": "A caught error always has an Error; its Cause may be absent.",
        "Choices": [{"Variable": variable, "IsPresent": True, "Next": present}],
        "Default": absent,
    }


def failure_cause(names: tuple[str, str, str], *, next_: str) -> States:
    """`$.failure.cause` from the caught `$.error`'s Cause, or a fixed text where Step Functions gave none:
    the Choice and its two Passes, named as `names`."""
    given, keep, none = names
    return {
        given: cause_given("$.error.Cause", present=keep, absent=none),
        keep: {"Type": "Pass", "InputPath": "$.error.Cause", "ResultPath": "$.failure.cause", "Next": next_},
        none: {"Type": "Pass", "Result": NO_CAUSE, "ResultPath": "$.failure.cause", "Next": next_},
    }


def reason_given(variable: str, *, present: str, absent: str) -> State:
    return {
        "Type": "Choice",
        "Comment": "Personalize may omit failureReason; reading a missing path would end the execution uncaught.",
        "Choices": [{"Variable": variable, "IsPresent": True, "Next": present}],
        "Default": absent,
    }


def failure(phase: str, error: str, run_status: str, cause: str, *, next_: str, comment: str | None = None) -> State:
    """`$.failure` for a job that ended badly: `cause` is a States.Format call."""
    return _with_comment(
        comment,
        {
            "Type": "Pass",
            "Parameters": {"phase": phase, "error": error, "run_status": run_status, "cause.$": cause},
            "ResultPath": "$.failure",
            "Next": next_,
        },
    )


def caught_failure(phase: str, run_status: str, *, next_: str) -> State:
    """`$.failure` for an error caught in `phase`; its cause is added next."""
    return {
        "Type": "Pass",
        "Parameters": {"phase": phase, "error.$": "$.error.Error", "run_status": run_status},
        "ResultPath": "$.failure",
        "Next": next_,
    }


def raised_by_step_functions(variable: str, *, yes: str, no: str) -> State:
    return {
        "Type": "Choice",
        "Comment": "A Fail state may not raise a States.* error, so those end under a name of ours.",
        "Choices": [{"Variable": variable, "StringMatches": "States.*", "Next": yes}],
        "Default": no,
    }
