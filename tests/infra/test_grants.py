"""The template's IAM against the Service Authorization Reference: each state machine's role (the refresh's, an
import's, a campaign's) allows every service call of its own definition, and every granted resource is one its
action can be authorized on.

Tokens are resolved by the local engine's deployment of the synthesized template (the ARNs a deployment
gets), and decisions are the engine's evaluator's (local_engine/authorization.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from infra.config import RefreshConfig
from local_engine.authorization import (
    GLOBAL_CONDITION_KEYS,
    Principal,
    Request,
    Where,
    fits_reference,
    reference,
    requests_for,
)
from local_engine.refresh import LocalRefresh
from local_engine.sdk_adapter import operation_model, to_sdk_request

# What a state's path parameters hold at run time, as the refresh names them.
SAMPLES = {
    "DatasetImportJobArn": "arn:aws:personalize:ap-northeast-2:123456789012:dataset-import-job/"
    "refresh-shop-recs-interactions-20261129",
    "SolutionVersionArn": "arn:aws:personalize:ap-northeast-2:123456789012:solution/shop-user-personalization/1a2b3c4d",
    "CampaignArn": "arn:aws:personalize:ap-northeast-2:123456789012:campaign/shop-home-recommendations",
}


@pytest.fixture(scope="module")
def deployed(example_template: Any, example_config: RefreshConfig) -> Iterator[LocalRefresh]:
    with LocalRefresh(example_template.to_json(), example_config) as refresh:
        yield refresh


def task_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from task_states(branch["States"])
        for processor in (state.get("ItemProcessor"), state.get("Iterator")):
            if processor:
                yield from task_states(processor["States"])


# The integrations' service names that are not botocore's.
_BOTOCORE_NAMES = {"states": "stepfunctions"}
# What a Task that starts a child execution and awaits it (startExecution.sync) asks of IAM besides the start, as
# the Step Functions developer guide's IAM page for that integration lists it: the child's execution described
# (and stopped with the parent), and the managed rule through which Step Functions learns of its end.
_SYNC_RULE = "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"
SYNC_RULE_ACTIONS = ("PutTargets", "PutRule", "DescribeRule")


def service_call(state: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(botocore service, operation, request parameters) of a Task's integration; path parameters get samples."""
    integration = state["Resource"].removeprefix("arn:aws:states:::").removeprefix("aws-sdk:").split(".")[0]
    service, api_action = integration.split(":")
    service = _BOTOCORE_NAMES.get(service, service)
    operation = api_action[0].upper() + api_action[1:]
    parameters = {key.removesuffix(".$"): SAMPLES.get(key.removesuffix(".$"), value)
                  for key, value in state.get("Parameters", {}).items()}  # fmt: skip
    return service, operation, to_sdk_request(parameters, operation_model(service, operation).input_shape)


def requests_of(state: dict[str, Any], where: Where) -> list[Request]:
    """What IAM evaluates for a Task: its call, and for a child execution awaited (.sync) what following it takes."""
    service, operation, params = service_call(state)
    found = requests_for(service, operation, params, where)
    if ":states:::states:startExecution.sync" in state["Resource"]:
        machine_name = params["stateMachineArn"].split(":")[-1]
        execution = where.arn("states", f"execution:{machine_name}:a-child-execution")
        found += [Request(f"states:{action}", (execution,)) for action in ("DescribeExecution", "StopExecution")]
        found += [Request(f"events:{action}", (where.arn("events", _SYNC_RULE),)) for action in SYNC_RULE_ACTIONS]
    return found


def definition_of(deployed: LocalRefresh, state_machine_arn: str) -> dict[str, Any]:
    """A state machine's definition as deployed: the synthesized one, its tokens resolved."""
    described = deployed.client("stepfunctions").describe_state_machine(stateMachineArn=state_machine_arn)
    return dict(json.loads(described["definition"]))


def test_the_state_machine_role_allows_every_call_of_its_definition(deployed: LocalRefresh) -> None:
    """Each state machine's definition against its own role: the refresh's, an import's and a campaign's."""
    where = Where("aws", deployed.config.region, deployed.config.account)
    arns = deployed.deployment.state_machine_arns
    assert len(arns) == 3 and deployed.deployment.state_machine_arn in arns
    roles = {arn: deployed.aws.authorization.role_of(arn) for arn in arns}
    assert len(set(roles.values())) == 3, "each state machine has a role of its own"

    actions: dict[str, set[str]] = {}
    for arn in arns:
        role = Principal(roles[arn], "test")
        for name, state in task_states(definition_of(deployed, arn)["States"]):
            requests = requests_of(state, where)
            actions.setdefault(arn, set()).update(request.action for request in requests)
            denial = deployed.aws.authorization.check(role, requests)
            assert denial is None, f"{arn.split(':')[-1]}, {name}: {denial}"

    everything = set().union(*actions.values())
    assert "personalize:StopSolutionVersionCreation" in everything, "the training stop is among them"
    refresh = actions[deployed.deployment.state_machine_arn]
    assert {"states:StartExecution", "states:DescribeExecution", "states:StopExecution", "events:PutRule"} <= refresh
    children = [actions[arn] for arn in arns if arn != deployed.deployment.state_machine_arn]
    assert all(not {a for a in child if a.startswith("states:")} for child in children), "only the refresh starts"


def test_every_granted_resource_fits_its_actions_resource_types(deployed: LocalRefresh) -> None:
    resources = deployed.template["Resources"]
    policies = {k: r for k, r in resources.items() if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")}
    assert len(policies) >= 7, "every role's policy, and the operators' managed policy"
    for logical_id, policy in policies.items():
        document = deployed.deployment.resolved_policy(policy["Properties"]["PolicyDocument"])
        for statement in document["Statement"]:
            actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            granted = [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
            keys = {key for condition in statement.get("Condition", {}).values() for key in condition}
            for pattern in actions:
                for action in reference().actions(pattern):
                    misfits = [r for r in granted if not fits_reference(action, r)]
                    assert misfits == [], f"{logical_id}: {action} is never authorized on {misfits}"
                    unknown = keys - GLOBAL_CONDITION_KEYS - reference().action(action).condition_keys
                    assert unknown == set(), f"{logical_id}: {action} has no condition key {unknown}"


def test_a_grant_on_an_arn_the_action_is_never_authorized_on_is_caught() -> None:
    """What the test above would have said of the grants before they followed the reference."""
    solution = "arn:aws:personalize:ap-northeast-2:123456789012:solution/shop-user-personalization"
    dataset = "arn:aws:personalize:ap-northeast-2:123456789012:dataset/shop-recs/INTERACTIONS"
    assert not fits_reference("personalize:ListSolutionVersions", solution)
    assert not fits_reference("personalize:CreateDatasetImportJob", dataset)
    assert json.dumps(reference().action("personalize:ListSolutionVersions").resource_arns) == "[]"
