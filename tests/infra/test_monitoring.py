"""Template tests of the monitoring: each alarm's metric, threshold, missing-data treatment and actions, the
freshness check that feeds the staleness alarms, the dashboard, and the outputs that point to them."""

from __future__ import annotations

import json
from typing import Any

import check_freshness
import pytest
from aws_cdk.assertions import Template

from infra import constants
from infra.config import parse_config
from local_engine.synth import synthesize
from tests.conftest import code_asset, example_raw

STACK = "PersonalizeRefresh"
CAMPAIGN = "shop-home-recommendations"
KEY = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def logical_id(template: Template, resource_type: str, fragment: str) -> str:
    (found,) = [k for k in template.find_resources(resource_type) if fragment in k]
    return found


def alarms(template: Template) -> dict[str, dict[str, Any]]:
    """Each alarm's properties, by alarm name."""
    found = template.find_resources("AWS::CloudWatch::Alarm")
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in found.values()}


def watched(alarm: dict[str, Any]) -> dict[str, Any]:
    """What an alarm reads, whichever form the template gives it: namespace, name, dimensions, stat, period."""
    if "Metrics" in alarm:
        (query,) = alarm["Metrics"]
        stat = query["MetricStat"]
        metric = stat["Metric"]
        return {
            "namespace": metric["Namespace"],
            "metric": metric["MetricName"],
            "dimensions": {d["Name"]: d["Value"] for d in metric["Dimensions"]},
            "stat": stat["Stat"],
            "period": stat["Period"],
        }
    return {
        "namespace": alarm["Namespace"],
        "metric": alarm["MetricName"],
        "dimensions": {d["Name"]: d["Value"] for d in alarm["Dimensions"]},
        "stat": alarm["Statistic"],
        "period": alarm["Period"],
    }


def topic(template: Template) -> dict[str, str]:
    return {"Ref": logical_id(template, "AWS::SNS::Topic", "Alerts")}


@pytest.mark.parametrize(
    ("name", "metric"),
    [
        ("ExecutionsFailed", "ExecutionsFailed"),
        ("ExecutionsTimedOut", "ExecutionsTimedOut"),
        ("ExecutionsAborted", "ExecutionsAborted"),
    ],
)
def test_an_execution_that_ends_badly_alarms_once_on_the_alert_topic(
    example_template: Template, name: str, metric: str
) -> None:
    alarm = alarms(example_template)[f"{STACK}-{name}"]
    # The refresh's executions: one per run, whose end is the run's.
    machine = {"Ref": logical_id(example_template, "AWS::StepFunctions::StateMachine", "RefreshStateMachine")}

    assert watched(alarm) == {
        "namespace": "AWS/States",
        "metric": metric,
        "dimensions": {"StateMachineArn": machine},
        "stat": "Sum",
        "period": 300,
    }
    # at least one execution in a period (> 0 of a count), alarmed at once
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (1, 1)
    # no execution at all in a period means nothing went wrong
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [topic(example_template)]
    assert "OKActions" not in alarm, "the count drops back by itself: an OK message would mean nothing"
    assert alarm["ActionsEnabled"] is True
    assert "docs/MONITORING.md" in alarm["AlarmDescription"]


def test_no_alarm_counts_the_executions_the_refresh_starts(example_template: Template) -> None:
    """An import's or a campaign's execution that ends badly fails the refresh's Task awaiting it: the refresh
    records and alerts it (its own end then counts, FAILED if any campaign or the imports failed). An alarm on the
    children's counts would alert a second time for one run, and for a stop of the refresh, once per child."""
    children = {
        logical_id(example_template, "AWS::StepFunctions::StateMachine", fragment)
        for fragment in ("RefreshImportStateMachine", "RefreshCampaignStateMachine")
    }
    watched_machines = {
        json.dumps(watched(alarm)["dimensions"].get("StateMachineArn"))
        for alarm in alarms(example_template).values()
        if watched(alarm)["namespace"] == "AWS/States"
    }
    assert watched_machines == {
        json.dumps({"Ref": logical_id(example_template, "AWS::StepFunctions::StateMachine", "RefreshStateMachine")})
    }
    assert not any(child in machine for child in children for machine in watched_machines)


@pytest.mark.parametrize(
    ("name", "queue", "means"),
    [
        ("TriggerDeadLetters", "TriggerDeadLetterQueue", "EventBridge gave up"),
        ("UnrecordedEndsDeadLetters", "UnrecordedEndsDeadLetterQueue", "EventBridge gave up"),
        ("FailedCloses", "UnrecordedEndsFailedCloses", "the run function failed, after Lambda's retries"),
    ],
)
def test_a_message_in_any_dead_letter_queue_alarms_until_it_is_drained(
    example_template: Template, name: str, queue: str, means: str
) -> None:
    alarm = alarms(example_template)[f"{STACK}-{name}"]
    queue_id = logical_id(example_template, "AWS::SQS::Queue", queue)

    assert watched(alarm) == {
        "namespace": "AWS/SQS",
        "metric": "ApproximateNumberOfMessagesVisible",
        "dimensions": {"QueueName": {"Fn::GetAtt": [queue_id, "QueueName"]}},
        "stat": "Maximum",
        "period": 300,
    }
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (1, 1)
    # SQS stops reporting an idle queue even with messages in it: the alarm keeps its state meanwhile
    assert alarm["TreatMissingData"] == "ignore"
    assert alarm["AlarmActions"] == [topic(example_template)]
    assert alarm["OKActions"] == [topic(example_template)]
    assert "personalize-refresh dlq" in alarm["AlarmDescription"]
    assert means in alarm["AlarmDescription"]


def test_a_campaign_without_a_successful_refresh_for_stale_after_days_alarms(example_template: Template) -> None:
    alarm = alarms(example_template)[f"{STACK}-Stale-{CAMPAIGN}"]

    assert watched(alarm) == {
        "namespace": "PersonalizeRefresh",
        "metric": "DaysSinceLastRefresh",
        "dimensions": {"Campaign": CAMPAIGN},
        "stat": "Maximum",
        "period": 3600,
    }
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 8)
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (3, 3)
    # a freshness check that stops publishing is itself a reason to alarm
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["AlarmActions"] == [topic(example_template)]
    assert alarm["OKActions"] == [topic(example_template)]


def test_the_staleness_threshold_is_the_configured_one_for_every_campaign(two_of_each_template: Template) -> None:
    raw = {**example_raw(), "stale_after_days": 15}
    stale = {n: a for n, a in alarms(synthesize(parse_config(raw))).items() if "-Stale-" in n}
    assert {a["Threshold"] for a in stale.values()} == {15}

    two = {n: watched(a)["dimensions"]["Campaign"] for n, a in alarms(two_of_each_template).items() if "-Stale-" in n}
    assert two == {f"{STACK}-Stale-{CAMPAIGN}": CAMPAIGN, f"{STACK}-Stale-shop-similar-items": "shop-similar-items"}


def test_alarm_evaluation_ranges_stay_within_what_cloudwatch_accepts(example_template: Template) -> None:
    for name, alarm in alarms(example_template).items():
        period = watched(alarm)["period"]
        limit = 24 * 3600 if period < 3600 else 7 * 24 * 3600
        assert period * alarm["EvaluationPeriods"] <= limit, name


def test_only_this_stacks_alarms_may_publish_to_the_alert_topic(example_template: Template) -> None:
    (policy,) = example_template.find_resources("AWS::SNS::TopicPolicy").values()
    (statement,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Action"] == "sns:Publish"
    assert statement["Resource"] == topic(example_template)
    arn = statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Join"][1]
    assert arn[-1] == ":cloudwatch:ap-northeast-2:123456789012:alarm:PersonalizeRefresh-*"
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert all(name.startswith(f"{STACK}-") for name in alarms(example_template))


def test_the_alert_topic_uses_a_key_cloudwatch_may_use(example_template: Template) -> None:
    key_id = logical_id(example_template, "AWS::KMS::Key", "Alerts")
    example_template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}})
    key = example_template.find_resources("AWS::KMS::Key")[key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    assert {
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Resource": "*",
    } in key["KeyPolicy"]["Statement"]


def test_a_configured_key_replaces_the_stacks_own() -> None:
    template = synthesize(parse_config({**example_raw(), "kms_key_arn": KEY}))
    template.resource_count_is("AWS::KMS::Key", 0)
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": KEY})


def statements(template: Template, fragment: str) -> list[dict[str, Any]]:
    policy_id = logical_id(template, "AWS::IAM::Policy", fragment)
    return template.find_resources("AWS::IAM::Policy")[policy_id]["Properties"]["PolicyDocument"]["Statement"]


def test_the_freshness_check_role_is_exact(example_template: Template) -> None:
    table = {"Fn::GetAtt": [logical_id(example_template, "AWS::DynamoDB::GlobalTable", "Runs"), "Arn"]}
    logs = {"Fn::GetAtt": [logical_id(example_template, "AWS::Logs::LogGroup", "Freshness"), "Arn"]}
    assert statements(example_template, "FreshnessRole") == [
        {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow", "Resource": logs},
        {"Action": ["dynamodb:Query", "dynamodb:DescribeTable"], "Effect": "Allow", "Resource": table},
        {
            "Action": "cloudwatch:PutMetricData",
            "Condition": {"StringEquals": {"cloudwatch:namespace": "PersonalizeRefresh"}},
            "Effect": "Allow",
            "Resource": "*",
        },
        {"Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Effect": "Allow", "Resource": "*"},
    ]


def test_with_a_configured_key_the_freshness_check_may_only_decrypt() -> None:
    template = synthesize(parse_config({**example_raw(), "kms_key_arn": KEY}))
    kms = [s for s in statements(template, "FreshnessRole") if str(s["Action"]).startswith("kms:")]
    assert kms == [{"Action": "kms:Decrypt", "Effect": "Allow", "Resource": KEY}]


def test_the_freshness_check_runs_hourly_with_the_campaigns_and_threshold(two_of_each_template: Template) -> None:
    function_id = logical_id(two_of_each_template, "AWS::Lambda::Function", "Freshness")
    function = two_of_each_template.find_resources("AWS::Lambda::Function")[function_id]["Properties"]
    assert function["Handler"] == "check_freshness.handler"
    settings = json.loads((code_asset(two_of_each_template, function_id) / "freshness_settings.json").read_text())
    assert settings == {
        "namespace": "PersonalizeRefresh",
        "campaigns": [CAMPAIGN, "shop-similar-items"],
        "stale_after_days": 8,
    }
    rule = two_of_each_template.find_resources("AWS::Events::Rule")[
        logical_id(two_of_each_template, "AWS::Events::Rule", "Freshness")
    ]["Properties"]
    assert rule["ScheduleExpression"] == "rate(1 hour)"
    (target,) = [t for t in rule["Targets"] if t["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}]
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 2}


def test_the_handler_publishes_the_metrics_the_alarms_and_dashboard_read() -> None:
    assert (
        check_freshness.DAYS_SINCE_REFRESH,
        check_freshness.DAYS_SINCE_RUN,
        check_freshness.PHASE_DURATION,
        check_freshness.CAMPAIGN_DIMENSION,
        check_freshness.PHASE_DIMENSION,
    ) == (
        constants.DAYS_SINCE_REFRESH,
        constants.DAYS_SINCE_RUN,
        constants.PHASE_DURATION,
        constants.CAMPAIGN_DIMENSION,
        constants.PHASE_DIMENSION,
    )


def dashboard(template: Template) -> tuple[str, dict[str, Any]]:
    """The dashboard's name and body, its tokens shown as <TOKEN>."""
    (props,) = [d["Properties"] for d in template.find_resources("AWS::CloudWatch::Dashboard").values()]
    parts = props["DashboardBody"]["Fn::Join"][1]
    return props["DashboardName"], json.loads("".join(p if isinstance(p, str) else "<TOKEN>" for p in parts))


def test_the_dashboard_shows_executions_freshness_phases_and_personalize_errors(example_template: Template) -> None:
    name, body = dashboard(example_template)
    assert name == STACK
    assert body["start"] == "-P28D"
    shown = {
        (m[0], m[1])
        for widget in body["widgets"]
        for m in widget["properties"].get("metrics", [])
        if isinstance(m, list) and isinstance(m[0], str) and len(m) > 1
    }
    for status in ("Started", "Succeeded", "Failed", "TimedOut", "Aborted"):
        assert ("AWS/States", f"Executions{status}") in shown
    for metric in ("DaysSinceLastRefresh", "DaysSinceLastRun", "PhaseDuration"):
        assert ("PersonalizeRefresh", metric) in shown
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in shown
    assert ("AWS/Lambda", "Errors") in shown
    phases = {
        tuple(m[5:6])
        for widget in body["widgets"]
        for m in widget["properties"].get("metrics", [])
        if isinstance(m, list) and m[:2] == ["PersonalizeRefresh", "PhaseDuration"]
    }
    assert phases == {("IMPORT",), ("TRAINING",), ("DEPLOYMENT",)}
    queries = [w["properties"]["query"] for w in body["widgets"] if w["type"] == "log"]
    assert len(queries) == 2
    assert all(q.startswith("SOURCE '<TOKEN>'") for q in queries), "both read the state machine's log group"
    assert any('"TaskFailed"' in q and "stats count(*)" in q for q in queries)


def test_the_dashboard_and_alarms_pass_the_cdk_nag_packs_with_a_key_an_email_and_two_campaigns() -> None:
    # synthesize() attaches both packs, which fail the synth on any finding not acknowledged
    from tests.conftest import two_of_each_raw

    raw = {**two_of_each_raw(), "kms_key_arn": KEY, "alert_email": "ops@example.com"}
    template = synthesize(parse_config(raw))
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    assert len(alarms(template)) == 8
    _, body = dashboard(template)
    labels = {
        m[-1].get("label")
        for w in body["widgets"]
        for m in w["properties"].get("metrics", [])
        if isinstance(m, list) and isinstance(m[-1], dict)
    }
    assert "UndeliveredAlerts" in labels, "the undelivered alerts' queue is shown, with no alarm"


def test_outputs_warn_that_the_alert_email_must_be_confirmed_and_name_the_dashboard(
    example_template: Template,
) -> None:
    outputs = example_template.to_json()["Outputs"]
    assert {
        "StateMachineArn",
        "RunTableName",
        "AlertTopicArn",
        "DeadLetterQueueUrl",
        "UnrecordedEndsDeadLetterQueueUrl",
        "FailedClosesDeadLetterQueueUrl",
        "AlertSubscription",
        "DashboardName",
        "DashboardUrl",
        "CampaignNames",
        "TimeZone",
        "RunFunctionName",
        "OperatorPolicyArn",
    } == set(outputs)
    assert "must be confirmed" in outputs["AlertSubscription"]["Description"]
    assert "subscribe to AlertTopicArn" in outputs["AlertSubscription"]["Value"]
    assert outputs["DashboardName"]["Value"] == STACK
    assert outputs["DashboardUrl"]["Value"]["Fn::Join"][1][-1].endswith("#dashboards/dashboard/PersonalizeRefresh")

    with_email = synthesize(parse_config({**example_raw(), "alert_email": "ops@example.com"})).to_json()
    assert with_email["Outputs"]["AlertSubscription"]["Value"].startswith("ops@example.com: receives nothing until")
