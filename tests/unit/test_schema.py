"""The run record's schema: every attribute the state machine writes is declared in it, and its phase arithmetic
reads records as the Lambdas and the state machine write them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from infra.workflow import DEFINITION_FILES
from refresh_common import clock, schema
from refresh_common.schema import Attr, ImportJobAttr

STARTED = datetime(2026, 11, 28, 16, 0, tzinfo=UTC).timestamp()
# The names an expression gives by a path of the state's input (such as a dataset's name) are data, not attributes.
_NAMED_BY_INPUT = re.compile(r"^#\w+$")


def declared(names: type) -> set[str]:
    return {value for key, value in vars(names).items() if key.isupper()}


def _record_writes(node: Any) -> Iterator[dict[str, Any]]:
    """The parameters of every DynamoDB write in the definition, wherever it stands (a Map's, a branch's)."""
    if isinstance(node, dict):
        if "UpdateExpression" in node:
            yield node
        for value in node.values():
            yield from _record_writes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _record_writes(value)


def written_by_the_state_machine() -> tuple[set[str], set[str]]:
    """(top-level attributes, names inside a dataset's import entry) that the record writes of the three
    definitions (the refresh's, an import's, a campaign's) name."""
    definitions = [json.loads(path.read_text(encoding="utf-8")) for path in DEFINITION_FILES.values()]
    top: set[str] = set()
    entry: set[str] = set()
    for parameters in _record_writes(definitions):
        names = parameters.get("ExpressionAttributeNames", {})
        expressions = " ".join(str(parameters.get(k, "")) for k in ("UpdateExpression", "ConditionExpression"))
        for path in re.findall(r"[:#\w]+(?:\.[#\w]+)*", expressions):
            if path in {"SET", "AND", "OR", "NOT"} or path.startswith(":"):
                continue  # a keyword, or a value
            parts = [names.get(part, part) for part in path.split(".")]
            top.add(parts[0])
            entry |= {part for part in parts[2:] if not _NAMED_BY_INPUT.match(part)}
    return top, entry


def test_every_attribute_the_state_machine_writes_is_declared() -> None:
    top, entry = written_by_the_state_machine()
    # what the reading found, so that the test cannot pass by reading nothing
    assert {Attr.RUN_STATUS, Attr.DEPLOYED_SOLUTION_VERSION_ARN, Attr.DATASET_IMPORT_JOBS} <= top
    assert Attr.CAMPAIGN_EXECUTION_ARN in top, "the campaign execution's first record write"
    assert {ImportJobAttr.STATUS, ImportJobAttr.POLLS} <= entry

    assert top - declared(Attr) == set()
    assert entry - declared(ImportJobAttr) == set()


def test_statuses_and_phases_are_their_own_names() -> None:
    assert set(schema.COMPLETED | schema.RERUNNABLE) <= set(schema.RUN_STATUSES)
    assert not schema.COMPLETED & schema.RERUNNABLE
    assert [phase.lower() for phase in schema.PHASES] == ["import", "training", "deployment"]
    assert set(schema.PHASE_JOBS) == {schema.TRAINING, schema.DEPLOYMENT}


def deployed_record() -> dict[str, Any]:
    """A record of a run that deployed, as the table holds it (numbers as Decimal): two imports of an hour and
    of 90 minutes, a training of six hours, a deployment of half an hour."""
    hour = 3600
    return {
        Attr.CAMPAIGN_NAME: "shop-home-recommendations",
        Attr.BASE_DATE: Decimal(20261129),
        Attr.RUN_STATUS: schema.SUCCEEDED,
        Attr.STARTED_DATETIME: Decimal(int(STARTED)),
        Attr.DATASET_IMPORT_JOBS: {
            "interactions": {
                ImportJobAttr.STATUS: "ACTIVE",
                ImportJobAttr.STARTED_DATETIME: Decimal(int(STARTED)),
                ImportJobAttr.UPDATED_AT: clock.iso(STARTED + hour),
                ImportJobAttr.POLLS: Decimal(3),
            },
            "items": {
                ImportJobAttr.STATUS: "ACTIVE",
                ImportJobAttr.STARTED_DATETIME: Decimal(int(STARTED)),
                ImportJobAttr.UPDATED_AT: clock.iso(STARTED + 1.5 * hour),
                ImportJobAttr.POLLS: Decimal(4),
            },
            "users": {ImportJobAttr.STATUS: schema.SKIPPED, ImportJobAttr.DECISION: "skip"},
        },
        Attr.IMPORT_IDLE_SECONDS: Decimal("12.5"),
        Attr.TRAINING_MODE: "FULL",
        Attr.SOLUTION_VERSION_STATUS: "ACTIVE",
        Attr.SOLUTION_VERSION_DATETIME: Decimal(int(STARTED + 2 * hour)),
        Attr.SOLUTION_VERSION_UPDATED_AT: clock.iso(STARTED + 8 * hour),
        Attr.SOLUTION_VERSION_POLLS: Decimal(9),
        Attr.SOLUTION_VERSION_IDLE_SECONDS: Decimal("40.0"),
        Attr.CAMPAIGN_UPDATE_STATUS: "ACTIVE",
        Attr.CAMPAIGN_UPDATE_DATETIME: Decimal(int(STARTED + 8 * hour)),
        Attr.CAMPAIGN_UPDATE_UPDATED_AT: clock.iso(STARTED + 8.5 * hour),
        Attr.CAMPAIGN_UPDATE_COMPLETED_AT: clock.iso(STARTED + 8.5 * hour - 25),
    }


def test_phases_tell_each_phase_from_its_start_to_the_poll_that_saw_its_job_end() -> None:
    found = {phase.name: phase for phase in schema.phases(deployed_record())}

    assert list(found) == list(schema.PHASES)
    assert found["IMPORT"].status == "ACTIVE"  # the skipped dataset is no import of this run
    assert (found["IMPORT"].seconds, found["IMPORT"].polls, found["IMPORT"].idle_seconds) == (5400, 7, 12.5)
    assert (found["TRAINING"].seconds, found["TRAINING"].polls, found["TRAINING"].idle_seconds) == (6 * 3600, 9, 40)
    # No Lambda runs after the deployment: its idle overhead comes from its two recorded times.
    assert (found["DEPLOYMENT"].seconds, found["DEPLOYMENT"].idle_seconds) == (1800, 25)


def test_a_phase_under_way_has_no_end_yet() -> None:
    record = deployed_record() | {Attr.CAMPAIGN_UPDATE_STATUS: "CREATE IN_PROGRESS"}

    deployment = schema.phases(record)[-1]

    assert (deployment.name, deployment.ended, deployment.seconds, deployment.idle_seconds) == (
        "DEPLOYMENT",
        None,
        None,
        None,
    )


def test_phase_seconds_count_the_longest_import_and_only_jobs_that_reached_active() -> None:
    record = deployed_record()
    assert schema.phase_seconds(record) == {"IMPORT": 5400, "TRAINING": 6 * 3600, "DEPLOYMENT": 1800}

    failed = record | {Attr.SOLUTION_VERSION_STATUS: "CREATE FAILED"}
    assert set(schema.phase_seconds(failed)) == {"IMPORT", "DEPLOYMENT"}


def test_phase_durations_of_a_training_count_only_its_mode() -> None:
    full, update = deployed_record(), deployed_record() | {Attr.TRAINING_MODE: "UPDATE"}

    assert schema.phase_durations([full, update], schema.TRAINING) == [6 * 3600, 6 * 3600]
    assert schema.phase_durations([full, update], schema.TRAINING, mode="UPDATE") == [6 * 3600]
    assert schema.phase_durations([full, update], schema.IMPORT, dataset="items") == [5400, 5400]
    assert schema.phase_durations([full], schema.IMPORT, dataset="users") == []


def test_a_record_as_json_holds_its_numbers_as_int_or_float() -> None:
    plain = schema.plain(deployed_record())

    assert plain[Attr.BASE_DATE] == 20261129 and isinstance(plain[Attr.BASE_DATE], int)
    assert plain[Attr.IMPORT_IDLE_SECONDS] == 12.5
    json.dumps(plain)  # no Decimal left
