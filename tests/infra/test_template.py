"""Template tests: the synthesized stack says what the pipeline intends."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.constants import EVENT_DETAIL_TYPE, EVENT_SOURCE
from local_engine.sdk_adapter import modeled_error_codes, sfn_error_name
from local_engine.strictness import optimized_error_name

PREFIX = "arn:aws:personalize:ap-northeast-2:123456789012"
IMPORT_JOBS = f"{PREFIX}:dataset-import-job/refresh-shop-recs-interactions-*"
SOLUTION = f"{PREFIX}:solution/shop-user-personalization"
CAMPAIGN = f"{PREFIX}:campaign/shop-home-recommendations"
LAMBDA_RETRYABLE = {
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


def only(template: Template, resource_type: str) -> tuple[str, dict[str, Any]]:
    resources = template.find_resources(resource_type)
    assert len(resources) == 1, f"expected one {resource_type}, found {sorted(resources)}"
    return next(iter(resources.items()))


def definition(template: Template) -> dict[str, Any]:
    _, machine = only(template, "AWS::StepFunctions::StateMachine")
    return json.loads(machine["Properties"]["DefinitionString"])


def all_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        yield name, state
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from all_states(processor["States"])


def state(template: Template, name: str) -> dict[str, Any]:
    return dict(all_states(definition(template)["States"]))[name]


def past_stage_event(template: Template, name: str) -> str:
    """Where a state's path leads once the stage event put on the way (if any) is passed."""
    body = state(template, name)
    return str(body["Next"]) if body.get("Resource") == "arn:aws:states:::events:putEvents" else name


def logical_id(template: Template, resource_type: str, fragment: str) -> str:
    matches = [k for k in template.find_resources(resource_type) if fragment in k]
    assert len(matches) == 1, matches
    return matches[0]


def test_executions_that_end_without_their_catch_reach_the_claim_function(example_template: Template) -> None:
    machine_id, _ = only(example_template, "AWS::StepFunctions::StateMachine")
    queue_id, _ = resource(example_template, "AWS::SQS::Queue", "UnrecordedEndsDeadLetterQueue")
    _, rule = resource(example_template, "AWS::Events::Rule", "UnrecordedEnds")
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"stateMachineArn": [{"Ref": machine_id}], "status": ["FAILED", "TIMED_OUT", "ABORTED"]},
    }
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == getatt(example_template, "AWS::Lambda::Function", "StartImport")
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 8}
    template = target["InputTransformer"]["InputTemplate"].replace("<detail>", '{"status": "TIMED_OUT"}')
    assert json.loads(template) == {"action": "close", "execution": {"status": "TIMED_OUT"}}
    example_template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com", "SourceArn": Match.any_value()},
    )


def test_a_close_that_fails_after_lambdas_retries_lands_in_an_encrypted_queue(example_template: Template) -> None:
    queue_id, queue = resource(example_template, "AWS::SQS::Queue", "FailedCloses")
    (config,) = example_template.find_resources("AWS::Lambda::EventInvokeConfig").values()
    assert config["Properties"] == {
        "FunctionName": {"Ref": logical_id(example_template, "AWS::Lambda::Function", "StartImport")},
        "Qualifier": "$LATEST",
        # Lambda's defaults, written out: two retries (a minute, then two minutes later), six hours in its queue
        "MaximumRetryAttempts": 2,
        "MaximumEventAgeInSeconds": 21600,
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}},
    }
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert example_template.to_json()["Outputs"]["FailedClosesDeadLetterQueueUrl"]["Value"] == {"Ref": queue_id}


def test_the_hourly_schedule_also_sweeps_for_ends_whose_event_was_lost(example_template: Template) -> None:
    _, schedule = resource(example_template, "AWS::Events::Rule", "Freshness")
    (sweep,) = [
        t
        for t in schedule["Properties"]["Targets"]
        if t["Arn"] == getatt(example_template, "AWS::Lambda::Function", "StartImport")
    ]
    assert json.loads(sweep["Input"]) == {"action": "sweep"}
    assert sweep["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 2}
    # It reads the executions of this state machine only, in a policy of its own (see execution_end.py).
    machine_id, _ = only(example_template, "AWS::StepFunctions::StateMachine")
    (statement,) = policy_statements(example_template, "UnrecordedEndsSweepPolicy")
    assert statement["Action"] == "states:DescribeExecution"
    assert statement["Resource"]["Fn::Join"][1][-3:] == [
        ":states:ap-northeast-2:123456789012:execution:",
        {"Fn::GetAtt": [machine_id, "Name"]},
        ":*",
    ]
    _, policy = resource(example_template, "AWS::IAM::Policy", "UnrecordedEndsSweepPolicy")
    assert policy["Properties"]["Roles"] == [{"Ref": logical_id(example_template, "AWS::IAM::Role", "StartImportRole")}]


def test_one_stack_holds_every_part(example_template: Template) -> None:
    for resource_type, count in {
        "AWS::Events::Rule": 3,  # the Glue trigger, the unrecorded ends, and the freshness check's schedule
        "AWS::StepFunctions::StateMachine": 1,
        "AWS::Lambda::Function": 4,  # three tasks and the freshness check
        "AWS::DynamoDB::GlobalTable": 1,
        "AWS::SNS::Topic": 1,
        "AWS::KMS::Key": 1,  # the alert topic's, which CloudWatch alarms may use
        "AWS::SQS::Queue": 3,  # one dead-letter queue per event rule that delivers, and the failed closes'
        "AWS::CloudWatch::Alarm": 7,  # three execution ends, three dead-letter queues, one stale campaign
        "AWS::CloudWatch::Dashboard": 1,
    }.items():
        example_template.resource_count_is(resource_type, count)


def resource(template: Template, resource_type: str, fragment: str) -> tuple[str, dict[str, Any]]:
    resource_id = logical_id(template, resource_type, fragment)
    return resource_id, template.find_resources(resource_type)[resource_id]


def test_rule_matches_only_successful_runs_of_the_configured_jobs(example_template: Template) -> None:
    _, rule = resource(example_template, "AWS::Events::Rule", "Trigger")
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.glue"],
        "detail-type": ["Glue Job State Change"],
        "detail": {"state": ["SUCCEEDED"], "jobName": ["weekly-user-behaviour-export"]},
    }


def test_rule_targets_the_state_machine_with_retries_and_a_dead_letter_queue(example_template: Template) -> None:
    machine_id, _ = only(example_template, "AWS::StepFunctions::StateMachine")
    queue_id, _ = resource(example_template, "AWS::SQS::Queue", "Trigger")
    _, rule = resource(example_template, "AWS::Events::Rule", "Trigger")
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": machine_id}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 8}
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {
        "detail-jobName": "$.detail.jobName",
        "detail-jobRunId": "$.detail.jobRunId",
        "time": "$.time",
    }
    assert json.loads(
        transformer["InputTemplate"]
        .replace("<detail-jobName>", '"j"')
        .replace("<detail-jobRunId>", '"r"')
        .replace("<time>", '"t"')
    ) == {"trigger": "glue", "job_name": "j", "job_run_id": "r", "event_time": "t"}


def test_run_table_is_keyed_by_campaign_and_base_date_and_outlives_the_stack(example_template: Template) -> None:
    _, table = only(example_template, "AWS::DynamoDB::GlobalTable")
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "campaign_name", "KeyType": "HASH"},
        {"AttributeName": "base_date", "KeyType": "RANGE"},
    ]
    assert {"AttributeName": "base_date", "AttributeType": "N"} in props["AttributeDefinitions"]
    assert {"AttributeName": "campaign_name", "AttributeType": "S"} in props["AttributeDefinitions"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    (replica,) = props["Replicas"]
    assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert replica["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"


def test_state_machine_is_standard_logged_traced_and_bounded(example_template: Template) -> None:
    log_group_id = logical_id(example_template, "AWS::Logs::LogGroup", "RefreshLogs")
    example_template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": {
                "Level": "ALL",
                "IncludeExecutionData": True,
                "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group_id, "Arn"]}}}],
            },
        },
    )
    assert definition(example_template)["TimeoutSeconds"] == 36 * 3600


def test_state_machine_logs_survive_deleting_and_deploying_the_stack_again(example_template: Template) -> None:
    log_groups = example_template.find_resources("AWS::Logs::LogGroup")
    (group,) = [g for g in log_groups.values() if "LogGroupName" in g["Properties"]]
    # Retained with the refresh history...
    assert group["DeletionPolicy"] == group["UpdateReplacePolicy"] == "Retain"
    # ...so its name must differ for each creation of the stack: it ends with part of the stack's id.
    separator, (prefix, stack_id_part) = group["Properties"]["LogGroupName"]["Fn::Join"]
    assert (separator, prefix) == ("", "/aws/vendedlogs/states/PersonalizeRefresh-refresh-")
    assert "AWS::StackId" in json.dumps(stack_id_part)
    assert "Fn::Select" in stack_id_part


def test_definition_is_inlined_with_its_substitutions(example_template: Template) -> None:
    _, machine = only(example_template, "AWS::StepFunctions::StateMachine")
    substitutions = machine["Properties"]["DefinitionSubstitutions"]
    assert set(substitutions) == {
        "StartImportFunctionArn",
        "StartTrainingFunctionArn",
        "DeployVersionFunctionArn",
        "RunTableName",
        "AlertTopicArn",
        "EventSource",
        "EventDetailType",
    }
    assert (substitutions["EventSource"], substitutions["EventDetailType"]) == (EVENT_SOURCE, EVENT_DETAIL_TYPE)
    text = machine["Properties"]["DefinitionString"]
    for placeholder in substitutions:
        assert "${" + placeholder + "}" in text


def test_every_task_is_caught(example_template: Template) -> None:
    tasks = {name: s for name, s in all_states(definition(example_template)["States"]) if s["Type"] in ("Task", "Map")}
    assert len(tasks) >= 15
    uncaught = [
        name for name, s in tasks.items() if not any("States.ALL" in c["ErrorEquals"] for c in s.get("Catch", []))
    ]
    assert uncaught == []


def test_polls_are_aws_sdk_integrations(example_template: Template) -> None:
    resources = {name: s.get("Resource") for name, s in all_states(definition(example_template)["States"])}
    assert resources["Describe import job"] == "arn:aws:states:::aws-sdk:personalize:describeDatasetImportJob"
    assert resources["Describe solution version"] == "arn:aws:states:::aws-sdk:personalize:describeSolutionVersion"
    assert resources["Describe campaign"] == "arn:aws:states:::aws-sdk:personalize:describeCampaign"
    lambda_states = sorted(n for n, r in resources.items() if r == "arn:aws:states:::lambda:invoke")
    assert lambda_states == ["Claim run", "Deploy version", "Start import", "Start training"]


def test_each_poll_waits_then_describes_then_chooses(example_template: Template) -> None:
    for wait, plan, describe, choice, walked in [
        (
            "Wait before polling import",
            "Plan next import poll",
            "Describe import job",
            "Import status changed?",
            "$.job.poll",
        ),
        (
            "Wait before polling training",
            "Plan next training poll",
            "Describe solution version",
            "Training status changed?",
            "$.training.poll",
        ),
        (
            "Wait before polling deployment",
            "Plan next deployment poll",
            "Describe campaign",
            "Deployment status changed?",
            "$.deployment.poll",
        ),
    ]:
        # Each wait is the plan's, and a Pass picks the next one: no Lambda per poll.
        assert state(example_template, wait) | {"Comment": ""} == {
            "Type": "Wait",
            "Comment": "",
            "SecondsPath": f"{walked}.next",
            "Next": plan,
        }
        assert state(example_template, plan)["Parameters"]["next.$"] == (
            f"States.ArrayGetItem({walked}.waits, States.MathAdd({walked}.index, 1))"
        )
        assert (state(example_template, plan)["ResultPath"], state(example_template, plan)["Next"]) == (
            walked,
            describe,
        )
        assert state(example_template, describe)["Next"] == choice
        assert state(example_template, choice)["Type"] == "Choice"


def test_deploy_loop_reads_latest_campaign_update_never_campaign_status(example_template: Template) -> None:
    describe = state(example_template, "Describe campaign")
    assert describe["ResultSelector"] == {"campaign.$": "$.Campaign", "checked_at.$": "$$.State.EnteredTime"}
    recorded = state(example_template, "Record deployment status")["Parameters"]["ExpressionAttributeValues"]
    assert recorded[":status"] == {"S.$": "$.describe.campaign.LatestCampaignUpdate.Status"}
    assert state(example_template, "Record deployment status")["ResultPath"] == "$.deployment.seen"
    finished = state(example_template, "Deployment finished?")
    # The quality gate's answer first: a held-back version never reaches the campaign.
    assert finished["Choices"][0] == {
        "Variable": "$.deployment.gated",
        "BooleanEquals": True,
        "Next": "Alert model held back",
    }
    assert {c["Variable"] for c in finished["Choices"][1:3]} == {"$.deployment.seen.status"}
    assert "Campaign.Status" not in json.dumps(definition(example_template))
    changed = state(example_template, "Deployment status changed?")
    update = "$.describe.campaign.LatestCampaignUpdate"
    # An update not shown yet (or shown without a version or status) is waited for, up to the limit.
    assert changed["Choices"][0] == {
        "Or": [
            {"Variable": f"{update}.SolutionVersionArn", "IsPresent": False},
            {"Variable": f"{update}.Status", "IsPresent": False},
        ],
        "Next": "Deployment update not shown",
    }
    assert [c["Next"] for c in state(example_template, "Deployment update not shown")["Choices"]] == [
        "Deployment timed out",
        "Deployment polls ran out",
    ]
    # A status change of this version's update is recorded before any other rule, the limit after.
    # latestCampaignUpdate names the version, or the form Deploy version asked for (SOLUTION/$LATEST).
    this_version = {
        "Or": [
            {"Variable": f"{update}.SolutionVersionArn", "StringEqualsPath": "$.training.solution_version_arn"},
            {"Variable": f"{update}.SolutionVersionArn", "StringEqualsPath": "$.deployment.requested_version_arn"},
        ]
    }
    assert changed["Choices"][1]["And"][0] == this_version
    assert changed["Choices"][1]["Next"] == "Record deployment status"
    assert changed["Choices"][2]["Next"] == "Deployment timed out"
    assert changed["Choices"][3]["Next"] == "Deployment polls ran out"
    # Another version's update, or this one unchanged: poll again.
    assert changed["Default"] == "Wait before polling deployment"


def test_each_loop_starts_by_checking_for_a_job_reused_already_finished(example_template: Template) -> None:
    start_at = state(example_template, "Wait for imports")["ItemProcessor"]["StartAt"]
    assert past_stage_event(example_template, start_at) == "Import finished?"
    assert past_stage_event(example_template, state(example_template, "Start training")["Next"]) == "Training finished?"
    assert (
        past_stage_event(example_template, state(example_template, "Deploy version")["Next"]) == "Deployment finished?"
    )


def test_terminal_personalize_statuses_lead_to_the_failure_path(example_template: Template) -> None:
    def choices(name: str) -> dict[str, str]:
        return {
            c["StringEquals"]: past_stage_event(example_template, c["Next"])
            for c in state(example_template, name)["Choices"]
            if "StringEquals" in c
        }

    import_finished = choices("Import finished?")
    assert import_finished == {"ACTIVE": "Import job active", "CREATE FAILED": "Import failure reason given?"}
    training = choices("Training finished?")
    assert training == {
        "ACTIVE": "Deploy version",
        "CREATE FAILED": "Training failure reason given?",
        "CREATE STOPPED": "Stopped at its limit?",
    }
    assert state(example_template, "Training failed")["Next"] == "Record campaign failure"
    assert state(example_template, "Record campaign failure")["Next"] == "Alert campaign failure"
    assert state(example_template, "Alert campaign failure")["Resource"] == "arn:aws:states:::sns:publish"
    assert state(example_template, "Refresh failed")["Type"] == "Fail"


def test_fail_states_never_raise_a_states_error_name(example_template: Template) -> None:
    # Step Functions refuses a Fail state whose error starts with "States.", so errors that a
    # Catch received from Step Functions itself end under a name of ours, the original in the cause.
    for choice, named, ours in [
        ("Phase error raised by Step Functions?", "Refresh failed in phase", "RefreshFailed"),
        ("Campaign error raised by Step Functions?", "Refresh failed", "CampaignRefreshFailed"),
    ]:
        (rule,) = state(example_template, choice)["Choices"]
        assert rule["StringMatches"] == "States.*"
        assert state(example_template, rule["Next"])["Error"] == ours
        assert state(example_template, choice)["Default"] == named
    for name, fail in all_states(definition(example_template)["States"]):
        if fail["Type"] == "Fail" and "ErrorPath" in fail:
            assert name in ("Refresh failed in phase", "Refresh failed"), f"{name} may raise a States.* error"


def test_retries_lambda_service_errors_and_back_off_personalize_limits_in_minutes(example_template: Template) -> None:
    for name in ("Start import", "Start training", "Deploy version"):
        retries = state(example_template, name)["Retry"]
        assert set(retries[0]["ErrorEquals"]) == LAMBDA_RETRYABLE
        assert retries[1]["ErrorEquals"] == [
            "LimitExceededException",
            "ResourceInUseException",
            "PersonalizeUnavailable",
        ]
        assert retries[1]["IntervalSeconds"] >= 60
        assert retries[1]["MaxDelaySeconds"] <= 900
        assert retries[1]["MaxAttempts"] <= 10
    for name in ("Describe import job", "Describe solution version", "Describe campaign"):
        (retry,) = state(example_template, name)["Retry"]
        # Throttles and 5xx answers are not in Personalize's model: they surface as its base exception.
        assert "Personalize.PersonalizeException" in retry["ErrorEquals"]
        assert retry["IntervalSeconds"] <= 10


def test_invalid_input_fails_fast_without_writing(example_template: Template) -> None:
    claim = state(example_template, "Claim run")
    assert claim["Catch"][0] == {
        "ErrorEquals": ["InvalidRunInput"],
        "ResultPath": "$",
        "Next": "Rejection cause given?",
    }
    rejected = state(example_template, "Rejection cause given?")
    for fail in (rejected["Choices"][0]["Next"], rejected["Default"]):
        assert state(example_template, fail)["Type"] == "Fail"
        assert state(example_template, fail)["Error"] == "InvalidRunInput"
    duplicate = state(example_template, "Duplicate event?")
    assert past_stage_event(example_template, duplicate["Choices"][0]["Next"]) == "Skip duplicate event"
    assert state(example_template, "Skip duplicate event")["Type"] == "Succeed"


def test_functions_share_uniform_defaults(example_template: Template) -> None:
    functions = example_template.find_resources("AWS::Lambda::Function")
    assert {f["Properties"]["Handler"] for f in functions.values()} == {
        "start_import.handler",
        "start_training.handler",
        "deploy_version.handler",
        "check_freshness.handler",
    }
    for function in functions.values():
        props = function["Properties"]
        assert props["Runtime"] == "python3.14"
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["LoggingConfig"]["LogFormat"] == "JSON"
        assert "RUN_TABLE_NAME" in props["Environment"]["Variables"]
        if props["Handler"] != "check_freshness.handler":
            settings = json.loads(props["Environment"]["Variables"]["REFRESH_SETTINGS"])
            assert settings["time_zone"] == "Asia/Seoul"
    roles = {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()}
    assert len(roles) == 4, "each function has its own role"
    assert len({json.dumps(f["Properties"]["Code"]) for f in functions.values()}) == 1, "one code asset"


def policy_statements(template: Template, fragment: str) -> list[dict[str, Any]]:
    policy_id = logical_id(template, "AWS::IAM::Policy", fragment)
    return template.find_resources("AWS::IAM::Policy")[policy_id]["Properties"]["PolicyDocument"]["Statement"]


def getatt(template: Template, resource_type: str, fragment: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id(template, resource_type, fragment), "Arn"]}


def alert_key(template: Template) -> dict[str, Any]:
    return getatt(template, "AWS::KMS::Key", "Alerts")


def test_start_import_role_is_exact(example_template: Template) -> None:
    table = getatt(example_template, "AWS::DynamoDB::GlobalTable", "Runs")
    assert policy_statements(example_template, "StartImportRole") == [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": getatt(example_template, "AWS::Logs::LogGroup", "StartImportLogs"),
        },
        {"Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Effect": "Allow", "Resource": "*"},
        {"Action": "personalize:CreateDatasetImportJob", "Effect": "Allow", "Resource": IMPORT_JOBS},
        {"Action": "personalize:DescribeDatasetImportJob", "Effect": "Allow", "Resource": IMPORT_JOBS},
        {
            "Action": "iam:PassRole",
            "Effect": "Allow",
            "Condition": {"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}},
            "Resource": "arn:aws:iam::123456789012:role/PersonalizeS3ReadAccess",
        },
        # Before importing: earlier imports, and what the data location holds (any day, this prefix only).
        {"Action": "personalize:ListDatasetImportJobs", "Effect": "Allow", "Resource": "*"},
        {
            "Action": "s3:ListBucket",
            "Condition": {"StringLike": {"s3:prefix": ["interactions/base_date=*/"]}},
            "Effect": "Allow",
            "Resource": "arn:aws:s3:::shop-behaviour-history-123456789012",
        },
        # Personalize's own automation, read at the start of every run.
        {"Action": "personalize:DescribeSolution", "Effect": "Allow", "Resource": SOLUTION},
        {"Action": "personalize:DescribeCampaign", "Effect": "Allow", "Resource": CAMPAIGN},
        {
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
            "Effect": "Allow",
            "Resource": table,
        },
        # It closes runs that ended unrecorded, and alerts about them (the topic is encrypted with the stack's key).
        {
            "Action": "sns:Publish",
            "Effect": "Allow",
            "Resource": {"Ref": logical_id(example_template, "AWS::SNS::Topic", "Alerts")},
        },
        # Lambda sends the record of a close that failed every attempt with the function's role.
        {
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": getatt(example_template, "AWS::SQS::Queue", "Failed"),
        },
        {"Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Effect": "Allow", "Resource": alert_key(example_template)},
    ]


def test_start_training_role_is_exact(example_template: Template) -> None:
    table = getatt(example_template, "AWS::DynamoDB::GlobalTable", "Runs")
    assert policy_statements(example_template, "StartTrainingRole") == [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": getatt(example_template, "AWS::Logs::LogGroup", "StartTrainingLogs"),
        },
        {"Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Effect": "Allow", "Resource": "*"},
        {"Action": "personalize:CreateSolutionVersion", "Effect": "Allow", "Resource": SOLUTION},
        # No resource type in the reference: only "*" matches.
        {"Action": "personalize:ListSolutionVersions", "Effect": "Allow", "Resource": "*"},
        # The solution (the reference's resource type) and its versions (the request's ARN).
        {
            "Action": ["personalize:DescribeSolutionVersion", "personalize:GetSolutionMetrics"],
            "Effect": "Allow",
            "Resource": [SOLUTION, f"{SOLUTION}/*"],
        },
        {"Action": "personalize:DescribeSolution", "Effect": "Allow", "Resource": SOLUTION},
        {"Action": "personalize:DescribeCampaign", "Effect": "Allow", "Resource": CAMPAIGN},
        # The imports' end, for their idle overhead.
        {"Action": "personalize:DescribeDatasetImportJob", "Effect": "Allow", "Resource": IMPORT_JOBS},
        {"Action": ["dynamodb:UpdateItem", "dynamodb:Query"], "Effect": "Allow", "Resource": table},
    ]


def test_deploy_version_role_is_exact(example_template: Template) -> None:
    table = getatt(example_template, "AWS::DynamoDB::GlobalTable", "Runs")
    assert policy_statements(example_template, "DeployVersionRole") == [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": getatt(example_template, "AWS::Logs::LogGroup", "DeployVersionLogs"),
        },
        {"Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Effect": "Allow", "Resource": "*"},
        {
            "Action": ["personalize:DescribeCampaign", "personalize:UpdateCampaign"],
            "Effect": "Allow",
            "Resource": CAMPAIGN,
        },
        {"Action": "personalize:GetSolutionMetrics", "Effect": "Allow", "Resource": [SOLUTION, f"{SOLUTION}/*"]},
        {"Action": "personalize:ListSolutionVersions", "Effect": "Allow", "Resource": "*"},
        {"Action": ["dynamodb:UpdateItem", "dynamodb:Query"], "Effect": "Allow", "Resource": table},
    ]


def test_state_machine_role_is_exact(example_template: Template) -> None:
    table = getatt(example_template, "AWS::DynamoDB::GlobalTable", "Runs")
    functions = [
        getatt(example_template, "AWS::Lambda::Function", name)
        for name in ("StartImport", "StartTraining", "DeployVersion")
    ]
    topic_id, _ = only(example_template, "AWS::SNS::Topic")
    assert policy_statements(example_template, "RefreshRole") == [
        {"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": functions},
        {"Action": "personalize:DescribeDatasetImportJob", "Effect": "Allow", "Resource": IMPORT_JOBS},
        {
            "Action": ["personalize:DescribeSolutionVersion", "personalize:StopSolutionVersionCreation"],
            "Effect": "Allow",
            "Resource": [SOLUTION, f"{SOLUTION}/*"],
        },
        {"Action": "personalize:DescribeCampaign", "Effect": "Allow", "Resource": CAMPAIGN},
        {"Action": "dynamodb:UpdateItem", "Effect": "Allow", "Resource": table},
        {"Action": "sns:Publish", "Effect": "Allow", "Resource": {"Ref": topic_id}},
        {
            "Action": "events:PutEvents",
            "Effect": "Allow",
            "Resource": {
                "Fn::Join": [
                    "",
                    ["arn:", {"Ref": "AWS::Partition"}, ":events:ap-northeast-2:123456789012:event-bus/default"],
                ]
            },
        },
        {
            "Action": [
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
            ],
            "Effect": "Allow",
            "Resource": "*",
        },
        {
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
            ],
            "Effect": "Allow",
            "Resource": "*",
        },
        {"Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Effect": "Allow", "Resource": alert_key(example_template)},
    ]


def test_event_role_may_only_start_this_state_machine(example_template: Template) -> None:
    machine_id, _ = only(example_template, "AWS::StepFunctions::StateMachine")
    assert policy_statements(example_template, "EventsRole") == [
        {"Action": "states:StartExecution", "Effect": "Allow", "Resource": {"Ref": machine_id}}
    ]


def test_no_wildcard_action_anywhere(example_template: Template) -> None:
    for policy in example_template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all("*" not in action for action in actions), statement


def test_two_datasets_and_campaigns_widen_each_role_to_exactly_those(two_of_each_template: Template) -> None:
    (create,) = [
        s
        for s in policy_statements(two_of_each_template, "StartImportRole")
        if s["Action"] == "personalize:CreateDatasetImportJob"
    ]
    assert f"{PREFIX}:dataset-import-job/refresh-shop-recs-items-*" in create["Resource"]
    (deploy,) = [
        s
        for s in policy_statements(two_of_each_template, "DeployVersionRole")
        if "personalize:UpdateCampaign" in s["Action"]
    ]
    assert deploy["Resource"] == [CAMPAIGN, f"{PREFIX}:campaign/shop-similar-items"]


@pytest.mark.parametrize("email", ["ops@example.com"])
def test_alert_topic_is_encrypted_and_subscribes_the_configured_email(raw_config: dict[str, Any], email: str) -> None:
    from infra.config import parse_config
    from local_engine.synth import synthesize

    raw_config["alert_email"] = email
    template = synthesize(parse_config(raw_config))
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": email})
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})


# Names the engine's integrations produce exactly as AWS does (local_engine/strictness.py and
# sdk_adapter.py); "SdkClientException" is the client-side failure the AWS docs name for Lambda
# tasks and that aws-sdk tasks report the same way.
def producible_error_names() -> set[str]:
    names = {"Personalize.PersonalizeException", "Personalize.SdkClientException"}
    # The Lambda service errors CDK's LambdaInvoke retries, as AWS's best practices list them.
    names |= {"Lambda.ClientExecutionTimeoutException", "Lambda.SdkClientException"}
    names |= {sfn_error_name("personalize", code) for code in modeled_error_codes("personalize")}
    for service in ("dynamodb", "lambda", "events"):
        names |= {optimized_error_name(service, code) for code in modeled_error_codes(service)}
        names.add(optimized_error_name(service, "NotInTheModel"))
    # PutEvents answered with FailedEntryCount > 0 (the events integration's documented error).
    names.add("EventBridge.FailedEntry")
    return names


def test_every_retried_or_caught_service_error_is_spelled_as_aws_reports_it(example_template: Template) -> None:
    producible = producible_error_names()
    for name, body in all_states(definition(example_template)["States"]):
        for handler in body.get("Retry", []) + body.get("Catch", []):
            for error in handler["ErrorEquals"]:
                if error.split(".")[0] in ("DynamoDB", "Personalize", "Lambda", "EventBridge"):
                    assert error in producible, f"{name} matches {error}, which no integration reports"


def test_record_writes_retry_every_transient_dynamodb_error(example_template: Template) -> None:
    transient = {
        "DynamoDB.ProvisionedThroughputExceededException",
        "DynamoDB.ThrottlingException",
        "DynamoDB.RequestLimitExceededException",
        "DynamoDB.InternalServerErrorException",
        "DynamoDB.AmazonDynamoDBException",
    }
    writes = [
        (name, body)
        for name, body in all_states(definition(example_template)["States"])
        if body.get("Resource") == "arn:aws:states:::dynamodb:updateItem"
    ]
    assert len(writes) >= 6
    for name, body in writes:
        assert transient <= set(body["Retry"][0]["ErrorEquals"]), name


OPTIONAL_FIELDS = (".FailureReason", ".Cause", ".LatestCampaignUpdate", ".LastUpdatedDateTime", ".Status")


def absent_tests(rule: dict[str, Any]) -> list[str]:
    """The paths a rule tests for absence: `IsPresent: false`, alone or each of an Or's. The rules after it only
    run when every one of them is there."""
    rules = rule.get("Or", [rule])
    return (
        [r["Variable"] for r in rules if r.get("IsPresent") is False]
        if len(rules) == len([r for r in rules if r.get("IsPresent") is False])
        else []
    )


def edges(name: str, body: dict[str, Any]) -> Iterator[tuple[str, set[str]]]:
    """(next state, optional paths this state proves present on that edge)."""
    proved_by_absence: set[str] = set()
    for rule in body.get("Choices", []):
        if rule.get("IsPresent") is True:
            yield rule["Next"], {rule["Variable"]}
        elif absent := absent_tests(rule):
            yield rule["Next"], set(proved_by_absence)
            # The later rules only run when the paths are there, and their parent objects.
            proved_by_absence.update(path for v in absent for path in (v, v.rsplit(".", 1)[0]))
        else:
            yield rule["Next"], set(proved_by_absence)
    for key in ("Default", "Next"):
        if key in body:
            result_path = body.get("ResultPath")
            written = {result_path} if body["Type"] == "Pass" and isinstance(result_path, str) else set()
            yield body[key], written
    for catcher in body.get("Catch", []):
        yield catcher["Next"], set()


def vouched_paths(states: dict[str, Any]) -> dict[str, set[str]]:
    """For each state, the optional paths proved present on every way into it (a fixed point)."""
    everything = {"$"}  # "not yet known": every path starts with "$"
    targets = {target for name, body in states.items() for target, _ in edges(name, body)}
    # A StartAt state (of the machine or of a Map's iterations) is entered with nothing proved.
    vouched = {name: set(everything) if name in targets else set() for name in states}
    changed = True
    while changed:
        changed = False
        incoming: dict[str, list[set[str]]] = {}
        for name, body in states.items():
            for target, proved in edges(name, body):
                incoming.setdefault(target, []).append(vouched[name] | proved)
        for name, ways_in in incoming.items():
            new = set.intersection(*ways_in)
            if new != vouched[name]:
                vouched[name], changed = new, True
    return {name: paths - everything for name, paths in vouched.items()}


def optional_reads(value: Any) -> list[str]:
    return [p for p in re.findall(r"\$\.[A-Za-z_.]+", json.dumps(value)) if any(f in p for f in OPTIONAL_FIELDS)]


def test_every_read_of_an_optional_field_is_guarded_by_is_present(example_template: Template) -> None:
    """A missing path is an uncatchable States.Runtime on AWS: an optional field (failureReason,
    a caught error's Cause, latestCampaignUpdate) is only read where a Choice proved it present."""
    states = dict(all_states(definition(example_template)["States"]))
    vouched = vouched_paths(states)
    for name, body in states.items():
        proved = set(vouched.get(name, set()))
        unread = ("Comment", "ResultPath", "ItemProcessor", "Iterator", "Choices")
        reads = optional_reads({k: v for k, v in body.items() if k not in unread})
        for rule in body.get("Choices", []):
            if absent := absent_tests(rule):
                proved.update(path for v in absent for path in (v, v.rsplit(".", 1)[0]))
                continue
            if "IsPresent" in rule:
                continue
            reads += [p for p in optional_reads(rule) if not any(p.startswith(v) for v in proved)]
        for path in reads:
            assert any(path.startswith(v) for v in proved), f"{name} reads {path} unguarded"


STAGE_EVENTS = {
    "Announce run claimed": "Start import",
    "Announce duplicate skipped": "Skip duplicate event",
    "Announce import started": "Import finished?",
    "Announce import active": "Import job active",
    "Announce training started": "Training finished?",
    "Announce training active": "Deploy version",
    "Announce deployment decision": "Deployment finished?",
    "Announce campaign refreshed": "Campaign refreshed",
    "Announce campaign held back": "Campaign held back",
    "Announce campaign skipped": "Campaign skipped",
    "Announce campaign failed": "Campaign failed",
    "Announce refresh succeeded": "Refresh succeeded",
    "Announce refresh ended with failed campaigns": "Campaign error raised by Step Functions?",
    "Announce refresh failed": "Phase error raised by Step Functions?",
}
STAGE_EVENT_FIELDS = {"campaigns", "base_date", "execution_arn", "phase", "status", "decision", "reason"}


def stage_event_states(template: Template) -> dict[str, dict[str, Any]]:
    return {
        name: body
        for name, body in all_states(definition(template)["States"])
        if body.get("Resource") == "arn:aws:states:::events:putEvents"
    }


def test_stage_events_are_put_by_the_optimized_integration_at_every_phase_change(example_template: Template) -> None:
    states = stage_event_states(example_template)
    assert {name: body["Next"] for name, body in states.items()} == STAGE_EVENTS
    for name, body in states.items():
        (entry,) = body["Parameters"]["Entries"]
        # Substituted with EVENT_SOURCE and EVENT_DETAIL_TYPE (test_definition_is_inlined_with_its_substitutions).
        assert (entry["Source"], entry["DetailType"]) == ("${EventSource}", "${EventDetailType}"), name
        assert "EventBusName" not in entry, f"{name}: stage events go to the default bus"
        fields = {key.removesuffix(".$") for key in entry["Detail"]}
        assert fields >= STAGE_EVENT_FIELDS, f"{name} lacks {STAGE_EVENT_FIELDS - fields}"
        assert body["ResultPath"] is None, name


def test_a_failed_stage_event_is_retried_then_let_go(example_template: Template) -> None:
    """PutEvents may fail outright or answer 200 with FailedEntryCount > 0 (the integration then fails
    with EventBridge.FailedEntry): both are retried briefly, and then the refresh goes on without the event."""
    for name, body in stage_event_states(example_template).items():
        (retry,) = body["Retry"]
        assert {"EventBridge.FailedEntry", "EventBridge.InternalException", "EventBridge.ThrottlingException"} <= set(
            retry["ErrorEquals"]
        ), name
        assert retry["MaxAttempts"] <= 3, name
        (catch,) = body["Catch"]
        assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.stage_event_error", "Next": body["Next"]}, name
