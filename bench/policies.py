"""The polling policies: the project's definition, and its peers' as their authors build them.

Policy 5 is the project's own template, untouched. The others are the same definitions built by
infra/workflow with a peer's polling (infra/workflow/polling.py), in place of each of the run's three state
machines' (the refresh, a dataset's import, a campaign's refresh): each phase's poll loop in the peer's own
shape, everything else the project's.

* the fixed policies: Wait a fixed number of seconds, describe the job, Choice: has it ended?
* the Lambda-retry policy: one Lambda Task that describes the job and raises `ResourcePending` until it
  has ended, retried by Step Functions every 60 s with back-off rate 1.02 (as AWS's solution for maintaining
  Personalize models does), then the same Choice.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from typing import Any

from infra import workflow
from infra.workflow.polling import PHASES, PLANNED, FixedWaits, LambdaRetry, Polling

POLL_FUNCTION_ID = "BenchPollFunction"  # logical id of the Lambda-retry policy's poller in the derived template
POLL_FUNCTION_HANDLER = "bench.poll_lambda.handler"
RETRY_INTERVAL = 60  # seconds
RETRY_BACKOFF = 1.02


@dataclass(frozen=True)
class Policy:
    number: int
    name: str
    waits: tuple[int, int, int] | None = None  # fixed seconds per phase (import, training, deployment)
    lambda_retry: bool = False

    @property
    def label(self) -> str:
        return f"{self.number} {self.name}"

    @property
    def is_projects_own(self) -> bool:
        return self.waits is None and not self.lambda_retry

    def polling(self, phase_limits: dict[str, int]) -> Polling:
        """How its loops poll; `phase_limits` (seconds per phase) bound the Lambda-retry policy's attempts."""
        if self.waits is not None:
            return FixedWaits(dict(zip(PHASES, self.waits, strict=True)))
        if self.lambda_retry:
            attempts = {phase: retry_attempts(phase_limits[phase]) for phase in PHASES}
            return LambdaRetry(attempts, interval=RETRY_INTERVAL, backoff=RETRY_BACKOFF)
        return PLANNED


POLICIES = (
    Policy(1, "fixed 60 s", waits=(60, 60, 60)),
    Policy(2, "fixed 120 s", waits=(120, 120, 120)),
    Policy(3, "Lambda retry 60 s x1.02", lambda_retry=True),
    Policy(4, "fixed 300/900/60 s", waits=(300, 900, 60)),
    Policy(5, "the project's own"),
)


def policy_template(template: dict[str, Any], policy: Policy, *, phase_limits: dict[str, int]) -> dict[str, Any]:
    """The synthesized `template` with the state machines `policy` polls with: each of the run's three (the
    refresh, a dataset's import, a campaign's refresh) built with its polling; `phase_limits` are the
    configuration's phase_timeouts in seconds per phase."""
    if policy.is_projects_own:
        return template
    derived = copy.deepcopy(template)
    built = workflow.definitions(policy.polling(phase_limits))
    for machine in state_machines(derived).values():
        deployed = json.loads(machine["DefinitionString"])
        definition = built[definition_name(deployed)] | {"TimeoutSeconds": deployed["TimeoutSeconds"]}
        machine["DefinitionString"] = json.dumps(definition, indent=2)
        if policy.lambda_retry and LambdaRetry.FUNCTION in machine["DefinitionString"]:
            _grant_poll_function(derived, machine)
    if policy.lambda_retry:
        _add_poll_function(derived)
    return derived


def state_machines(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The properties of each state machine of `template`, by the name of its definition (workflow.REFRESH,
    IMPORT, CAMPAIGN)."""
    return {
        definition_name(json.loads(resource["Properties"]["DefinitionString"])): resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::StepFunctions::StateMachine"
    }


def definition_name(definition: dict[str, Any]) -> str:
    """Which of the run's definitions `definition` is, by its comment (the same whatever the polling)."""
    (name,) = [name for name, comment in workflow.COMMENTS.items() if definition["Comment"] == comment]
    return name


def poller_states() -> frozenset[str]:
    """The Lambda-retry policy's pollers: the Lambda Tasks that are polls."""
    return frozenset(loop.poller for loop in workflow.POLL_LOOPS.values())


def retry_attempts(limit_seconds: int) -> int:
    """Retries of the Lambda-retry poller that outlast a phase's limit: the smallest n with
    60 s x (1 + 1.02 + ... + 1.02^(n-1)) >= the limit."""
    return math.ceil(math.log(1 + limit_seconds * (RETRY_BACKOFF - 1) / RETRY_INTERVAL, RETRY_BACKOFF))


def _add_poll_function(template: dict[str, Any]) -> None:
    """The poller, configured as the project's task functions are (memory, timeout, role)."""
    resources = template["Resources"]
    task_function = next(
        resource
        for resource in resources.values()
        if resource["Type"] == "AWS::Lambda::Function" and resource["Properties"]["Handler"] == "start_training.handler"
    )
    properties = copy.deepcopy(task_function["Properties"])
    properties["Handler"] = POLL_FUNCTION_HANDLER
    properties["Description"] = "Describes a Personalize job; raises ResourcePending until it has ended"
    properties.pop("Environment", None)
    resources[POLL_FUNCTION_ID] = {"Type": "AWS::Lambda::Function", "Properties": properties}


def _grant_poll_function(template: dict[str, Any], machine: dict[str, Any]) -> None:
    """The state machine `machine` polls through the poller: its substitution, and its role may invoke it, as it
    may invoke the task functions it calls."""
    poller = {"Fn::GetAtt": [POLL_FUNCTION_ID, "Arn"]}
    machine.setdefault("DefinitionSubstitutions", {})[LambdaRetry.FUNCTION.removeprefix("${").removesuffix("}")] = (
        poller
    )
    machine_role = machine["RoleArn"]["Fn::GetAtt"][0]
    (invoke,) = [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": machine_role} in resource["Properties"]["Roles"]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "lambda:InvokeFunction"
    ]
    granted = invoke["Resource"] if isinstance(invoke["Resource"], list) else [invoke["Resource"]]
    invoke["Resource"] = [*granted, poller]
