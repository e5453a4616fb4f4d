"""Whether a rehearsal behaved as its scenario expects: the answer, in words, and the exit code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from refresh_common.schema import FAILED, TIMED_OUT

from .timeline import answer_entries, duration, execution_times, retry_entries

if TYPE_CHECKING:
    from .scenario import Outcome

AS_EXPECTED, NOT_AS_EXPECTED, BAD_INPUT = 0, 1, 2
EXIT_CODES = f"""exit codes:
  {AS_EXPECTED}  the rehearsal behaved as the scenario expects: every campaign serves a newly trained
     version, or (with --fail and no --rerun) the phase failed, was recorded and alerted, and the
     campaigns it failed still serve their previous version, or a phase longer than its limit
     (phase_timeouts) was stopped or given up, recorded TIMED_OUT and alerted
  {NOT_AS_EXPECTED}  it did not, for a reason the report gives: a campaign that should have been refreshed
     was not, a failure that was not recorded or alerted, an execution that timed out (always 1), ...
  {BAD_INPUT}  bad arguments or configuration: nothing was rehearsed"""
_ENDED_UNRECORDED = {"TIMED_OUT": "TIMED OUT", "ABORTED": "ABORTED"}


@dataclass(frozen=True)
class Verdict:
    problems: list[str]
    expected: str  # what the scenario expects, in words

    @property
    def exit_code(self) -> int:
        return NOT_AS_EXPECTED if self.problems else AS_EXPECTED


def judge(outcome: Outcome) -> Verdict:
    scenario = outcome.scenario
    problems = [_ended_unrecorded(outcome, index) for index in range(len(outcome.executions))]
    if not outcome.executions:
        problems.append("the rule started no execution")
    records = latest_records(outcome)
    failing = scenario.failing_campaigns(outcome.config) if scenario.ends_failed else []
    late = None if scenario.ends_failed else scenario.over_limit(outcome.config)
    for campaign in outcome.config.campaigns:
        record = records.get(campaign.name, {})
        refreshed = outcome.serving.get(campaign.name) != outcome.previous_versions.get(campaign.name)
        if campaign.name in failing and scenario.fail_phase:
            phase = scenario.fail_phase.upper()
            if record.get("run_status") != FAILED or record.get("failure_phase") != phase:
                recorded_phase = record.get("failure_phase") or record.get("phase")
                problems.append(
                    f"{campaign.name}: expected a run recorded FAILED in phase {phase}, the record says "
                    f"{record.get('run_status', 'nothing')} in phase {recorded_phase}"
                )
            if refreshed:
                problems.append(f"{campaign.name}: serves a new version although {scenario.fail_phase} failed")
        elif late:
            if record.get("run_status") != TIMED_OUT or record.get("failure_phase") != late.upper():
                problems.append(
                    f"{campaign.name}: expected a run recorded TIMED_OUT in phase {late.upper()} (past its limit), "
                    f"the record says {record.get('run_status', 'nothing')} in phase {record.get('phase')}"
                )
            if refreshed and late != "deployment":  # an update given up may still finish
                problems.append(f"{campaign.name}: serves a new version although its {late} ran past its limit")
        elif not refreshed:
            problems.append(f"{campaign.name}: still serves its previous version")
    if (scenario.ends_failed or late) and not outcome.alerts:
        problems.append("no alert was published for the failure")
    if scenario.duplicate and len(outcome.executions) > 1:
        duplicate = outcome.executions[1]
        if any(write.record.get("execution_arn") == duplicate.arn for write in outcome.record_writes):
            problems.append(f"the {duplicate.label} claimed a run instead of being skipped")
    if scenario.throttle and not _anything_retried(outcome):
        problems.append("nothing was retried although Personalize throttled the first calls")
    return Verdict([p for p in problems if p], _expected(outcome))


def latest_records(outcome: Outcome) -> dict[str, dict[str, Any]]:
    """Each campaign's run record for the latest base date rehearsed, as stored at the end."""
    latest: dict[str, dict[str, Any]] = {}
    for record in outcome.run_records:  # sorted by campaign, then base date
        latest[record["campaign_name"]] = record
    return latest


def _anything_retried(outcome: Outcome) -> bool:
    by_the_state_machine = any(retry_entries(execution.history) for execution in outcome.executions)
    return by_the_state_machine or bool(answer_entries(outcome.personalize_calls, {}, outcome.started, None))


def _ended_unrecorded(outcome: Outcome, index: int) -> str:
    execution = outcome.executions[index]
    status = execution.description["status"]
    if status not in _ENDED_UNRECORDED:
        return ""
    start, stop = execution_times(execution)
    took = f" after {duration(stop - start)}" if stop else ""
    limit = (
        f", the state machine's timeout (execution_timeout_hours {outcome.config.execution_timeout_hours})"
        if status == "TIMED_OUT"
        else ""
    )
    return f"execution {index + 1} ({execution.label}) {_ENDED_UNRECORDED[status]}{took}{limit}"


def _expected(outcome: Outcome) -> str:
    scenario = outcome.scenario
    if scenario.ends_failed:
        failing = scenario.failing_campaigns(outcome.config)
        if len(failing) == len(outcome.config.campaigns):
            return (
                f"the {scenario.fail_phase} fails as injected, is recorded and alerted, "
                "and every campaign keeps serving its previous version"
            )
        return (
            f"the {scenario.fail_phase} fails as injected for {', '.join(failing)}, is recorded and alerted, and "
            "keeps its previous version there; every other campaign serves a newly trained version"
        )
    late = scenario.over_limit(outcome.config)
    if late:
        return (
            f"the {late} runs past its limit in phase_timeouts, is {'stopped' if late == 'training' else 'given up'}, "
            "recorded TIMED_OUT and alerted, and every campaign keeps serving its previous version"
        )
    expected = "every campaign serves a newly trained version"
    if scenario.rerun:
        expected += f" after the {scenario.fail_phase} failed and the operator re-ran the day"
    if scenario.duplicate:
        expected += "; the duplicate delivery is skipped"
    if scenario.throttle:
        expected += "; the throttled calls are retried"
    return expected
