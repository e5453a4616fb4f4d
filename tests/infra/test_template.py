"""Template tests: the synthesized stack says what the pipeline intends.

A run is three state machines (the refresh, which starts and awaits an import's and a campaign's): what holds of
a state machine (every task caught, polls as aws-sdk integrations, exact roles, stage events, ...) is asserted of
each of the three, and each state is looked up in the definition that holds it."""

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


# Each state machine by the construct id it has in the refresh workflow (infra/refresh_workflow.py).
MACHINES = {
    "refresh": "RefreshStateMachine",
    "import": "RefreshImportStateMachine",
    "campaign": "RefreshCampaignStateMachine",
}
ROLES = {"refresh": "RefreshRole", "import": "RefreshImportRole", "campaign": "RefreshCampaignRole"}


def only(template: Template, resource_type: str) -> tuple[str, dict[str, Any]]:
    resources = template.find_resources(resource_type)
    assert len(resources) == 1, f"expected one {resource_type}, found {sorted(resources)}"
    return next(iter(resources.items()))


def machine(template: Template, name: str = "refresh") -> tuple[str, dict[str, Any]]:
    """(logical id, resource) of a state machine: the refresh (the one the trigger starts), or a child."""
    return resource(template, "AWS::StepFunctions::StateMachine", MACHINES[name])


def definition(template: Template, name: str = "refresh") -> dict[str, Any]:
    _, found = machine(template, name)
    return json.loads(found["Properties"]["DefinitionString"])


def definitions(template: Template) -> dict[str, dict[str, Any]]:
    return {name: definition(template, name) for name in MACHINES}


def all_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        yield name, state
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from all_states(processor["States"])


def state(template: Template, name: str, machine_name: str | None = None) -> dict[str, Any]:
    """The state `name` of the one definition that has it, or of `machine_name`'s where several do."""
    found = [
        states[name]
        for candidate, body in definitions(template).items()
        if machine_name in (None, candidate) and name in (states := dict(all_states(body["States"])))
    ]
    assert len(found) == 1, f"{name!r} is in {len(found)} definitions: name the state machine"
    return found[0]


def past_stage_event(template: Template, name: str, machine_name: str | None = None) -> str:
    """Where a state's path leads once the stage event put on the way (if any) is passed."""
    body = state(template, name, machine_name)
    return str(body["Next"]) if body.get("Resource") == "arn:aws:states:::events:putEvents" else name


def logical_id(template: Template, resource_type: str, fragment: str) -> str:
    matches = [k for k in template.find_resources(resource_type) if fragment in k]
    assert len(matches) == 1, matches
    return matches[0]


def test_executions_that_end_without_their_catch_reach_the_claim_function(example_template: Template) -> None:
    # The refresh's ends only: a child's end that its own states did not record fails the refresh's Task that
    # awaits it, and the refresh records and alerts it (test_a_childs_bad_end_is_recorded_by_the_refresh).
    machine_id, _ = machine(example_template)
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
    # It reads the executions of the refresh only, in a policy of its own (see execution_end.py).
    machine_id, _ = machine(example_template)
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
        "AWS::StepFunctions::StateMachine": 3,  # the refresh, an import's, a campaign's
        "AWS::Lambda::Function": 4,  # three tasks and the freshness check
        "AWS::DynamoDB::GlobalTable": 1,
        "AWS::SNS::Topic": 1,
        "AWS::KMS::Key": 1,  # the alert topic's, which CloudWatch alarms may use
        "AWS::SQS::Queue": 3,  # one dead-letter queue per event rule that delivers, and the failed closes'
        "AWS::CloudWatch::Alarm": 7,  # three ends of the refresh, three dead-letter queues, one stale campaign
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
    machine_id, _ = machine(example_template)
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


@pytest.mark.parametrize("name", list(MACHINES))
def test_state_machine_is_standard_logged_traced_and_bounded(example_template: Template, name: str) -> None:
    log_group_id = logical_id(example_template, "AWS::Logs::LogGroup", "RefreshLogs")
    _, found = machine(example_template, name)
    properties = found["Properties"]
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    # One log group for the three: an execution's events and its children's are read in one place.
    assert properties["LoggingConfiguration"] == {
        "Level": "ALL",
        "IncludeExecutionData": True,
        "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group_id, "Arn"]}}}],
    }
    # A child starts after the refresh, so with the same timeout it never outlives it.
    assert definition(example_template, name)["TimeoutSeconds"] == 36 * 3600


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


# The placeholders each definition names, and so needs substituted.
PLACEHOLDERS = {
    "refresh": {
        "StartImportFunctionArn",
        "RunTableName",
        "AlertTopicArn",
        "EventSource",
        "EventDetailType",
        "ImportStateMachineArn",
        "CampaignStateMachineArn",
    },
    "import": {"StartImportFunctionArn", "RunTableName", "EventSource", "EventDetailType"},
    "campaign": {
        "StartTrainingFunctionArn",
        "DeployVersionFunctionArn",
        "RunTableName",
        "AlertTopicArn",
        "EventSource",
        "EventDetailType",
    },
}


@pytest.mark.parametrize("name", list(MACHINES))
def test_definition_is_inlined_with_its_substitutions(example_template: Template, name: str) -> None:
    _, found = machine(example_template, name)
    substitutions = found["Properties"]["DefinitionSubstitutions"]
    text = found["Properties"]["DefinitionString"]
    assert set(re.findall(r"\$\{(\w+)\}", text)) == PLACEHOLDERS[name]
    assert PLACEHOLDERS[name] <= set(substitutions), "every placeholder is substituted"
    assert (substitutions["EventSource"], substitutions["EventDetailType"]) == (EVENT_SOURCE, EVENT_DETAIL_TYPE)
    if name == "refresh":
        # The children it starts are this stack's own.
        for child in ("import", "campaign"):
            assert substitutions[f"{child.title()}StateMachineArn"] == {"Ref": machine(example_template, child)[0]}


@pytest.mark.parametrize(("name", "at_least"), [("refresh", 10), ("import", 5), ("campaign", 15)])
def test_every_task_is_caught(example_template: Template, name: str, at_least: int) -> None:
    tasks = {
        state_name: s
        for state_name, s in all_states(definition(example_template, name)["States"])
        if s["Type"] in ("Task", "Map")
    }
    assert len(tasks) >= at_least
    uncaught = [
        state_name
        for state_name, s in tasks.items()
        if not any("States.ALL" in c["ErrorEquals"] for c in s.get("Catch", []))
    ]
    assert uncaught == []


def resources_of(template: Template, name: str) -> dict[str, str | None]:
    return {state_name: s.get("Resource") for state_name, s in all_states(definition(template, name)["States"])}


def test_polls_are_aws_sdk_integrations(example_template: Template) -> None:
    imports, campaigns = resources_of(example_template, "import"), resources_of(example_template, "campaign")
    assert imports["Describe import job"] == "arn:aws:states:::aws-sdk:personalize:describeDatasetImportJob"
    assert campaigns["Describe solution version"] == "arn:aws:states:::aws-sdk:personalize:describeSolutionVersion"
    assert campaigns["Describe campaign"] == "arn:aws:states:::aws-sdk:personalize:describeCampaign"
    lambda_states = {
        name: sorted(
            n for n, r in resources_of(example_template, name).items() if r == "arn:aws:states:::lambda:invoke"
        )
        for name in MACHINES
    }
    assert lambda_states == {
        "refresh": ["Claim run", "Start import"],
        # An import Start import found no room for is created by its own execution.
        "import": ["Start import when there is room"],
        "campaign": ["Deploy version", "Start training"],
    }


@pytest.mark.parametrize("machine_name", list(MACHINES))
def test_every_personalize_call_of_the_state_machine_retries_a_throttle(
    example_template: Template, machine_name: str
) -> None:
    # Personalize throttles describe calls with LimitExceededException: a poll that gave up on the first one would
    # fail a run whose job was fine.
    personalize_calls = [
        (name, body)
        for name, body in all_states(definition(example_template, machine_name)["States"])
        if str(body.get("Resource", "")).startswith("arn:aws:states:::aws-sdk:personalize:")
    ]
    for name, body in personalize_calls:
        retried = {error for retrier in body.get("Retry", []) for error in retrier["ErrorEquals"]}
        assert "Personalize.LimitExceededException" in retried, f"{name} does not retry a throttle"
    if machine_name != "refresh":
        assert personalize_calls, f"the {machine_name} execution polls Personalize"


def test_the_refresh_starts_and_awaits_one_execution_per_dataset_and_per_campaign(example_template: Template) -> None:
    for task, child, item in [
        ("Import dataset", "${ImportStateMachineArn}", "Wait for imports"),
        ("Refresh campaign", "${CampaignStateMachineArn}", "Refresh campaigns"),
    ]:
        body = state(example_template, task, "refresh")
        assert body["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
        assert body["Parameters"]["StateMachineArn"] == child
        # Named after the item ("<campaign>-<base date>-<12 hex>", "<import job name>-<12 hex>"), and linked to the
        # refresh in the console.
        assert body["Parameters"]["Name.$"] == "$.execution_name"
        assert body["Parameters"]["Input"]["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$"] == "$$.Execution.Id"
        assert body["OutputPath"] == "$.Output"
        assert state(example_template, item, "refresh")["ItemSelector"]["execution_name.$"] == (
            "$$.Map.Item.Value.execution_name"
        )
    # Neither child starts executions of its own: only the refresh's history grows with the datasets and campaigns.
    for name in ("import", "campaign"):
        assert not [r for r in resources_of(example_template, name).values() if r and ":states:::states:" in r]


def reachable(states: dict[str, Any], start: str) -> set[str]:
    """The states of one scope (the top level, or a Map's iteration) that `start` can lead to."""
    seen, pending = set(), [start]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        body = states[name]
        pending += [body[key] for key in ("Next", "Default") if key in body]
        pending += [rule["Next"] for rule in body.get("Choices", []) + body.get("Catch", [])]
    return seen


@pytest.mark.parametrize(
    ("kind", "map_state", "task"),
    [("Import", "Wait for imports", "Import dataset"), ("Campaign", "Refresh campaigns", "Refresh campaign")],
)
def test_a_childs_bad_end_is_recorded_by_the_refresh(
    example_template: Template, kind: str, map_state: str, task: str
) -> None:
    """A child that ends FAILED, TIMED_OUT or ABORTED fails the refresh's Task with States.TaskFailed, the child's
    DescribeExecution output as its cause; the refresh reads how it ended, then records and alerts it: an import's
    as the run's failure (every campaign needs the data), a campaign's as that campaign's."""
    top = definition(example_template)["States"]
    iteration = top[map_state]["ItemProcessor"]["States"]
    (catch,) = iteration[task]["Catch"]
    assert catch == {
        "ErrorEquals": ["States.ALL"],
        "ResultPath": "$.error",
        "Next": f"{kind} execution did not succeed",
    }
    ended = iteration[f"{kind} execution ended"]
    assert {rule.get("StringEquals") for rule in ended["Choices"]} >= {"TIMED_OUT", "ABORTED"}
    after = reachable(iteration, catch["Next"])
    assert f"{kind} execution ended" in after and f"{kind} execution not started" in after
    if kind == "Import":
        assert all(iteration[name]["Type"] != "Succeed" for name in after)
        (map_catch,) = top[map_state]["Catch"]
        assert {"Record run failure", "Alert run failure"} <= reachable(top, map_catch["Next"])
    else:
        assert {"Close campaign record", "Alert campaign failure", "Announce campaign failed"} <= after


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
    assert "Campaign.Status" not in json.dumps(definitions(example_template))
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
    # An import execution starts by asking whether its job still waits for room, then checks before any wait.
    room = state(example_template, definition(example_template, "import")["StartAt"])
    assert room["Choices"][0]["StringEquals"] == "WAITING_FOR_ROOM"
    created = state(example_template, room["Choices"][0]["Next"])["Next"]
    assert state(example_template, created)["Next"] == room["Default"]
    assert past_stage_event(example_template, room["Default"]) == "Import finished?"
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
    assert state(example_template, "Record campaign failure", "campaign")["Next"] == "Alert campaign failure"
    assert state(example_template, "Alert campaign failure", "campaign")["Resource"] == "arn:aws:states:::sns:publish"
    assert state(example_template, "Refresh failed")["Type"] == "Fail"


def test_fail_states_never_raise_a_states_error_name(example_template: Template) -> None:
    # Step Functions refuses a Fail state whose error starts with "States.", so errors that a
    # Catch received from Step Functions itself end under a name of ours, the original in the cause.
    # An import's execution that ended with one (States.Runtime, States.DataLimitExceeded, ...) fails the refresh's
    # Map under a name of ours too, the import execution's error and cause in the cause.
    ending_as_their_error = ("Refresh failed in phase", "Refresh failed", "Import failed as it ended")
    for choice, named, ours in [
        ("Phase error raised by Step Functions?", "Refresh failed in phase", "RefreshFailed"),
        ("Campaign error raised by Step Functions?", "Refresh failed", "CampaignRefreshFailed"),
        ("Import error raised by Step Functions?", "Import failed as it ended", "ImportExecutionFailed"),
    ]:
        (rule,) = state(example_template, choice)["Choices"]
        assert rule["StringMatches"] == "States.*"
        assert state(example_template, rule["Next"])["Error"] == ours
        assert state(example_template, choice)["Default"] == named
    for machine_name, body in definitions(example_template).items():
        for name, fail in all_states(body["States"]):
            if fail["Type"] == "Fail" and "ErrorPath" in fail:
                assert name in ending_as_their_error, f"{machine_name}: {name} may raise a States.* error"


def longest_retry_seconds(retry: dict[str, Any]) -> float:
    """The waits of every retry of a retrier, added up without jitter (FULL jitter waits up to each)."""
    waits = [retry["IntervalSeconds"] * retry.get("BackoffRate", 2.0) ** n for n in range(retry["MaxAttempts"])]
    return sum(min(wait, retry.get("MaxDelaySeconds", wait)) for wait in waits)


def test_retries_lambda_service_errors_and_back_off_personalize_limits_in_minutes(example_template: Template) -> None:
    for name in ("Start import", "Start training", "Deploy version", "Start import when there is room"):
        retries = state(example_template, name)["Retry"]
        assert set(retries[0]["ErrorEquals"]) == LAMBDA_RETRYABLE
        assert {"LimitExceededException", "ResourceInUseException", "PersonalizeUnavailable"} <= set(
            retries[1]["ErrorEquals"]
        )
        assert retries[1]["IntervalSeconds"] >= 60
        assert retries[1]["MaxDelaySeconds"] <= 900
    for name in ("Start import", "Deploy version"):
        # About an hour and a half at most: another job of one's own in the way ends soon, or is a stuck one.
        assert state(example_template, name)["Retry"][1]["MaxAttempts"] <= 10
    for name in ("Start import when there is room", "Start training"):
        # The region's quota of imports (5) or trainings (20) taken, or the dataset's or solution's own job still
        # running: the job waits for room about ten hours, in its own execution's history (ImportRoomExhausted:
        # an import still without room). FULL jitter draws each wait up to its bound: half the bounds on average.
        (room,) = [r for r in state(example_template, name)["Retry"] if "LimitExceededException" in r["ErrorEquals"]]
        assert room["JitterStrategy"] == "FULL"
        assert 8 * 3600 <= longest_retry_seconds(room) / 2 <= 11 * 3600, name
    for name in ("Import dataset", "Refresh campaign"):
        # A child that could not be started for now (too many open executions, throttled): tried again shortly.
        (retry,) = state(example_template, name)["Retry"]
        assert set(retry["ErrorEquals"]) == {
            "StepFunctions.ExecutionLimitExceededException",
            "StepFunctions.AWSStepFunctionsException",
            "StepFunctions.SdkClientException",
        }
        assert longest_retry_seconds(retry) <= 300
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
        # The environment holds only what CloudFormation alone knows; the settings are files of the code.
        assert set(props["Environment"]["Variables"]) <= {"RUN_TABLE_NAME", "ALERT_TOPIC_ARN"}
        assert "RUN_TABLE_NAME" in props["Environment"]["Variables"]
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


STAGE_EVENTS_BUS = {
    "Action": "events:PutEvents",
    "Effect": "Allow",
    "Resource": {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":events:ap-northeast-2:123456789012:event-bus/default"]]
    },
}
LOG_DELIVERY_AND_TRACING = [
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
]


def executions_of(template: Template, name: str) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":states:ap-northeast-2:123456789012:execution:",
                {"Fn::GetAtt": [machine(template, name)[0], "Name"]},
                ":*",
            ],
        ]
    }


def test_state_machine_role_is_exact(example_template: Template) -> None:
    """The refresh's role: its own tasks (the claim and the imports' start, record writes, alerts, stage events),
    and the children it starts and awaits, as the Step Functions developer guide's IAM page for
    startExecution.sync lists them."""
    table = getatt(example_template, "AWS::DynamoDB::GlobalTable", "Runs")
    topic_id, _ = only(example_template, "AWS::SNS::Topic")
    assert policy_statements(example_template, ROLES["refresh"]) == [
        {
            "Action": "lambda:InvokeFunction",
            "Effect": "Allow",
            "Resource": getatt(example_template, "AWS::Lambda::Function", "StartImport"),
        },
        {
            "Action": "states:StartExecution",
            "Effect": "Allow",
            "Resource": [{"Ref": machine(example_template, child)[0]} for child in ("import", "campaign")],
        },
        # Describe to follow a child to its end, stop to stop it with the refresh.
        {
            "Action": ["states:DescribeExecution", "states:StopExecution"],
            "Effect": "Allow",
            "Resource": [executions_of(example_template, child) for child in ("import", "campaign")],
        },
        # The managed rule through which Step Functions learns of a child's end.
        {
            "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            "Effect": "Allow",
            "Resource": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":events:ap-northeast-2:123456789012:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule",
                    ],
                ]
            },
        },
        {"Action": "dynamodb:UpdateItem", "Effect": "Allow", "Resource": table},
        {"Action": "sns:Publish", "Effect": "Allow", "Resource": {"Ref": topic_id}},
        STAGE_EVENTS_BUS,
        *LOG_DELIVERY_AND_TRACING,
        {"Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Effect": "Allow", "Resource": alert_key(example_template)},
    ]


def test_import_state_machine_role_is_exact(example_template: Template) -> None:
    """An import's role: create an import that waited for room (through the run function), poll it, mirror its
    status into the records, announce it. No alert: the refresh alerts an import's failure."""
    table = getatt(example_template, "AWS::DynamoDB::GlobalTable", "Runs")
    assert policy_statements(example_template, ROLES["import"]) == [
        {
            "Action": "lambda:InvokeFunction",
            "Effect": "Allow",
            "Resource": getatt(example_template, "AWS::Lambda::Function", "StartImport"),
        },
        {"Action": "personalize:DescribeDatasetImportJob", "Effect": "Allow", "Resource": IMPORT_JOBS},
        {"Action": "dynamodb:UpdateItem", "Effect": "Allow", "Resource": table},
        STAGE_EVENTS_BUS,
        *LOG_DELIVERY_AND_TRACING,
    ]


def test_campaign_state_machine_role_is_exact(example_template: Template) -> None:
    """A campaign's role: train (and stop a training over its limit), deploy, poll both, record, alert, announce."""
    table = getatt(example_template, "AWS::DynamoDB::GlobalTable", "Runs")
    topic_id, _ = only(example_template, "AWS::SNS::Topic")
    assert policy_statements(example_template, ROLES["campaign"]) == [
        {
            "Action": "lambda:InvokeFunction",
            "Effect": "Allow",
            "Resource": [
                getatt(example_template, "AWS::Lambda::Function", name) for name in ("StartTraining", "DeployVersion")
            ],
        },
        {
            "Action": ["personalize:DescribeSolutionVersion", "personalize:StopSolutionVersionCreation"],
            "Effect": "Allow",
            "Resource": [SOLUTION, f"{SOLUTION}/*"],
        },
        {"Action": "personalize:DescribeCampaign", "Effect": "Allow", "Resource": CAMPAIGN},
        {"Action": "dynamodb:UpdateItem", "Effect": "Allow", "Resource": table},
        {"Action": "sns:Publish", "Effect": "Allow", "Resource": {"Ref": topic_id}},
        STAGE_EVENTS_BUS,
        *LOG_DELIVERY_AND_TRACING,
        {"Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Effect": "Allow", "Resource": alert_key(example_template)},
    ]


def test_each_state_machine_has_its_own_role(example_template: Template) -> None:
    roles = {name: machine(example_template, name)[1]["Properties"]["RoleArn"] for name in MACHINES}
    assert roles == {
        name: {"Fn::GetAtt": [logical_id(example_template, "AWS::IAM::Role", ROLES[name]), "Arn"]} for name in MACHINES
    }


def test_event_role_may_only_start_this_state_machine(example_template: Template) -> None:
    machine_id, _ = machine(example_template)
    assert policy_statements(example_template, "EventsRole") == [
        {"Action": "states:StartExecution", "Effect": "Allow", "Resource": {"Ref": machine_id}}
    ]


def test_operators_may_read_every_execution_of_a_run_and_stop_only_the_refresh(example_template: Template) -> None:
    (policy,) = example_template.find_resources("AWS::IAM::ManagedPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    executions = [s for s in statements if str(s["Action"]).count("states:") and "StartExecution" not in str(s)]
    assert executions == [
        {
            "Action": ["states:DescribeExecution", "states:GetExecutionHistory", "states:StopExecution"],
            "Effect": "Allow",
            "Resource": executions_of(example_template, "refresh"),
        },
        # show and runs read a run's whole history: the import and campaign executions it started too.
        {
            "Action": ["states:DescribeExecution", "states:GetExecutionHistory"],
            "Effect": "Allow",
            "Resource": [executions_of(example_template, child) for child in ("import", "campaign")],
        },
    ]
    (start,) = [s for s in statements if s["Action"] == "states:StartExecution"]
    assert start["Resource"] == {"Ref": machine(example_template)[0]}


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
    names = {"Personalize.PersonalizeException", "Personalize.SdkClientException", "StepFunctions.SdkClientException"}
    # The Lambda service errors CDK's LambdaInvoke retries, as AWS's best practices list them.
    names |= {"Lambda.ClientExecutionTimeoutException", "Lambda.SdkClientException"}
    names |= {sfn_error_name("personalize", code) for code in modeled_error_codes("personalize")}
    for service in ("dynamodb", "lambda", "events", "stepfunctions"):
        names |= {optimized_error_name(service, code) for code in modeled_error_codes(service)}
        names.add(optimized_error_name(service, "NotInTheModel"))
    # PutEvents answered with FailedEntryCount > 0 (the events integration's documented error).
    names.add("EventBridge.FailedEntry")
    return names


@pytest.mark.parametrize("machine_name", list(MACHINES))
def test_every_retried_or_caught_service_error_is_spelled_as_aws_reports_it(
    example_template: Template, machine_name: str
) -> None:
    producible = producible_error_names()
    for name, body in all_states(definition(example_template, machine_name)["States"]):
        for handler in body.get("Retry", []) + body.get("Catch", []):
            for error in handler["ErrorEquals"]:
                if error.split(".")[0] in ("DynamoDB", "Personalize", "Lambda", "EventBridge", "StepFunctions"):
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
        (f"{machine_name}: {name}", body)
        for machine_name, states in definitions(example_template).items()
        for name, body in all_states(states["States"])
        if body.get("Resource") == "arn:aws:states:::dynamodb:updateItem"
    ]
    assert {name.split(":")[0] for name, _ in writes} == set(MACHINES), "each state machine writes the record"
    assert len(writes) >= 6
    for name, body in writes:
        assert transient <= set(body["Retry"][0]["ErrorEquals"]), name


OPTIONAL_FIELDS = (".FailureReason", ".Cause", ".LatestCampaignUpdate", ".LastUpdatedDateTime", ".Status")
# Read from a child's end (the DescribeExecution output a failed child gives as the Task's Cause), where the
# API always gives them: the execution's ARN and status. Its error and cause it gives only for some ends.
ALWAYS_GIVEN = ("$.child.end.Status", "$.child.end.ExecutionArn")


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
        elif present := [r["Variable"] for r in rule.get("And", []) if r.get("IsPresent") is True]:
            yield rule["Next"], set(proved_by_absence) | set(present)
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
    return [
        p
        for p in re.findall(r"\$\.[A-Za-z_.]+", json.dumps(value))
        if any(f in p for f in OPTIONAL_FIELDS) and p not in ALWAYS_GIVEN
    ]


@pytest.mark.parametrize("machine_name", list(MACHINES))
def test_every_read_of_an_optional_field_is_guarded_by_is_present(
    example_template: Template, machine_name: str
) -> None:
    """A missing path is an uncatchable States.Runtime on AWS: an optional field (failureReason,
    a caught error's Cause, latestCampaignUpdate, a child's error and cause) is only read where a Choice proved it
    present (alone, or in an And)."""
    states = dict(all_states(definition(example_template, machine_name)["States"]))
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
            if "And" in rule:
                proved_here = {r["Variable"] for r in rule["And"] if r.get("IsPresent") is True}
                others = [r for r in rule["And"] if "IsPresent" not in r]
                reads += [p for p in optional_reads(others) if not any(p.startswith(v) for v in proved | proved_here)]
                continue
            reads += [p for p in optional_reads(rule) if not any(p.startswith(v) for v in proved)]
        for path in reads:
            assert any(path.startswith(v) for v in proved), f"{name} reads {path} unguarded"


STAGE_EVENTS = {
    "refresh": {
        "Announce run claimed": "Start import",
        "Announce duplicate skipped": "Skip duplicate event",
        "Announce campaign skipped": "Campaign skipped",
        # A campaign whose execution ended without recording it (a timeout, a stop, an uncatchable error).
        "Announce campaign failed": "Campaign failed",
        "Announce refresh succeeded": "Refresh succeeded",
        "Announce refresh ended with failed campaigns": "Campaign error raised by Step Functions?",
        "Announce refresh failed": "Phase error raised by Step Functions?",
    },
    "import": {
        "Announce import started": "Import finished?",
        "Announce import active": "Import job active",
    },
    "campaign": {
        "Announce training started": "Training finished?",
        "Announce training active": "Deploy version",
        "Announce deployment decision": "Deployment finished?",
        "Announce campaign refreshed": "Campaign refreshed",
        "Announce campaign held back": "Campaign held back",
        "Announce campaign failed": "Campaign failed",
    },
}
STAGE_EVENT_FIELDS = {"campaigns", "base_date", "execution_arn", "phase", "status", "decision", "reason"}


def stage_event_states(template: Template, machine_name: str) -> dict[str, dict[str, Any]]:
    return {
        name: body
        for name, body in all_states(definition(template, machine_name)["States"])
        if body.get("Resource") == "arn:aws:states:::events:putEvents"
    }


@pytest.mark.parametrize("machine_name", list(MACHINES))
def test_stage_events_are_put_by_the_optimized_integration_at_every_phase_change(
    example_template: Template, machine_name: str
) -> None:
    states = stage_event_states(example_template, machine_name)
    assert {name: body["Next"] for name, body in states.items()} == STAGE_EVENTS[machine_name]
    for name, body in states.items():
        (entry,) = body["Parameters"]["Entries"]
        # Substituted with EVENT_SOURCE and EVENT_DETAIL_TYPE (test_definition_is_inlined_with_its_substitutions).
        assert (entry["Source"], entry["DetailType"]) == ("${EventSource}", "${EventDetailType}"), name
        assert "EventBusName" not in entry, f"{name}: stage events go to the default bus"
        fields = {key.removesuffix(".$") for key in entry["Detail"]}
        assert fields >= STAGE_EVENT_FIELDS, f"{name} lacks {STAGE_EVENT_FIELDS - fields}"
        assert body["ResultPath"] is None, name


@pytest.mark.parametrize("machine_name", list(MACHINES))
def test_a_failed_stage_event_is_retried_then_let_go(example_template: Template, machine_name: str) -> None:
    """PutEvents may fail outright or answer 200 with FailedEntryCount > 0 (the integration then fails
    with EventBridge.FailedEntry): both are retried briefly, and then the execution goes on without the event."""
    for name, body in stage_event_states(example_template, machine_name).items():
        (retry,) = body["Retry"]
        assert {"EventBridge.FailedEntry", "EventBridge.InternalException", "EventBridge.ThrottlingException"} <= set(
            retry["ErrorEquals"]
        ), name
        assert retry["MaxAttempts"] <= 3, name
        (catch,) = body["Catch"]
        assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.stage_event_error", "Next": body["Next"]}, name
