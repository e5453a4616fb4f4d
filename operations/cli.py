"""personalize-refresh: operate the Personalize refresh pipeline from the command line.

Finds the stack's resources from its outputs (--stack, default PersonalizeRefresh) with the standard AWS
credential chain (--profile, --region, or the AWS_* variables), as the AWS CLI does. With --local, works on
the state the last rehearsal (`make demo`) saved instead, without an AWS account.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import click
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from refresh_common.schema import (
    ABORTED,
    COMPLETED,
    FAILED,
    GATED,
    RERUNNABLE,
    RUN_STATUSES,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    TIMED_OUT,
)

from . import runs as views
from .pipeline import OperatorError, Pipeline, Runs, StackResources, stack_outputs

PROGRAM = "personalize-refresh"
DEFAULT_STACK = "PersonalizeRefresh"
# How long `start` and `retry` wait on AWS for the claim to land, or a stopped execution's record to close.
CLAIM_WAIT_SECONDS = 120
_STATUS_STYLE = {
    SUCCEEDED: "green",
    GATED: "yellow",
    SKIPPED: "cyan",
    RUNNING: "blue",
    FAILED: "red",
    TIMED_OUT: "red",
    ABORTED: "red",
}

# Piped output (a file, grep, a test) is not cut to a terminal's width.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False)


# Where the commands act ------------------------------------------------------------------------------


def suggested(command: str) -> str:
    """A command to suggest, as the user would type it next: with --local while they act on the rehearsal's saved
    state, so that following the suggestion acts on the same place."""
    context = click.get_current_context(silent=True)
    local = bool(context and context.params.get("local"))
    return f"{PROGRAM} {command}" + (" --local" if local else "")


@dataclass(frozen=True)
class Target:
    stack: str
    region: str | None
    profile: str | None
    local: bool
    local_state: Path | None  # where --local finds the saved engine; None for where the rehearsal saves it

    def runs(self) -> AbstractContextManager[Runs]:
        """What `runs` and `show` read: the saved state with --local (nothing started), else the pipeline."""
        if self.local:
            from .local import saved_runs

            return nullcontext(saved_runs(self.local_state))
        return self.pipeline()

    def pipeline(self) -> AbstractContextManager[Pipeline]:
        if self.local:
            from .local import local_pipeline

            return local_pipeline(self.local_state)
        return nullcontext(self._aws_pipeline())

    def _aws_pipeline(self) -> Pipeline:
        session = boto3.session.Session(profile_name=self.profile, region_name=self.region)
        if not session.region_name:
            raise OperatorError("no region: pass --region REGION, or set AWS_REGION or a profile's region")
        resources = StackResources.from_outputs(
            self.stack, session.region_name, stack_outputs(session.client("cloudformation"), self.stack)
        )
        return Pipeline(
            functools.cache(session.client),
            resources,
            table=session.resource("dynamodb").Table(resources.table_name),
        )


def target_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options every command takes to say where it acts; they reach the command as `target`."""

    @click.option("--stack", default=DEFAULT_STACK, show_default=True, help="the deployed stack's name")
    @click.option("--region", help="the stack's region (default: the credential chain's)")
    @click.option("--profile", help="a named profile of your AWS configuration")
    @click.option("--local", is_flag=True, help="act on the state `make demo` saved, not on AWS")
    @click.option("--local-state", type=click.Path(path_type=Path), hidden=True)
    @functools.wraps(command)
    def with_target(
        stack: str, region: str | None, profile: str | None, local: bool, local_state: Path | None, **kwargs: Any
    ) -> Any:
        return command(target=Target(stack, region, profile, local, local_state), **kwargs)

    return with_target


class BaseDate(click.ParamType):
    name = "YYYYMMDD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        text = str(value)
        if len(text) == 8 and text.isdigit():
            try:
                datetime.strptime(text, "%Y%m%d")
                return int(text)
            except ValueError:
                pass  # not a calendar date: said below
        self.fail(f"expected a calendar date YYYYMMDD, got {text!r}", param, ctx)


BASE_DATE = BaseDate()
json_option = click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")


@click.group(help=__doc__, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
def cli() -> None:
    pass


# Reading ---------------------------------------------------------------------------------------------


@cli.command(name="runs")
@click.option("--campaign", "campaigns", multiple=True, help="only this campaign (repeatable)")
@click.option("--status", "statuses", multiple=True, type=click.Choice(RUN_STATUSES), help="only runs in this status")
@click.option("--since", type=BASE_DATE, help="base dates from this one")
@click.option("--until", type=BASE_DATE, help="base dates up to this one")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="at most this many runs")
@json_option
@target_options
def runs_command(
    target: Target,
    campaigns: tuple[str, ...],
    statuses: tuple[str, ...],
    since: int | None,
    until: int | None,
    limit: int,
    as_json: bool,
) -> None:
    """Recent runs per campaign, newest first."""
    if since is not None and until is not None and since > until:
        raise click.BadParameter(f"{since} is after --until {until}: no base date is in between", param_hint="--since")
    with target.runs() as source:
        chosen = _campaigns(source.resources, campaigns)
        records = source.records(chosen, since or 0, until or 99_999_999)
    records = [r for r in records if not statuses or r.get("run_status") in statuses]
    records.sort(key=lambda r: (int(r["base_date"]), r["campaign_name"]), reverse=True)
    rows = [views.summary(record) for record in records[:limit]]
    if as_json:
        out.print_json(views.as_json(rows))
        return
    if not rows:
        out.print("No runs match.")
        return
    table = Table("campaign", "base date", "status", "phase", "attempt", "decisions", "import", "training",
                  "deployment", "version", box=None, header_style="bold")  # fmt: skip
    for row in rows:
        durations = row["durations"]
        table.add_row(
            row["campaign"],
            row["base_date"],
            _status(row["status"]),
            row["phase"] or "",
            str(row["attempt"]),
            row["decisions"],
            *(views.seconds_text(durations.get(phase)) for phase in ("import", "training", "deployment")),
            row["version"] or "",
        )
    out.print(table)


@cli.command(name="show")
@click.argument("campaign")
@click.argument("base_date", type=BASE_DATE)
@json_option
@target_options
def show_command(target: Target, campaign: str, base_date: int, as_json: bool) -> None:
    """One run whole: its record, its phases in time, why it failed, and its execution in the console."""
    with target.runs() as source:
        _campaigns(source.resources, (campaign,))
        record = source.record(campaign, base_date)
        if record is None:
            raise OperatorError(
                f"no run of {campaign} on {base_date}: `{suggested(f'runs --campaign {campaign}')}` lists its runs"
            )
        arn = str(record.get("execution_arn", ""))
        shown = views.detail(record, source.execution(arn), source.history(arn))
    if as_json:
        out.print_json(views.as_json(shown))
        return
    _print_detail(shown, record)


# Acting ----------------------------------------------------------------------------------------------


@cli.command(name="start")
@click.option("--base-date", type=BASE_DATE, help="the day to refresh (default: today in the pipeline's time zone)")
@click.option("--campaign", "campaigns", multiple=True, help="only this campaign (repeatable; default: all)")
@click.option("--force", is_flag=True, help="refresh afresh, even a day that already completed")
@click.option("--wait", is_flag=True, help="follow the run to its end (with --local it always does)")
@target_options
def start_command(target: Target, base_date: int | None, campaigns: tuple[str, ...], force: bool, wait: bool) -> None:
    """A manual run or back-fill of one day, checked before anything starts: without --campaign, of every campaign
    the day is not done for."""
    with target.pipeline() as pipeline:
        resources = pipeline.resources
        chosen = _campaigns(resources, campaigns)
        today = int(pipeline.now().astimezone(ZoneInfo(resources.time_zone)).strftime("%Y%m%d"))
        day = base_date or today
        if day > today:
            raise OperatorError(f"base date {day} is in the future (today is {today} in {resources.time_zone})")
        startable = _startable(pipeline, chosen, day, force=force, named=bool(campaigns))
        payload: dict[str, Any] = {"base_date": str(day)}
        if campaigns or len(startable) < len(chosen):
            payload["campaigns"] = startable
        if force:
            payload["force"] = True
        arn = pipeline.start(payload, label="operator")
        out.print(f"Started {arn}\n  {views.console_url(arn)}")
        _follow(pipeline, arn, startable, day, wait=wait)


@cli.command(name="retry")
@click.argument("campaign")
@click.argument("base_date", type=BASE_DATE)
@click.option("--stop", is_flag=True, help="stop the day's execution first if it is still running")
@click.option("--wait", is_flag=True, help="follow the run to its end (with --local it always does)")
@target_options
def retry_command(target: Target, campaign: str, base_date: int, stop: bool, wait: bool) -> None:
    """Re-run a failed or stuck day; the re-run takes up the jobs the failed attempt created."""
    with target.pipeline() as pipeline:
        _campaigns(pipeline.resources, (campaign,))
        record = pipeline.record(campaign, base_date)
        if record is None:
            raise OperatorError(
                f"no run of {campaign} on {base_date} to retry: "
                f"`{suggested(f'start --base-date {base_date} --campaign {campaign}')}` starts one"
            )
        status = str(record.get("run_status"))
        if status in COMPLETED:
            raise OperatorError(
                f"{campaign} on {base_date} already {status}: "
                f"`{suggested(f'start --base-date {base_date} --campaign {campaign} --force')}` refreshes it again"
            )
        if status == RUNNING:
            _unstick(pipeline, record, stop=stop)
        arn = pipeline.start({"base_date": str(base_date), "campaigns": [campaign]}, label="retry")
        out.print(f"Re-running {campaign} on {base_date}: {arn}\n  {views.console_url(arn)}")
        _follow(pipeline, arn, (campaign,), base_date, wait=wait)


@cli.command(name="reconcile")
@click.option("--fix", is_flag=True, help="repair what can be repaired: close records their execution left RUNNING")
@click.option("--since", type=BASE_DATE, help="only runs from this base date on (default: all)")
@json_option
@target_options
def reconcile_command(target: Target, fix: bool, since: int | None, as_json: bool) -> None:
    """Records that disagree with their executions or with Personalize."""
    from .reconcile import disagreements, repair

    with target.pipeline() as pipeline:
        found = disagreements(pipeline, since=since or 0)
        if fix:
            found = [repair(pipeline, item) for item in found]
    if as_json:
        out.print_json(views.as_json([item.as_dict() for item in found]))
        return
    if not found:
        out.print("Every record agrees with its execution and with Personalize.")
        return
    table = Table("campaign", "base date", "record", "execution", "problem", "action", box=None, header_style="bold")
    for item in found:
        table.add_row(item.campaign, str(item.base_date), _status(item.record_status), item.execution_status,
                      item.problem, item.action)  # fmt: skip
    out.print(table)
    if not fix and any(item.fixable for item in found):
        out.print(f"Run `{suggested('reconcile --fix')}` to repair those marked fixable.")


@cli.command(name="dlq")
@click.option("--replay", is_flag=True, help="replay each event, then delete its message")
@json_option
@target_options
def dlq_command(target: Target, replay: bool, as_json: bool) -> None:
    """The events EventBridge could not deliver to the pipeline, the closes the run function failed, and their
    replay."""
    from . import dead_letters

    with target.pipeline() as pipeline:
        shown = dead_letters.handle(pipeline, replay=replay)
    if as_json:
        out.print_json(views.as_json(shown))
    elif not shown:
        out.print("The dead-letter queues are empty.")
    else:
        for entry in shown:
            outcome = entry.get("replayed") or (
                f"NOT replayed: {entry['not_replayed']}" if "not_replayed" in entry else ""
            )
            out.print(f"{entry['queue']}: {entry['event']}" + (f"\n  {outcome}" if outcome else ""))
        if not replay:
            out.print(f"{len(shown)} event(s); `{suggested('dlq --replay')}` replays them.")
    if any("not_replayed" in entry for entry in shown):
        raise click.exceptions.Exit(1)


# Helpers ---------------------------------------------------------------------------------------------


def _campaigns(resources: StackResources, given: Sequence[str]) -> tuple[str, ...]:
    if unknown := [name for name in given if name not in resources.campaign_names]:
        raise OperatorError(
            f"no campaign {', '.join(unknown)} in {resources.stack_name}; its campaigns: "
            + ", ".join(resources.campaign_names)
        )
    return tuple(given) or resources.campaign_names


def _startable(pipeline: Pipeline, chosen: Sequence[str], base_date: int, *, force: bool, named: bool) -> list[str]:
    """The chosen campaigns a run of the day may start. Campaigns named with --campaign must all be; without it, a
    day that is done for some campaigns starts the others, saying which it leaves out and why."""
    refusals = {c: refusal for c in chosen if (refusal := _refusal(pipeline, c, base_date, force=force))}
    if refusals and (named or len(refusals) == len(chosen)):
        raise OperatorError("; ".join(refusals.values()))
    for refusal in refusals.values():
        out.print(f"Leaving out {refusal}")
    return [c for c in chosen if c not in refusals]


def _refusal(pipeline: Pipeline, campaign: str, base_date: int, *, force: bool) -> str | None:
    """Why a run of the day may not start for the campaign, or None when it may."""
    record = pipeline.record(campaign, base_date)
    status = record.get("run_status") if record else None
    if status == RUNNING:
        return (
            f"{campaign} on {base_date} is already RUNNING ({record['execution_arn'] if record else ''}); "
            f"`{suggested(f'retry {campaign} {base_date} --stop')}` re-runs it if it is stuck"
        )
    if status in COMPLETED and not force:
        return f"{campaign} on {base_date} already {status}: add --force to refresh it again"
    return None


def _unstick(pipeline: Pipeline, record: dict[str, Any], *, stop: bool) -> None:
    """Make a RUNNING record re-runnable: close it if its execution ended, stop that execution first with --stop."""
    campaign, base_date, arn = record["campaign_name"], int(record["base_date"]), str(record["execution_arn"])
    execution = pipeline.execution(arn)
    if execution is None:
        raise OperatorError(f"{campaign} on {base_date} is RUNNING under {arn}, which does not exist: see `reconcile`")
    if execution["status"] == "SUCCEEDED":
        raise OperatorError(f"{campaign} on {base_date} is RUNNING but {arn} SUCCEEDED: see `{suggested('reconcile')}`")
    if execution["status"] == "RUNNING":
        if not stop:
            raise OperatorError(
                f"{campaign} on {base_date} is still running ({arn}); wait for it, or add --stop to stop it "
                "and re-run the day"
            )
        pipeline.stop(arn, cause=f"stopped by `{PROGRAM} retry` to re-run {campaign} on {base_date}")
        out.print(f"Stopped {arn}")
    else:
        pipeline.close(execution)
    with _progress(f"Waiting for the record of {campaign} on {base_date} to close..."):
        pipeline.wait_until(
            f"the record of {campaign} on {base_date} to close",
            lambda: (pipeline.record(campaign, base_date) or {}).get("run_status") != RUNNING,
            timeout=CLAIM_WAIT_SECONDS,
        )


def _follow(pipeline: Pipeline, arn: str, campaigns: Sequence[str], base_date: int, *, wait: bool) -> None:
    """Wait for the execution's claim (or for its end, with --wait or --local) and say what it did."""
    if pipeline.run_to_end is not None:
        with _progress("Running the refresh on the local engine, in simulated time..."):
            pipeline.run_to_end(arn)
    else:
        owned = lambda: all(  # noqa: E731 - a condition read twice
            (pipeline.record(c, base_date) or {}).get("execution_arn") == arn for c in campaigns
        )
        ended = lambda: (pipeline.execution(arn) or {}).get("status") != "RUNNING"  # noqa: E731
        with _progress("Waiting for the run to be claimed..."):
            pipeline.wait_until("the claim", lambda: owned() or ended(), timeout=CLAIM_WAIT_SECONDS)
        if wait:
            with _progress("Following the run (Ctrl-C stops following, not the run)..."):
                pipeline.wait_until("the run's end", ended, timeout=7 * 24 * 3600, every=30)
    execution = pipeline.execution(arn) or {}
    if execution.get("status") not in (None, "RUNNING", "SUCCEEDED"):
        raise OperatorError(f"the execution {execution['status']}: {execution.get('error')}: {execution.get('cause')}")
    for campaign in campaigns:
        record = pipeline.record(campaign, base_date) or {}
        owner = "" if record.get("execution_arn") == arn else " (not claimed by this execution: a duplicate)"
        out.print(f"  {campaign} {base_date}: {_status(str(record.get('run_status', 'no record')))}{owner}")


def _print_detail(shown: dict[str, Any], record: dict[str, Any]) -> None:
    summary, execution = shown["summary"], shown["execution"]
    out.print(
        f"[bold]{summary['campaign']}[/bold] {summary['base_date']}: {_status(summary['status'])}, phase "
        f"{summary['phase']}, attempt {summary['attempt']}, trigger {summary['trigger']}"
    )
    out.print(f"Started {summary['started_at']}" + (f", ended {summary['ended_at']}" if summary["ended_at"] else ""))
    if summary["decisions"]:
        out.print(f"Decisions: {summary['decisions']}")
    for name, job in sorted((record.get("dataset_import_jobs") or {}).items()):
        out.print(f"  dataset {name}: {job.get('decision', 'import')} ({job.get('reason', '')})")
    for key in ("training_mode_reason", "skip_reason"):
        if record.get(key):
            out.print(f"  {key.replace('_', ' ')}: {record[key]}")
    if (record.get("quality_gate") or {}).get("reason"):
        out.print(f"  quality gate: {record['quality_gate']['decision']}: {record['quality_gate']['reason']}")
    for warning in record.get("warnings") or []:
        out.print(f"  [yellow]warning[/yellow]: {warning}")
    if shown["phases"]:
        table = Table("phase", "status", "started", "ended", "took", "polls", "idle", box=None, header_style="bold")
        for phase in shown["phases"]:
            polls = "" if phase["polls"] is None else str(phase["polls"])
            took, idle = views.seconds_text(phase["seconds"]), views.seconds_text(phase["idle_seconds"])
            ended = phase["ended"] or "(running)"
            table.add_row(phase["name"], phase["status"], phase["started"], ended, took, polls, idle)
        out.print(table)
    if shown["failure"]:
        failure = shown["failure"]
        out.print(f"[red]Failed[/red] in {failure['phase']}: {failure['error']}\n  {failure['reason']}")
    for retry in shown["retries"]:
        out.print(f"  retried: {retry['at']} {retry['subject']}: {retry['what']}")
    for attempt in shown["previous_attempts"]:
        out.print(
            f"  earlier attempt {attempt.get('attempt')}: {attempt.get('run_status')}"
            + (f" ({attempt.get('failure_error')})" if attempt.get("failure_error") else "")
        )
    out.print(f"Execution: {execution['status']} {execution['arn']}\n  {execution['console_url']}")
    if shown["campaign_execution"]:
        campaign_execution = shown["campaign_execution"]
        out.print(f"Campaign execution: {campaign_execution['arn']}\n  {campaign_execution['console_url']}")
    if summary["status"] in RERUNNABLE:
        rerun = suggested(f"retry {summary['campaign']} {summary['base_date']}")
        out.print(f"Re-run it: {rerun}")


def _status(status: str | None) -> str:
    status = status or ""
    style = _STATUS_STYLE.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


@contextmanager
def _progress(message: str) -> Iterator[None]:
    if err.is_terminal:
        with err.status(message):
            yield
    else:
        yield


# Entry point -----------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; every error is one line on stderr and a non-zero exit, never a traceback."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name=PROGRAM, standalone_mode=False)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.exceptions.Abort:
        err.print(f"{PROGRAM}: interrupted")
        return 130
    except click.UsageError as error:
        _say(f"{error.format_message()} (see {PROGRAM} {_command(error)}--help)")
        return 2
    except (OperatorError, click.ClickException) as error:
        _say(error.format_message() if isinstance(error, click.ClickException) else str(error))
        return 1
    except (BotoCoreError, ClientError) as error:
        _say(f"AWS: {error}")
        return 1
    return 0


def _command(error: click.UsageError) -> str:
    ctx = error.ctx
    return f"{ctx.info_name} " if ctx is not None and ctx.parent is not None and ctx.info_name else ""


def _say(message: str) -> None:
    print(f"{PROGRAM}: {message}", file=sys.stderr)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
