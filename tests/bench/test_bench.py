"""The bench in short: one scenario, one seed, every policy; its figures are sane and its derivations honest.
No timing is asserted: the bench's wall time depends on the machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.measure import RecordDisagrees, check_record, recorded_idle
from bench.policies import POLICIES, definition_name, policy_template, state_machines
from bench.poll_lambda import ResourcePending
from bench.report import Results, markdown_table, write_section
from bench.run import bench
from bench.scenarios import SCENARIOS
from infra import workflow
from infra.config import RefreshConfig
from infra.workflow import POLL_LOOPS
from infra.workflow.history import all_states, states_holding
from infra.workflow.polling import PHASES, LambdaRetry, Polling

LIMITS = {"import": 6 * 3600, "training": 24 * 3600, "deployment": 3 * 3600}
TOLERANCE = 1  # second: a poll's describe call and the Wait it follows share their simulated moment


@pytest.fixture(scope="module")
def results(example_config: RefreshConfig, example_template: Any) -> Results:
    (steady,) = [s for s in SCENARIOS if s.key == "S1"]
    return bench(
        example_config,
        POLICIES,
        [steady],
        [1],
        command="pytest",
        history_runs=1,
        template=example_template.to_json(),
        progress=lambda _: None,
    )


def figures(results: Results, policy: int) -> Any:
    (measured,) = results.of(policy, "S1")
    return measured


def test_polling_every_60_s_makes_more_transitions_and_less_idle_time_than_every_300_s(results: Results) -> None:
    every_minute, today = figures(results, 1), figures(results, 4)

    assert every_minute.transitions > 3 * today.transitions
    assert every_minute.history_events > today.history_events
    assert every_minute.idle_total <= today.idle_total


def test_a_fixed_60_s_poll_sees_each_job_within_a_minute_of_its_end(results: Results) -> None:
    for phase, idle in figures(results, 1).idle_seconds.items():
        assert 0 <= idle <= 60 + TOLERANCE, phase


def test_wait_and_choice_policies_invoke_no_lambda_per_poll(results: Results) -> None:
    for policy in (1, 2, 4, 5):
        measured = figures(results, policy)
        assert measured.poll_lambda_invocations == 0, policy
        assert measured.lambda_invocations == figures(results, 4).lambda_invocations, policy
        assert measured.polls > 0


def test_the_lambda_retry_policy_invokes_its_poller_once_per_poll(results: Results) -> None:
    retried = figures(results, 3)

    assert retried.poll_lambda_invocations == retried.polls
    assert retried.lambda_invocations == figures(results, 4).lambda_invocations + retried.polls
    assert retried.lambda_gb_seconds > figures(results, 4).lambda_gb_seconds
    # Each retry is a state transition, but no Wait or Choice is entered per poll.
    assert retried.polls <= retried.transitions < figures(results, 1).transitions


def test_costs_follow_transitions_and_lambda_use(results: Results) -> None:
    assert figures(results, 1).cost > figures(results, 2).cost > figures(results, 4).cost > 0


def test_the_table_has_a_row_per_policy_and_a_verdict_for_the_projects_own(results: Results) -> None:
    table = markdown_table(results).splitlines()

    assert len(table) == 2 + len(POLICIES)
    assert table[-1].startswith("| 5 the project's own | S1 steady |")
    assert table[-1].rstrip(" |").endswith(("met", "seeds)"))


def test_the_projects_run_record_says_what_the_bench_measured(results: Results) -> None:
    # bench() checks every refresh of the project's own policy against its record; here, that it found idle time
    # worth checking in every phase.
    measured = figures(results, 5).idle_seconds
    assert all(measured[phase] > 0 for phase in ("import", "training", "deployment"))


def test_a_record_that_disagrees_with_the_bench_is_refused() -> None:
    record = {
        "dataset_import_jobs": {"interactions": {"idle_seconds": 42.5}},
        "solution_version_idle_seconds": 120,
        "campaign_update_completed_at": "2026-11-29T09:00:00Z",
        "campaign_update_updated_at": "2026-11-29T09:00:30.500Z",
    }
    assert recorded_idle(record) == {"import": 42.5, "training": 120.0, "deployment": 30.5}
    check_record(record, {"import": 43, "training": 119.5, "deployment": 30})

    with pytest.raises(RecordDisagrees, match=r"training: the record says 120\.0 s, the calls 180\.0 s"):
        check_record(record, {"import": 42.5, "training": 180, "deployment": 30.5})


def test_the_projects_own_policy_is_the_template_untouched(example_template: Any) -> None:
    template = example_template.to_json()
    (own,) = [p for p in POLICIES if p.is_projects_own]

    assert policy_template(template, own, phase_limits=LIMITS) is template


def loop_shape(definition: dict[str, Any], phase: str, polling: Polling) -> list[str]:
    """The types of the states one poll passes, when the job has not ended, from the loop's first state."""
    first = POLL_LOOPS[phase].first(polling)
    states = states_holding(definition, first)
    shape: list[str] = []
    name = first
    while not shape or name != first:
        shape.append(states[name]["Type"])
        name = states[name]["Default"] if states[name]["Type"] == "Choice" else states[name]["Next"]
    return shape


def deployed_definitions(template: dict[str, Any]) -> dict[str, Any]:
    return {name: json.loads(machine["DefinitionString"]) for name, machine in state_machines(template).items()}


@pytest.mark.parametrize("phase", PHASES)
def test_each_peer_polls_in_its_authors_shape(example_template: Any, phase: str) -> None:
    shapes = {}
    for policy in POLICIES:
        template = policy_template(example_template.to_json(), policy, phase_limits=LIMITS)
        polling = policy.polling(LIMITS)
        first = POLL_LOOPS[phase].first(polling)
        (definition,) = [d for d in deployed_definitions(template).values() if any(first in s for s in all_states(d))]
        shapes[policy.number] = loop_shape(definition, phase, polling)

    assert shapes[1] == shapes[2] == shapes[4] == ["Wait", "Task", "Choice"]
    assert shapes[3] == ["Task", "Choice"]
    assert shapes[5][0] == "Wait"
    assert shapes[5] == ["Wait", "Pass", "Task", "Choice"]


def test_the_lambda_retry_poller_outlasts_each_phase_limit_and_raises_the_error_its_retry_matches() -> None:
    (retried,) = [p for p in POLICIES if p.lambda_retry]
    polling = retried.polling(LIMITS)

    assert isinstance(polling, LambdaRetry)
    assert ResourcePending.__name__ == polling.PENDING
    for phase, limit in LIMITS.items():
        attempts = polling.attempts[phase]
        assert sum(60 * 1.02**n for n in range(attempts)) >= limit > sum(60 * 1.02**n for n in range(attempts - 1))


def test_every_state_machine_of_the_run_polls_as_the_policy_does(example_template: Any) -> None:
    deployed = deployed_definitions(example_template.to_json())
    assert set(deployed) == {workflow.REFRESH, workflow.IMPORT, workflow.CAMPAIGN}
    for policy in POLICIES:
        template = policy_template(example_template.to_json(), policy, phase_limits=LIMITS)
        built = workflow.definitions(policy.polling(LIMITS))
        for name, definition in deployed_definitions(template).items():
            # the deployed text still has its substitutions, as the synthesized one has
            assert {k: v for k, v in definition.items() if k != "TimeoutSeconds"} == built[name], (policy.label, name)
            assert definition["TimeoutSeconds"] == deployed[name]["TimeoutSeconds"]
            assert definition_name(definition) == name


def test_the_lambda_retry_poller_may_be_invoked_by_each_state_machine_that_polls_through_it(
    example_template: Any,
) -> None:
    (retried,) = [p for p in POLICIES if p.lambda_retry]
    template = policy_template(example_template.to_json(), retried, phase_limits=LIMITS)
    poller = {"Fn::GetAtt": ["BenchPollFunction", "Arn"]}
    machines = state_machines(template)

    assert template["Resources"]["BenchPollFunction"]["Properties"]["Handler"] == "bench.poll_lambda.handler"
    for name in (workflow.IMPORT, workflow.CAMPAIGN):
        machine = machines[name]
        assert machine["DefinitionSubstitutions"]["PollFunctionArn"] == poller
        role = {"Ref": machine["RoleArn"]["Fn::GetAtt"][0]}
        invoke = [
            statement["Resource"]
            for resource in template["Resources"].values()
            if resource["Type"] == "AWS::IAM::Policy" and role in resource["Properties"]["Roles"]
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]
            if statement["Action"] == "lambda:InvokeFunction"
        ]
        assert [poller in resources for resources in invoke] == [True], name
    assert "PollFunctionArn" not in machines[workflow.REFRESH]["DefinitionSubstitutions"]


@pytest.mark.parametrize("machine", [workflow.REFRESH, workflow.IMPORT, workflow.CAMPAIGN])
def test_outside_their_poll_loops_the_peers_run_as_the_project_does(machine: str) -> None:
    own = named_states(workflow.definitions()[machine])
    for policy in POLICIES:
        peer = named_states(workflow.definitions(policy.polling(LIMITS))[machine])
        first = {POLL_LOOPS[phase].first(policy.polling(LIMITS)) for phase in PHASES}
        polls = {name for loop in POLL_LOOPS.values() for name in (loop.wait, loop.describe)}
        for name in own.keys() & peer.keys() - polls:
            state, theirs = own[name], peer[name]
            if state != theirs:
                # only where a phase goes to poll (again): to the peer's first state of the loop, without the
                # project's end when its plan of waits runs out
                assert state["Type"] == "Choice" and theirs["Default"] in first, (policy.label, name)
                ours = [rule for rule in state["Choices"] if not rule["Next"].endswith("polls ran out")]
                assert ours == theirs["Choices"], (policy.label, name)


def named_states(definition: dict[str, Any]) -> dict[str, Any]:
    """Every state by its name, a Map without its states (they are among the others)."""
    return {
        name: {key: value for key, value in state.items() if key != "ItemProcessor"}
        for states in all_states(definition)
        for name, state in states.items()
    }


def test_the_section_is_replaced_and_the_rest_of_the_page_kept(tmp_path: Path) -> None:
    page = tmp_path / "PERFORMANCE.md"
    page.write_text("# Performance\n\n## The engine's own speed\n\nFigures.\n", encoding="utf-8")

    write_section(page, "## Polling policies\n\nFirst.\n")
    write_section(page, "## Polling policies\n\nSecond.\n")

    assert page.read_text(encoding="utf-8") == (
        "# Performance\n\n## The engine's own speed\n\nFigures.\n\n## Polling policies\n\nSecond.\n"
    )
