"""docs/STAGE_EVENTS.md shows the events a refresh puts: the whole event of a claimed run, the `detail` of each
announcement on the way to a deployment and of a duplicate, the fields they carry, and a consumer's rule that
matches only the deployment. Checked against the events of one refresh (and its duplicate) on the local engine.

In the page, a `…` in a string stands for what varies or is left out (an execution's random name, an ARN)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from moto.events.models import EventPattern

from infra.config import RefreshConfig
from local_engine.refresh import LocalRefresh
from tests.conftest import ROOT

PAGE = (ROOT / "docs" / "STAGE_EVENTS.md").read_text(encoding="utf-8")
CAMPAIGN = "shop-home-recommendations"


def json_samples() -> list[str]:
    return re.findall(r"```json\n(.*?)```", PAGE, re.DOTALL)


def documented_rule_pattern() -> str:
    """The consumer's rule pattern the page gives: its last JSON sample."""
    return json_samples()[-1]


def fields_table() -> set[str]:
    """The `detail` fields of the page's first table."""
    table = PAGE[PAGE.index("| detail field |") :].split("\n\n", 1)[0]
    return {field for row in table.splitlines()[2:] for field in re.findall(r"`(\w+)`", row.split("|")[1])}


def like(documented: Any, actual: Any) -> bool:
    """`actual` is what `documented` shows: equal, where a `…` in a documented string stands for anything."""
    if isinstance(documented, str) and isinstance(actual, str):
        return re.fullmatch(".*".join(map(re.escape, documented.split("…"))), actual, re.DOTALL) is not None
    if isinstance(documented, dict) and isinstance(actual, dict):
        return documented.keys() == actual.keys() and all(like(documented[key], actual[key]) for key in documented)
    if isinstance(documented, list) and isinstance(actual, list):
        return len(documented) == len(actual) and all(map(like, documented, actual))
    return bool(documented == actual)


@pytest.fixture(scope="module")
def refresh(example_template: Any, example_config: RefreshConfig) -> Iterator[LocalRefresh]:
    """One refresh of the example to its deployment, then its Glue event delivered again (a duplicate)."""
    with LocalRefresh(example_template.to_json(), example_config) as local:
        event = local.glue_event()
        (first,) = local.put_glue_event(event)
        assert local.wait(first)["status"] == "SUCCEEDED"
        (duplicate,) = local.put_glue_event(event)
        local.wait(duplicate)
        yield local


def test_the_whole_event_shown_is_the_claim_of_a_run(refresh: LocalRefresh) -> None:
    documented = json.loads(json_samples()[0])
    claimed = refresh.stage_events()[0]

    assert like(documented, {key: claimed[key] for key in documented}), json.dumps(claimed, indent=2)


def test_each_announcement_of_a_refresh_and_a_duplicate_is_shown_with_its_reason(refresh: LocalRefresh) -> None:
    events = refresh.stage_events()
    assert [e["detail"]["decision"] for e in events][-1] == "skip", "the duplicate was announced"

    missing = [
        shown
        for event in events
        if (
            shown := ", ".join(
                f'"{key}": {json.dumps(event["detail"][key])}' for key in ("phase", "status", "decision", "reason")
            )
        )
        not in PAGE
    ]
    assert missing == [], "docs/STAGE_EVENTS.md does not show these details:\n" + "\n".join(missing)


def test_every_field_an_event_carries_is_in_the_fields_table(refresh: LocalRefresh) -> None:
    carried = {field for event in refresh.stage_events() for field in event["detail"]}
    assert {"campaigns", "phase", "outcome", "skipped"} <= carried

    assert carried - fields_table() == set()


def test_the_documented_rule_pattern_matches_only_the_deployed_version(refresh: LocalRefresh) -> None:
    pattern = EventPattern.load(documented_rule_pattern())
    matched = [e for e in refresh.stage_events() if pattern.matches_event(e)]
    assert [(e["detail"]["phase"], e["detail"]["status"], e["detail"]["decision"]) for e in matched] == [
        ("DONE", "SUCCEEDED", "serve")
    ]
    assert matched[0]["detail"]["solution_version_arn"] == refresh.serving_version(CAMPAIGN)
