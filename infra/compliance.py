"""Findings of the security scanners that this stack acknowledges instead of fixing, each with its reason.

cdk-nag findings are acknowledged on the construct; checkov checks are skipped in the resource's
CloudFormation metadata. docs/SECURITY.md lists the same findings, and a test keeps the two in step.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct

XRAY_AND_LOG_DELIVERY = (
    "X-Ray (PutTraceSegments, PutTelemetryRecords, GetSampling*) and CloudWatch Logs vended log delivery "
    "(*LogDelivery*, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) support no resource-level "
    "permissions: '*' is the narrowest resource IAM accepts for them."
)
METRICS_XRAY_AND_LOG_DELIVERY = (
    "cloudwatch:PutMetricData supports no resource-level permissions: its statement is '*' with a "
    "cloudwatch:namespace condition keeping it to the project's namespace. X-Ray (PutTraceSegments, "
    "PutTelemetryRecords, GetSampling*) likewise accepts no narrower resource than '*'."
)
CHECK_FAILURE_ALARMS = (
    "Invoked asynchronously by its hourly schedule: a check that fails publishes no datapoint, which the "
    "staleness alarms treat as breaching, so the failure is alerted; a missed check is never worth replaying "
    "from a dead-letter queue, since the next one measures afresh."
)
SCHEDULED_CHECK = (
    "The targets are the hourly freshness check and sweep: an invocation EventBridge could not deliver within the "
    "hour is not worth replaying from a queue (the next one measures, or sweeps, afresh), and a check that never "
    "ran publishes no datapoint, which the staleness alarms treat as breaching."
)
XRAY_AND_LIST_ACTIONS = (
    "X-Ray (PutTraceSegments, PutTelemetryRecords) and Personalize's List actions (ListDatasetImportJobs, "
    "ListSolutionVersions) have no resource type in the Service Authorization Reference: '*' is the only resource "
    "IAM matches for them. The List calls only read: earlier imports of a dataset, the versions of a solution."
)
JOB_NAME_PATTERN = (
    "Personalize job ARNs are only known once a refresh names them; the pattern is limited to this "
    "deployment's deterministic job-name prefix (or the configured solution's versions), so the role "
    "reaches no other job."
)
SYNCHRONOUS_LAMBDA = (
    "Invoked synchronously by Step Functions only: a Lambda dead-letter queue applies to asynchronous "
    "invocations, and every failure is caught, recorded and alerted by the state machine."
)
FAILURE_DESTINATION = (
    "Invoked synchronously by Step Functions, whose failures the state machine catches, records and alerts, and "
    "asynchronously by EventBridge (an execution's end, the hourly sweep): those invocations have an on-failure "
    "destination, an alarmed SQS queue that keeps the error with the event, where a dead-letter queue would "
    "keep the event alone."
)
QUEUE_IS_THE_DLQ = (
    "This queue is itself a dead-letter queue (of an EventBridge rule's target, of the run function's "
    "asynchronous invocations, or of the alert e-mail subscription); a queue behind it would never receive "
    "anything."
)
NO_VPC = (
    "The functions call only AWS APIs (Personalize, DynamoDB, CloudWatch) over TLS and reach no private "
    "resource; a VPC would add NAT or interface endpoints to pay for and no isolation."
)
CONCURRENCY_BOUNDED = (
    "Concurrency is bounded by the state machine (one invocation per campaign and phase per run); reserving "
    "concurrency would fail deployment in accounts with the default unreserved-concurrency minimum."
)
CHECK_CONCURRENCY = (
    "The freshness check runs once an hour from its schedule (a failed run is retried at most twice); "
    "reserving concurrency would fail deployment in accounts with the default unreserved-concurrency minimum."
)
SWEPT_EXECUTIONS = (
    "The hourly sweep describes the execution of each run record still RUNNING, whose ARN is known only once it "
    "starts; the pattern covers only this state machine's executions, and the action only reads."
)
EXECUTIONS_OF_THE_STATE_MACHINE = (
    "Operators describe, stop and read the history of the state machine's executions, whose ARNs are known only "
    "once each starts; the pattern covers only this state machine's executions."
)
CHILD_EXECUTIONS = (
    "The refresh describes and stops the executions it starts of its import and campaign state machines "
    "(startExecution.sync:2), whose ARNs are known only once each starts; the pattern covers only those "
    "state machines' executions."
)
AWS_MANAGED_KEY = (
    "Encrypted at rest with an AWS-managed key by default: the stack holds run metadata (ARNs, statuses, job "
    "events), not behaviour data. Set kms_key_arn in the configuration to use a customer-managed key instead."
)


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one exact cdk-nag finding (e.g. 'AwsSolutions-IAM5[Resource::*]') on `construct`."""
    pack = finding.split("-", 1)[0]  # the rule pack that reports it: AwsSolutions or Serverless
    Validations.of(construct).acknowledge(Acknowledgment(id=f"{pack}::{finding}", reason=reason))


def acknowledge_resources(construct: IConstruct, resources: list[str], reason: str) -> None:
    for resource in resources:
        acknowledge(construct, f"AwsSolutions-IAM5[Resource::{resource}]", reason)


def skip_checkov(construct: IConstruct, checks: dict[str, str]) -> None:
    """Skip checkov checks (id -> reason) on the construct's CloudFormation resource."""
    resource = construct.node.default_child if not isinstance(construct, CfnResource) else construct
    assert isinstance(resource, CfnResource), f"{construct.node.path} has no CloudFormation resource"
    existing = (resource.get_metadata("checkov") or {}).get("skip", [])
    skips = existing + [{"id": check, "comment": reason} for check, reason in checks.items()]
    resource.add_metadata("checkov", {"skip": skips})
