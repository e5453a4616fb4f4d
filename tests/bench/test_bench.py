"""The bench in short: one scenario, one seed, every policy; its figures are sane and its derivations honest.
No timing is asserted: the bench's wall time depends on the machine."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bench.measure import RecordDisagrees, check_record, recorded_idle
from bench.policies import POLICIES, DefinitionChanged, policy_template
from bench.report import Results, markdown_table, write_section
from bench.run import bench
from bench.scenarios import SCENARIOS
from infra.config import RefreshConfig

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


def _with_definition(template: dict[str, Any], change: Any) -> dict[str, Any]:
    changed = copy.deepcopy(template)
    (machine,) = [r for r in changed["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    definition = json.loads(machine["Properties"]["DefinitionString"])
    change(definition)
    machine["Properties"]["DefinitionString"] = json.dumps(definition)
    return changed


def _import_states(definition: dict[str, Any]) -> dict[str, Any]:
    return dict(definition["States"]["Wait for imports"]["ItemProcessor"]["States"])


def test_a_poll_loop_that_gained_a_state_is_refused_not_measured(example_template: Any) -> None:
    def add_a_step(definition: dict[str, Any]) -> None:
        states = definition["States"]["Wait for imports"]["ItemProcessor"]["States"]
        states["Plan the next import poll"] = {"Type": "Pass", "Next": "Wait before polling import"}
        states["Import finished?"]["Default"] = "Plan the next import poll"

    changed = _with_definition(example_template.to_json(), add_a_step)

    for policy in POLICIES:
        if not policy.is_projects_own:
            with pytest.raises(DefinitionChanged, match="gained \\['Plan the next import poll'\\]"):
                policy_template(changed, policy, phase_limits=LIMITS)


def test_a_renamed_polling_wait_is_refused(example_template: Any) -> None:
    def rename(definition: dict[str, Any]) -> None:
        states = definition["States"]["Wait for imports"]["ItemProcessor"]["States"]
        states["Wait for the planned poll"] = states.pop("Wait before polling import")
        states["Import finished?"]["Default"] = "Wait for the planned poll"

    with pytest.raises(DefinitionChanged, match="no state 'Wait before polling import'"):
        policy_template(_with_definition(example_template.to_json(), rename), POLICIES[0], phase_limits=LIMITS)


def test_the_section_is_replaced_and_the_rest_of_the_page_kept(tmp_path: Path) -> None:
    page = tmp_path / "PERFORMANCE.md"
    page.write_text("# Performance\n\n## The engine's own speed\n\nFigures.\n", encoding="utf-8")

    write_section(page, "## Polling policies\n\nFirst.\n")
    write_section(page, "## Polling policies\n\nSecond.\n")

    assert page.read_text(encoding="utf-8") == (
        "# Performance\n\n## The engine's own speed\n\nFigures.\n\n## Polling policies\n\nSecond.\n"
    )
