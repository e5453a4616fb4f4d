"""Child executions: a part of the run that polls for hours runs in its own execution, started and awaited by
the refresh (`states:startExecution.sync:2`), so each execution's history holds one dataset's or one campaign's
polls and the refresh's own history does not grow with them.

AWS: the parent's Task waits for the child's end; a child that fails fails the Task with States.TaskFailed,
its Cause the child's DescribeExecution output as JSON, named as the integration names its output
(ExecutionArn, Status, Error, Cause) ("Start a new AWS Step Functions state machine from a
running execution"); stopping the parent stops the children it awaits. Passing
AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID links the child to the parent in the console.
"""

from __future__ import annotations

from typing import Any

from refresh_common.schema import ABORTED, FAILED, TIMED_OUT

from . import retries
from .states import State, States, catch_all

# Filled in by CDK's definition_substitutions (infra/refresh_workflow.py).
CAMPAIGN_STATE_MACHINE = "${CampaignStateMachineArn}"
IMPORT_STATE_MACHINE = "${ImportStateMachineArn}"

END = "$.child.end"


def child_execution(state_machine: str, execution_input: dict[str, Any], *, on_error: str, comment: str) -> State:
    """Start `state_machine` with `execution_input`, named `$.execution_name`, and wait for its end; its output
    becomes this state's output."""
    return {
        "Type": "Task",
        "Comment": comment,
        "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {
            "StateMachineArn": state_machine,
            "Name.$": "$.execution_name",
            "Input": {**execution_input, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"},
        },
        "OutputPath": "$.Output",
        "Retry": [retries.CHILD_START],
        "Catch": [catch_all("$.error", on_error)],
        "End": True,
    }


def child_end_states(name: str, *, kind: str, then: str, not_started: State) -> States:
    """From a child execution's failure (`$.error`) to `then` with `$.failure` (run_status, error, cause) as the
    child ended: FAILED with its own error and cause, TIMED_OUT, or ABORTED (stopped). An error that is not the
    child's end (it could not be started) goes to `not_started`."""
    ended = f"{kind} execution ended"
    return {
        name: {
            "Type": "Choice",
            "Comment": "States.TaskFailed with a Cause is the child's end; any other error is the start's.",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.error.Error", "StringEquals": "States.TaskFailed"},
                        {"Variable": "$.error.Cause", "IsPresent": True},
                    ],
                    "Next": f"Read {kind.lower()} execution end",
                }
            ],
            "Default": f"{kind} execution not started",
        },
        f"{kind} execution not started": not_started,
        f"Read {kind.lower()} execution end": {
            "Type": "Pass",
            "Parameters": {"end.$": "States.StringToJson($.error.Cause)"},
            "ResultPath": "$.child",
            "Next": ended,
        },
        ended: {
            "Type": "Choice",
            "Choices": [
                {"Variable": f"{END}.Status", "StringEquals": "TIMED_OUT", "Next": f"{kind} execution timed out"},
                {"Variable": f"{END}.Status", "StringEquals": "ABORTED", "Next": f"{kind} execution stopped"},
                {
                    "And": [
                        {"Variable": f"{END}.Error", "IsPresent": True},
                        {"Variable": f"{END}.Cause", "IsPresent": True},
                    ],
                    "Next": f"{kind} execution failed",
                },
            ],
            "Default": f"{kind} execution failed without a cause",
        },
        f"{kind} execution timed out": _end(
            TIMED_OUT, "ExecutionTimedOut", f"'{kind} execution {{}} ran past its timeout'", then
        ),
        f"{kind} execution stopped": _end(ABORTED, "ExecutionAborted", f"'{kind} execution {{}} was stopped'", then),
        f"{kind} execution failed": {
            "Type": "Pass",
            "Parameters": {"run_status": FAILED, "error.$": f"{END}.Error", "cause.$": f"{END}.Cause"},
            "ResultPath": "$.failure",
            "Next": then,
        },
        f"{kind} execution failed without a cause": _end(
            FAILED, "ExecutionFailed", f"'{kind} execution {{}} failed and gave no cause'", then
        ),
    }


def _end(run_status: str, error: str, text: str, then: str) -> State:
    return {
        "Type": "Pass",
        "Parameters": {
            "run_status": run_status,
            "error": error,
            "cause.$": f"States.Format({text}, {END}.ExecutionArn)",
        },
        "ResultPath": "$.failure",
        "Next": then,
    }
