"""The engine's IAM evaluator (local_engine/authorization.py): the decisions IAM makes, on small policies."""

from __future__ import annotations

from typing import Any

import pytest

from local_engine.authorization import (
    Request,
    UnmappedCall,
    UnsupportedPolicy,
    Where,
    decide,
    fits_reference,
    reference,
    requests_for,
    statements_of,
)

WHERE = Where("aws", "ap-northeast-2", "123456789012")
BASE = "arn:aws:personalize:ap-northeast-2:123456789012"
SOLUTION = f"{BASE}:solution/shop"
VERSION = f"{SOLUTION}/0a1b2c3d"


def policy(*statements: dict[str, Any]) -> Any:
    return statements_of([{"Version": "2012-10-17", "Statement": list(statements)}])


def allow(action: str | list[str], resource: str | list[str], **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def test_an_allowed_action_on_its_resource_is_allowed() -> None:
    statements = policy(allow("personalize:DescribeCampaign", f"{BASE}:campaign/home"))
    assert decide(statements, Request("personalize:DescribeCampaign", (f"{BASE}:campaign/home",))) is None


def test_what_no_statement_allows_is_denied_with_aws_message() -> None:
    statements = policy(allow("personalize:DescribeCampaign", f"{BASE}:campaign/home"))

    denial = decide(statements, Request("personalize:DescribeCampaign", (f"{BASE}:campaign/other",)))

    assert denial is not None and not denial.explicit
    caller = "arn:aws:sts::123456789012:assumed-role/Role/session"
    assert denial.message(caller) == (
        f"User: {caller} is not authorized to perform: personalize:DescribeCampaign on resource: "
        f"{BASE}:campaign/other because no identity-based policy allows the personalize:DescribeCampaign action"
    )


def test_an_action_wildcard_matches_any_case_of_the_name() -> None:
    statements = policy(allow("personalize:describe*", "*"))
    assert decide(statements, Request("personalize:DescribeCampaign", (f"{BASE}:campaign/home",))) is None
    assert decide(statements, Request("personalize:UpdateCampaign", (f"{BASE}:campaign/home",))) is not None


def test_not_action_allows_every_other_action() -> None:
    statements = policy({"Effect": "Allow", "NotAction": "personalize:Update*", "Resource": "*"})
    assert decide(statements, Request("personalize:DescribeCampaign", ("*",))) is None
    assert decide(statements, Request("personalize:UpdateCampaign", ("*",))) is not None


def test_a_resource_pattern_matches_within_its_parts() -> None:
    statements = policy(allow("personalize:DescribeSolutionVersion", f"{SOLUTION}/*"))
    assert decide(statements, Request("personalize:DescribeSolutionVersion", (VERSION,))) is None
    # "solution/shop/*" is not the solution itself...
    assert decide(statements, Request("personalize:DescribeSolutionVersion", (SOLUTION,))) is not None
    # ...and a wildcard in one part of an ARN does not reach into the next.
    regions = policy(allow("personalize:DescribeSolution", "arn:aws:personalize:*:solution/shop"))
    assert decide(regions, Request("personalize:DescribeSolution", (SOLUTION,))) is not None


def test_an_action_with_no_resource_type_is_matched_only_by_a_star() -> None:
    (request,) = requests_for("personalize", "ListSolutionVersions", {"solutionArn": SOLUTION}, WHERE)
    assert request.resources == ("*",)
    assert decide(policy(allow("personalize:ListSolutionVersions", SOLUTION)), request) is not None
    assert decide(policy(allow("personalize:ListSolutionVersions", "*")), request) is None


def test_an_explicit_deny_wins_over_any_allow() -> None:
    statements = policy(
        allow("personalize:*", "*"),
        {"Effect": "Deny", "Action": "personalize:UpdateCampaign", "Resource": f"{BASE}:campaign/*"},
    )
    denial = decide(statements, Request("personalize:UpdateCampaign", (f"{BASE}:campaign/home",)))
    assert denial is not None and denial.explicit
    assert denial.message("caller").endswith("with an explicit deny in an identity-based policy")


def test_a_passed_role_needs_its_condition_key() -> None:
    statements = policy(
        allow("personalize:CreateDatasetImportJob", f"{BASE}:dataset-import-job/refresh-*"),
        allow(
            "iam:PassRole",
            "arn:aws:iam::123456789012:role/Personalize",
            Condition={"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}},
        ),
    )
    params = {"jobName": "refresh-1", "datasetArn": f"{BASE}:dataset/g/INTERACTIONS"}
    create, pass_role = requests_for(
        "personalize",
        "CreateDatasetImportJob",
        {**params, "roleArn": "arn:aws:iam::123456789012:role/Personalize"},
        WHERE,
    )
    assert (pass_role.action, pass_role.context) == (
        "iam:PassRole",
        {"iam:PassedToService": "personalize.amazonaws.com"},
    )
    assert decide(statements, create) is None and decide(statements, pass_role) is None
    to_another_service = Request(pass_role.action, pass_role.resources, {"iam:PassedToService": "glue.amazonaws.com"})
    assert decide(statements, to_another_service) is not None


def test_string_like_negated_and_if_exists_conditions() -> None:
    listing = policy(allow("s3:ListBucket", "arn:aws:s3:::data", Condition={"StringLike": {"s3:prefix": ["in/*/"]}}))
    (inside,) = requests_for("s3", "ListObjectsV2", {"Bucket": "data", "Prefix": "in/day=1/"}, WHERE)
    (outside,) = requests_for("s3", "ListObjectsV2", {"Bucket": "data", "Prefix": "out/"}, WHERE)
    (everything,) = requests_for("s3", "ListObjectsV2", {"Bucket": "data"}, WHERE)
    assert decide(listing, inside) is None
    assert decide(listing, outside) is not None
    assert decide(listing, everything) is not None, "a condition on a key the request lacks does not hold"

    negated = policy(allow("s3:ListBucket", "*", Condition={"StringNotLike": {"s3:prefix": "secret/*"}}))
    assert decide(negated, everything) is None, "a negated condition holds when the key is absent"
    if_exists = policy(allow("s3:ListBucket", "*", Condition={"StringEqualsIfExists": {"s3:prefix": "in/"}}))
    assert decide(if_exists, everything) is None and decide(if_exists, outside) is not None


def test_a_condition_key_or_operator_the_evaluator_cannot_give_is_refused_when_loaded() -> None:
    with pytest.raises(UnsupportedPolicy, match="aws:SourceVpc"):
        policy(allow("sns:Publish", "*", Condition={"StringEquals": {"aws:SourceVpc": "vpc-1"}}))
    with pytest.raises(UnsupportedPolicy, match="DateGreaterThan"):
        policy(allow("sns:Publish", "*", Condition={"DateGreaterThan": {"aws:CurrentTime": "2026-01-01"}}))
    with pytest.raises(UnsupportedPolicy, match="Principal"):
        policy({**allow("sns:Publish", "*"), "Principal": "*"})


def test_a_call_on_a_solution_version_is_authorized_on_the_solution_and_on_the_version() -> None:
    (request,) = requests_for("personalize", "DescribeSolutionVersion", {"solutionVersionArn": VERSION}, WHERE)
    assert request.resources == (SOLUTION, VERSION)
    assert decide(policy(allow(request.action, f"{SOLUTION}/*")), request) is not None
    assert decide(policy(allow(request.action, SOLUTION)), request) is not None
    assert decide(policy(allow(request.action, [SOLUTION, f"{SOLUTION}/*"])), request) is None


def test_calls_are_named_as_iam_names_them() -> None:
    def actions(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, tuple[str, ...]]]:
        return [(r.action, r.resources) for r in requests_for(service, operation, params, WHERE)]

    function = "arn:aws:lambda:ap-northeast-2:123456789012:function:start"
    table = "arn:aws:dynamodb:ap-northeast-2:123456789012:table/runs"
    assert actions("lambda", "Invoke", {"FunctionName": function}) == [("lambda:InvokeFunction", (function,))]
    put = {"Put": {"TableName": "runs", "Item": {}}}
    assert (
        actions("dynamodb", "TransactWriteItems", {"TransactItems": [put, put]}) == [("dynamodb:PutItem", (table,))] * 2
    )
    bus = "arn:aws:events:ap-northeast-2:123456789012:event-bus/default"
    assert actions("events", "PutEvents", {"Entries": [{"Source": "s"}]}) == [("events:PutEvents", (bus,))]
    with pytest.raises(UnmappedCall, match="personalize:DeleteCampaign"):
        requests_for("personalize", "DeleteCampaign", {"campaignArn": f"{BASE}:campaign/home"}, WHERE)


def test_the_reference_gives_personalize_resource_types_as_documented() -> None:
    assert reference().action("personalize:ListSolutionVersions").resource_arns == ()
    assert reference().action("personalize:ListDatasetImportJobs").resource_arns == ()
    for action in ("DescribeSolutionVersion", "GetSolutionMetrics", "StopSolutionVersionCreation"):
        assert reference().action(f"personalize:{action}").resource_arns == (
            "arn:${Partition}:personalize:${Region}:${Account}:solution/${ResourceId}",
        )


def test_a_granted_resource_must_fit_the_actions_resource_types() -> None:
    assert fits_reference("personalize:ListSolutionVersions", "*")
    assert not fits_reference("personalize:ListSolutionVersions", SOLUTION)
    assert fits_reference("personalize:DescribeSolutionVersion", SOLUTION)
    assert fits_reference("personalize:DescribeSolutionVersion", f"{SOLUTION}/*"), "the request's own form"
    assert not fits_reference("personalize:CreateDatasetImportJob", f"{BASE}:dataset/g/INTERACTIONS")
    log_group = "arn:aws:logs:ap-northeast-2:123456789012:log-group:/aws/lambda/start:*"
    assert fits_reference("logs:PutLogEvents", log_group)
    assert not fits_reference("logs:PutLogEvents", "arn:aws:logs:ap-northeast-2:123456789012:destination:x")
