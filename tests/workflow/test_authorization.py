"""The engine refuses what the deployed roles' policies do not allow, each refusal as AWS reports it: to a
Lambda, botocore's error with AWS's code and message; to the state machine, the integration's error name.

Each test runs the deployed stack with one grant withheld from one role (the template is otherwise the one
that deploys), so the call that needs it is the one refused."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local_engine.authorization import acting_as
from local_engine.refresh import LocalRefresh

SOLUTION = "arn:aws:personalize:ap-northeast-2:123456789012:solution/shop-user-personalization"
REGION = "ap-northeast-2"


def role(refresh: LocalRefresh, name: str) -> str:
    """The deployed ARN of the role whose logical id holds `name`: "RefreshRole" is the refresh's state machine's,
    "RefreshImportRole" and "RefreshCampaignRole" those of the executions it starts."""
    (arn,) = [arn for arn in refresh.deployment.role_policies() if name in arn.rsplit("/", 1)[1]]
    return arn


def withhold(refresh: LocalRefresh, role_name: str, *withheld: str) -> str:
    """Govern the role by its deployed policies less the `withheld` actions; the role's ARN."""
    arn = role(refresh, role_name)
    documents = refresh.deployment.role_policies()[arn]
    for document in documents:
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            statement["Action"] = [a for a in actions if a not in withheld] or ["none:Withheld"]
    refresh.aws.authorization.govern(arn, documents)
    return arn


def failures(refresh: LocalRefresh, execution_arn: str) -> list[dict[str, str]]:
    return [e["taskFailedEventDetails"] for e in refresh.history(execution_arn) if "taskFailedEventDetails" in e]


def run(refresh: LocalRefresh) -> tuple[dict[str, Any], list[dict[str, str]]]:
    (arn,) = refresh.put_glue_event()
    return refresh.wait(arn), failures(refresh, arn)


def assert_refused(cause: str, caller_role: str, action: str, resource_prefix: str) -> None:
    role_name = caller_role.rsplit("/", 1)[1]
    assert f"User: arn:aws:sts::123456789012:assumed-role/{role_name}/" in cause
    assert f" is not authorized to perform: {action} on resource: {resource_prefix}" in cause
    assert f"because no identity-based policy allows the {action} action" in cause


# The state machine's integrations ------------------------------------------------------------------------


def test_a_personalize_poll_the_role_may_not_make_fails_as_the_aws_sdk_integration_reports_it(
    refresh: LocalRefresh,
) -> None:
    machine_role = withhold(refresh, "RefreshImportRole", "personalize:DescribeDatasetImportJob")

    execution, failed = run(refresh)

    assert execution["status"] == "FAILED"
    # AccessDeniedException is not in Personalize's model: the SDK's base exception names it.
    denied = next(f for f in failed if f["error"] == "Personalize.PersonalizeException")
    jobs = f"arn:aws:personalize:{REGION}:123456789012:dataset-import-job/refresh-shop-recs-interactions-"
    assert_refused(denied["cause"], machine_role, "personalize:DescribeDatasetImportJob", jobs)
    assert "(Service: Personalize, Status Code: 400," in denied["cause"]


def test_a_run_table_write_the_role_may_not_make_fails_as_the_dynamodb_integration_reports_it(
    refresh: LocalRefresh,
) -> None:
    # The import's execution writes first: it mirrors the job's status into the record.
    machine_role = withhold(refresh, "RefreshImportRole", "dynamodb:UpdateItem")

    execution, failed = run(refresh)

    assert execution["status"] == "FAILED"
    denied = next(f for f in failed if f["error"] == "DynamoDB.AmazonDynamoDBException")
    table = f"arn:aws:dynamodb:{REGION}:123456789012:table/{refresh.deployment.table_name}"
    assert_refused(denied["cause"], machine_role, "dynamodb:UpdateItem", table)


def test_an_alert_the_role_may_not_publish_fails_as_the_sns_integration_reports_it(refresh: LocalRefresh) -> None:
    # The run fails (its import cannot be polled), and the refresh alerts.
    withhold(refresh, "RefreshImportRole", "personalize:DescribeDatasetImportJob")
    machine_role = withhold(refresh, "RefreshRole", "sns:Publish")

    _, failed = run(refresh)

    denied = next(f for f in failed if f["error"] == "SNS.AuthorizationErrorException")
    assert_refused(denied["cause"], machine_role, "sns:Publish", refresh.deployment.topic_arn)
    assert refresh.alerts() == []


def test_a_stage_event_the_role_may_not_put_fails_as_the_eventbridge_integration_reports_it(
    refresh: LocalRefresh,
) -> None:
    machine_role = withhold(refresh, "RefreshRole", "events:PutEvents")
    for child in ("RefreshImportRole", "RefreshCampaignRole"):
        withhold(refresh, child, "events:PutEvents")

    _, failed = run(refresh)

    denied = next(f for f in failed if f["error"] == "EventBridge.AccessDeniedException")
    bus = f"arn:aws:events:{REGION}:123456789012:event-bus/default"
    assert_refused(denied["cause"], machine_role, "events:PutEvents", bus)
    assert refresh.stage_events() == []


def test_a_task_function_the_role_may_not_invoke_fails_as_the_lambda_integration_reports_it(
    refresh: LocalRefresh,
) -> None:
    machine_role = withhold(refresh, "RefreshRole", "lambda:InvokeFunction")

    execution, failed = run(refresh)

    assert execution["status"] == "FAILED"
    denied = failed[0]
    assert denied["error"] == "Lambda.AWSLambdaException"
    functions = f"arn:aws:lambda:{REGION}:123456789012:function:"
    assert_refused(denied["cause"], machine_role, "lambda:InvokeFunction", functions)
    assert "(Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException;" in denied["cause"]
    assert refresh.run_records() == [], "no function ran"


# The task functions' calls, as their functions' roles -----------------------------------------------------


def test_a_lambda_is_refused_a_personalize_call_its_role_may_not_make(refresh: LocalRefresh) -> None:
    training_role = withhold(refresh, "StartTrainingRole", "personalize:CreateSolutionVersion")

    execution, failed = run(refresh)

    assert execution["status"] == "FAILED"
    (record,) = refresh.run_records()
    assert (record["run_status"], record["phase"]) == ("FAILED", "TRAINING")
    cause = next(f["cause"] for f in failed if "CreateSolutionVersion" in f.get("cause", ""))
    assert "An error occurred (AccessDeniedException) when calling the CreateSolutionVersion operation" in cause
    assert_refused(cause, training_role, "personalize:CreateSolutionVersion", SOLUTION)


def test_a_lambda_may_pass_the_personalize_role_only_with_iam_pass_role(refresh: LocalRefresh) -> None:
    import_role = withhold(refresh, "StartImportRole", "iam:PassRole")

    execution, failed = run(refresh)

    assert execution["status"] == "FAILED"
    cause = next(f["cause"] for f in failed if "iam:PassRole" in f.get("cause", ""))
    # Personalize answers the create call: the refusal is its AccessDeniedException, naming iam:PassRole.
    assert "(AccessDeniedException) when calling the CreateDatasetImportJob operation" in cause
    assert_refused(cause, import_role, "iam:PassRole", refresh.config.personalize_role_arn)


def test_each_service_refuses_a_lambda_as_it_answers_aws(refresh: LocalRefresh) -> None:
    def error(call: Any) -> dict[str, Any]:
        with pytest.raises(ClientError) as raised:
            call()
        response = raised.value.response
        return dict(response["Error"]) | {"status": response["ResponseMetadata"]["HTTPStatusCode"]}

    table = refresh.deployment.table_name
    with acting_as(role(refresh, "DeployVersionRole"), "DeployVersion"):
        # Its role may update the run table, never put an item in it.
        put = error(lambda: boto3.client("dynamodb", region_name=REGION).put_item(TableName=table, Item={}))
        published = error(
            lambda: boto3.client("sns", region_name=REGION).publish(TopicArn=refresh.deployment.topic_arn, Message="x")
        )
    with acting_as(role(refresh, "StartImportRole"), "StartImport"):
        bucket = "shop-behaviour-history-123456789012"
        listed = error(
            lambda: boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=bucket, Prefix="elsewhere/")
        )
    with acting_as(role(refresh, "FreshnessRole"), "Freshness"):
        metric = {"MetricName": "m", "Value": 1.0}
        measured = error(
            lambda: boto3.client("cloudwatch", region_name=REGION).put_metric_data(
                Namespace="Other", MetricData=[metric]
            )
        )

    assert (put["Code"], put["status"]) == ("AccessDeniedException", 400)
    assert put["Message"].endswith(
        f"perform: dynamodb:PutItem on resource: arn:aws:dynamodb:{REGION}:123456789012:table/{table} "
        "because no identity-based policy allows the dynamodb:PutItem action"
    )
    assert (published["Code"], published["status"]) == ("AuthorizationError", 403)
    assert (listed["Code"], listed["status"]) == ("AccessDenied", 403)
    assert f'on resource: "arn:aws:s3:::{bucket}" because' in listed["Message"]
    assert (measured["Code"], measured["status"]) == ("AccessDenied", 403)
    assert "perform: cloudwatch:PutMetricData because no identity-based policy allows" in measured["Message"]


def test_the_old_grant_of_list_solution_versions_on_the_solution_is_refused(refresh: LocalRefresh) -> None:
    """ListSolutionVersions has no resource type: a grant on the solution's ARN matches no request."""
    arn = role(refresh, "StartTrainingRole")
    documents = refresh.deployment.role_policies()[arn]
    for document in documents:
        for statement in document["Statement"]:
            if statement["Action"] == "personalize:ListSolutionVersions":
                statement["Resource"] = SOLUTION
    refresh.aws.authorization.govern(arn, documents)

    refusal = "perform: personalize:ListSolutionVersions because no identity-based policy allows"
    with acting_as(arn, "StartTraining"), pytest.raises(ClientError, match=refusal):
        boto3.client("personalize", region_name=REGION).list_solution_versions(solutionArn=SOLUTION)
