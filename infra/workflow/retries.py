"""The retry policies of the refresh state machine, each written once.

Each is a Retrier as ASL spells it; the states take them by name, so changing a policy is one edit here and
one diff in `statemachine/refresh.asl.json`.
"""

from __future__ import annotations

from typing import Any

Retrier = dict[str, Any]

LAMBDA_SERVICE: Retrier = {
    "ErrorEquals": [
        "Lambda.ClientExecutionTimeoutException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    ],
    "IntervalSeconds": 2,
    "MaxAttempts": 6,
    "BackoffRate": 2,
}
"""Lambda's own transient errors, as AWS recommends retrying them for every Lambda Task."""

RUN_RECORD_BUSY: Retrier = {
    "ErrorEquals": ["RunRecordBusy"],
    "IntervalSeconds": 1,
    "MaxAttempts": 5,
    "BackoffRate": 2,
    "JitterStrategy": "FULL",
}
"""Another execution is claiming the same run record: the claim tries again, spread out."""

PERSONALIZE_BUSY: Retrier = {
    "ErrorEquals": ["LimitExceededException", "ResourceInUseException", "PersonalizeUnavailable"],
    "IntervalSeconds": 60,
    "MaxAttempts": 6,
    "BackoffRate": 2,
    "MaxDelaySeconds": 900,
    "JitterStrategy": "FULL",
}
"""A task Lambda found Personalize at a limit or busy: waiting for room, up to about an hour and a half."""

DESCRIBE: Retrier = {
    "ErrorEquals": [
        "Personalize.LimitExceededException",
        "Personalize.PersonalizeException",
        "Personalize.SdkClientException",
        "States.Timeout",
    ],
    "IntervalSeconds": 5,
    "MaxAttempts": 4,
    "BackoffRate": 2,
}
"""A Personalize call the state machine makes itself (describe, stop) was throttled or did not answer."""

RECORD_WRITE: Retrier = {
    "ErrorEquals": [
        "DynamoDB.ProvisionedThroughputExceededException",
        "DynamoDB.ThrottlingException",
        "DynamoDB.RequestLimitExceededException",
        "DynamoDB.InternalServerErrorException",
        "DynamoDB.TransactionConflictException",
        "DynamoDB.AmazonDynamoDBException",
    ],
    "IntervalSeconds": 1,
    "MaxAttempts": 5,
    "BackoffRate": 2,
}
"""A write of the run record was throttled or met a transient DynamoDB error."""

STAGE_EVENT: Retrier = {
    "ErrorEquals": [
        "EventBridge.FailedEntry",
        "EventBridge.InternalException",
        "EventBridge.ThrottlingException",
        "EventBridge.AmazonEventBridgeException",
    ],
    "IntervalSeconds": 1,
    "MaxAttempts": 3,
    "BackoffRate": 2,
}
"""A stage event was not accepted; after these, the run goes on without it."""

ALERT: Retrier = {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2}
"""An alert was not published; after these, the run goes on without it."""

CHILD_START: Retrier = {
    "ErrorEquals": [
        "StepFunctions.ExecutionLimitExceededException",
        "StepFunctions.AWSStepFunctionsException",
        "StepFunctions.SdkClientException",
    ],
    "IntervalSeconds": 5,
    "MaxAttempts": 5,
    "BackoffRate": 2,
    "JitterStrategy": "FULL",
}
"""A child execution could not be started for now (too many open executions, a throttle, no answer)."""

ROOM: Retrier = {
    "ErrorEquals": [
        "ImportRoomExhausted",
        "LimitExceededException",
        "ResourceInUseException",
        "PersonalizeUnavailable",
    ],
    "IntervalSeconds": 120,
    "MaxAttempts": 80,
    "BackoffRate": 1.5,
    "MaxDelaySeconds": 900,
    "JitterStrategy": "FULL",
}
"""The region runs its quota of import jobs (5) or of trainings (20), or the dataset's or the solution's own job
(another run's import or training of it) still runs: the dataset's import or the campaign's training waits for
it to end, backing off, for about ten hours (the full jitter draws each wait between nothing and its bound, 450 s
on average once grown, so the 80 waits add up to about half their bounds' 19 hours; jobs take minutes to hours
each)."""
