"""`--local`: the CLI on the state the last rehearsal saved (see local_engine.saved), without an AWS account.

Imported only by the --local commands: the embedded AWS it loads (moto, the Personalize emulator) takes seconds.

Reading (`runs`, `show`) reads the saved state. Acting resumes the local engine from it, acts through the
same boto3 calls as on AWS, runs every execution it started to its end in simulated time (minutes of wall
time at most), and saves the engine again, so that the next command sees what this one did.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from local_engine.refresh import LocalRefresh
from local_engine.saved import NoSavedEngine, SavedEngine, load, resume, save, saved_engine_path

from .pipeline import OperatorError, Pipeline, StackResources, deserialized

LOCAL_STACK = "local rehearsal"
# Created before any execution runs: creating a client reads the process environment, which the
# in-process Lambdas change while they run.
_SERVICES = ("stepfunctions", "dynamodb", "personalize", "lambda", "sqs")


class SavedRuns:
    """The runs and executions as the rehearsal left them, read without starting the engine."""

    def __init__(self, saved: SavedEngine) -> None:
        self.resources = StackResources.from_outputs(LOCAL_STACK, saved.refresh_config().region, saved.outputs)
        self._records = deserialized(saved.table_items)
        self._executions = saved.executions

    def records(self, campaigns: Iterable[str], since: int, until: int) -> list[dict[str, Any]]:
        wanted = set(campaigns)
        return [r for r in self._records if r["campaign_name"] in wanted and since <= int(r["base_date"]) <= until]

    def record(self, campaign: str, base_date: int) -> dict[str, Any] | None:
        found = self.records([campaign], base_date, base_date)
        return found[0] if found else None

    def execution(self, execution_arn: str) -> dict[str, Any] | None:
        saved = self._executions.get(execution_arn)
        return saved.description if saved else None

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        saved = self._executions.get(execution_arn)
        return saved.history if saved else []


def saved_runs(path: Path | None) -> SavedRuns:
    return SavedRuns(_load(path)[0])


def engine_pipeline(refresh: LocalRefresh, *, earlier: SavedEngine | None = None) -> Pipeline:
    """The pipeline deployed on a running local engine (with the executions of `earlier` sessions)."""
    outputs = {name: refresh.deployment.output(name) for name in refresh.template.get("Outputs", {})}
    clients = {service: refresh.client(service) for service in _SERVICES}
    executions = earlier.executions if earlier else {}
    return Pipeline(
        clients.__getitem__,
        StackResources.from_outputs(LOCAL_STACK, refresh.config.region, outputs),
        table=boto3.resource("dynamodb", region_name=refresh.config.region).Table(refresh.deployment.table_name),
        earlier_executions={arn: (e.description, e.history) for arn, e in executions.items()},
        run_to_end=refresh.wait,
        now=refresh.clock.now,
    )


@contextmanager
def local_pipeline(path: Path | None) -> Iterator[Pipeline]:
    """The pipeline on the resumed local engine; saved again, once every execution it started has ended, when
    the block ends without an error, or with the command's own verdict on executions it started (an
    OperatorError: a retry whose execution failed happened all the same, and `runs --local` must show it)."""
    saved, path = _load(path)
    # The embedded AWS logs each error a state handles (a Catch, an IsPresent check); the CLI reports outcomes.
    logging.disable(logging.CRITICAL)
    with resume(saved) as refresh:
        pipeline = engine_pipeline(refresh, earlier=saved)

        def save_what_happened() -> None:
            for execution_arn in pipeline.started:
                refresh.wait(execution_arn)
            save(refresh, source=saved.source, path=path, earlier=saved)

        try:
            yield pipeline
        except OperatorError:
            if pipeline.started:  # a refused command started nothing and changes nothing
                save_what_happened()
            raise
        save_what_happened()
    logging.disable(logging.NOTSET)


def _load(path: Path | None) -> tuple[SavedEngine, Path]:
    """The saved engine, from `path` or else where the rehearsal saves it, and where it was read from."""
    path = path or saved_engine_path()
    try:
        return load(path), path
    except NoSavedEngine as error:
        raise OperatorError(str(error)) from None
