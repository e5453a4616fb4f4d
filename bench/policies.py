"""The polling policies: state machine definitions that differ from the project's only in how they poll.

Policy 5 is the project's own template, untouched. The others are derived from it:

* the fixed policies replace each phase's polling Wait ("Wait before polling import", ...) with a
  Wait of fixed `Seconds`, whatever the Wait read before (today `$.run.polling.*`; a planned
  schedule once there is one);
* the Lambda-retry policy replaces each phase's Wait and describe Task with one Lambda Task that
  describes the job and raises `ResourcePending` until it has ended, retried by Step Functions
  every 60 s with back-off rate 1.02 (as AWS's solution for maintaining Personalize models does).

Both key on the names and Types of the polling states, and on the states that make up each
phase's poll loop. A definition whose loop has gained or lost a state is refused with
`DefinitionChanged`, naming the states, rather than measured as something it is not.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

PENDING_ERROR = "ResourcePending"  # what the Lambda-retry policy's poller raises while a job runs
POLL_FUNCTION_ID = "BenchPollFunction"  # logical id of that poller in the derived template
POLL_FUNCTION_HANDLER = "bench.poll_lambda.handler"
RETRY_INTERVAL = 60  # seconds
RETRY_BACKOFF = 1.02


@dataclass(frozen=True)
class PhaseLoop:
    """One phase's poll loop, as the project's definition has it."""

    phase: str  # "import", "training" or "deployment", as the poller's payload names it
    wait: str
    plan: str  # the Pass after the Wait that picks the next planned wait
    describe: str
    loop: frozenset[str]  # every state on the cycle through the Wait, the Wait included
    resource: dict[str, str]  # the poller's payload: what to describe, read from the state's input


PHASE_LOOPS = (
    PhaseLoop(
        "import",
        wait="Wait before polling import",
        plan="Plan next import poll",
        describe="Describe import job",
        loop=frozenset(
            {
                "Wait before polling import",
                "Plan next import poll",
                "Describe import job",
                "Import status changed?",
                "Record import status",
                "Remember import status",
                "Import finished?",
            }
        ),
        resource={"arn.$": "$.job.dataset_import_job_arn"},
    ),
    PhaseLoop(
        "training",
        wait="Wait before polling training",
        plan="Plan next training poll",
        describe="Describe solution version",
        loop=frozenset(
            {
                "Wait before polling training",
                "Plan next training poll",
                "Describe solution version",
                "Training status changed?",
                "Record training status",
                "Training finished?",
                "Stop training over its limit",
                "Training stop requested",
            }
        ),
        resource={"arn.$": "$.training.solution_version_arn"},
    ),
    PhaseLoop(
        "deployment",
        wait="Wait before polling deployment",
        plan="Plan next deployment poll",
        describe="Describe campaign",
        loop=frozenset(
            {
                "Wait before polling deployment",
                "Plan next deployment poll",
                "Describe campaign",
                "Deployment status changed?",
                "Record deployment status",
                "Deployment finished?",
            }
        ),
        resource={"arn.$": "$.campaign_arn", "solution_version_arn.$": "$.training.solution_version_arn"},
    ),
)


class DefinitionChanged(RuntimeError):
    """The project's definition no longer has the poll loops the derivation knows: adapt bench/policies.py."""


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


POLICIES = (
    Policy(1, "fixed 60 s", waits=(60, 60, 60)),
    Policy(2, "fixed 120 s", waits=(120, 120, 120)),
    Policy(3, "Lambda retry 60 s x1.02", lambda_retry=True),
    Policy(4, "fixed 300/900/60 s", waits=(300, 900, 60)),
    Policy(5, "the project's own"),
)


def policy_template(template: dict[str, Any], policy: Policy, *, phase_limits: dict[str, int]) -> dict[str, Any]:
    """The synthesized `template` with its state machine polling as `policy` does; `phase_limits` (seconds per
    phase, the configuration's phase_timeouts) bound the Lambda-retry policy's attempts."""
    if policy.is_projects_own:
        return template
    derived = copy.deepcopy(template)
    machine = _state_machine(derived)
    definition = json.loads(machine["DefinitionString"])
    if policy.waits is not None:
        for loop, seconds in zip(PHASE_LOOPS, policy.waits, strict=True):
            _fix_wait(definition, loop, seconds)
    else:
        for loop in PHASE_LOOPS:
            _retry_lambda(definition, loop, phase_limits[loop.phase])
        _add_poll_function(derived, machine)
    machine["DefinitionString"] = json.dumps(definition, indent=2)
    return derived


def poll_loop_states(definition: dict[str, Any]) -> dict[str, frozenset[str]]:
    """Each phase's poll loop in a deployed `definition`, by the name of the state it starts from: the cycle
    through its Wait, or through the Lambda-retry policy's poller."""
    loops = {}
    for loop in PHASE_LOOPS:
        states = _states_holding(definition, loop.wait) or _states_holding(definition, _poller_name(loop))
        if states is None:
            raise DefinitionChanged(f"no state {loop.wait!r} (nor a poller in its place) in the definition")
        start = loop.wait if loop.wait in states else _poller_name(loop)
        loops[loop.phase] = _cycle_through(states, start)
    return loops


def retry_attempts(limit_seconds: int) -> int:
    """Retries of the Lambda-retry poller that outlast a phase's limit: the smallest n with
    60 s x (1 + 1.02 + ... + 1.02^(n-1)) >= the limit."""
    return math.ceil(math.log(1 + limit_seconds * (RETRY_BACKOFF - 1) / RETRY_INTERVAL, RETRY_BACKOFF))


# Fixed waits ------------------------------------------------------------------------------------------


def _fix_wait(definition: dict[str, Any], loop: PhaseLoop, seconds: int) -> None:
    """The planned Wait and the Pass that walks the plan become one fixed Wait."""
    states = _loop_states(definition, loop)
    states[loop.wait] = {"Type": "Wait", "Comment": f"Fixed {seconds} s between polls.", "Seconds": seconds} | {
        "Next": loop.describe
    }
    del states[loop.plan]


# Lambda retry -----------------------------------------------------------------------------------------


def _poller_name(loop: PhaseLoop) -> str:
    return f"Poll {loop.phase} until it ends"


def _retry_lambda(definition: dict[str, Any], loop: PhaseLoop, limit_seconds: int) -> None:
    """Replace the Wait, its planning Pass and the describe Task with one Lambda Task that returns what the
    describe Task did, once the job has ended; the loop's Choices and record writes follow it unchanged."""
    states = _loop_states(definition, loop)
    describe = states[loop.describe]
    callers = [name for name, state in states.items() if loop.describe in set(_successors(state)) - {None}]
    if callers != [loop.plan]:
        raise DefinitionChanged(f"{loop.describe!r} is reached from {callers}, not only from {loop.plan!r}")
    lambda_retries = _lambda_service_retry(definition)
    poller = {
        "Type": "Task",
        "Comment": f"Describes the {loop.phase} job and raises {PENDING_ERROR} until it has ended.",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "${PollFunctionArn}", "Payload": {"phase": loop.phase} | loop.resource},
        "ResultSelector": _from_payload(describe["ResultSelector"]),
        "ResultPath": describe["ResultPath"],
        "TimeoutSeconds": 120,
        "Retry": [
            {
                "ErrorEquals": [PENDING_ERROR],
                "IntervalSeconds": RETRY_INTERVAL,
                "BackoffRate": RETRY_BACKOFF,
                "MaxAttempts": retry_attempts(limit_seconds),
            },
            lambda_retries,
        ],
        "Catch": describe["Catch"],
        "Next": describe["Next"],
    }
    del states[loop.wait], states[loop.plan], states[loop.describe]
    name = _poller_name(loop)
    states[name] = poller
    for state in states.values():
        _rename_successor(state, loop.wait, name)


def _from_payload(selector: Any) -> Any:
    """The describe Task's ResultSelector, read from the poller's Payload: the same paths, and the time the
    poller looked instead of the state's entry (a retried Task keeps its first entry time)."""
    if isinstance(selector, dict):
        return {key: _from_payload(value) for key, value in selector.items()}
    if selector == "$$.State.EnteredTime":
        return "$.Payload.checked_at"
    if isinstance(selector, str) and selector.startswith("$."):
        return "$.Payload." + selector.removeprefix("$.")
    return selector


def _lambda_service_retry(definition: dict[str, Any]) -> dict[str, Any]:
    """The Retry the definition's own Lambda Tasks give Lambda's service errors, so the poller has the same."""
    for states in _all_states(definition):
        for state in states.values():
            if state.get("Resource") == "arn:aws:states:::lambda:invoke":
                for retry in state.get("Retry", []):
                    if any(error.startswith("Lambda.") for error in retry["ErrorEquals"]):
                        return dict(retry)
    raise DefinitionChanged("no Lambda Task with a Retry of Lambda's service errors to copy")


def _add_poll_function(template: dict[str, Any], machine: dict[str, Any]) -> None:
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
    machine.setdefault("DefinitionSubstitutions", {})["PollFunctionArn"] = {"Fn::GetAtt": [POLL_FUNCTION_ID, "Arn"]}


# Finding states ---------------------------------------------------------------------------------------


def _state_machine(template: dict[str, Any]) -> dict[str, Any]:
    (machine,) = [
        r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    if not isinstance(machine.get("DefinitionString"), str):
        raise DefinitionChanged("the state machine's DefinitionString is not inlined text")
    return machine


def _loop_states(definition: dict[str, Any], loop: PhaseLoop) -> dict[str, Any]:
    """The States object holding the phase's loop, checked against the shape the derivation knows."""
    states = _states_holding(definition, loop.wait)
    if states is None:
        raise DefinitionChanged(f"no state {loop.wait!r} in the definition")
    for name, kind in ((loop.wait, "Wait"), (loop.describe, "Task")):
        if states.get(name, {}).get("Type") != kind:
            raise DefinitionChanged(f"{name!r} is not a {kind} state in the definition")
    found = _cycle_through(states, loop.wait)
    if found != loop.loop:
        raise DefinitionChanged(
            f"the {loop.phase} poll loop changed: it gained {sorted(found - loop.loop)} "
            f"and lost {sorted(loop.loop - found)}; bench/policies.py says how each policy rewrites it"
        )
    return states


def _states_holding(definition: dict[str, Any], name: str) -> dict[str, Any] | None:
    holding = [states for states in _all_states(definition) if name in states]
    if len(holding) > 1:
        raise DefinitionChanged(f"more than one state is named {name!r}")
    return holding[0] if holding else None


def _all_states(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every States object: the top level's, each Map's and each Parallel branch's."""
    states = definition["States"]
    yield states
    for state in states.values():
        for inner in [state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])]:
            if inner is not None:
                yield from _all_states(inner)


def _successors(state: dict[str, Any]) -> Iterator[str | None]:
    yield state.get("Next")
    yield state.get("Default")
    for choice in state.get("Choices", []):
        yield choice.get("Next")
    for catch in state.get("Catch", []):
        yield catch.get("Next")


def _rename_successor(state: dict[str, Any], old: str, new: str) -> None:
    for holder in [state, *state.get("Choices", []), *state.get("Catch", [])]:
        for key in ("Next", "Default"):
            if holder.get(key) == old:
                holder[key] = new


def _cycle_through(states: dict[str, Any], start: str) -> frozenset[str]:
    """The states on some path from `start` back to it, within one States object."""

    def reachable(origin: str) -> set[str]:
        seen: set[str] = set()
        pending = [origin]
        while pending:
            for following in _successors(states[pending.pop()]):
                if following is not None and following in states and following not in seen:
                    seen.add(following)
                    pending.append(following)
        return seen

    return frozenset(name for name in reachable(start) | {start} if start in reachable(name) or name == start)
