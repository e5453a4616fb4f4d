"""A shop's shape with the default settings refreshes: several dataset groups, their datasets past Personalize's
five concurrent imports and campaigns sharing solutions. No execution's history nears the quota, and the
quotas are waited for, not hit. The short version of `python -m bench scale`, which rehearses 5 groups of 5
datasets and 5 campaigns."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from infra import service_limits
from infra.config import parse_config
from local_engine.refresh import LocalRefresh
from local_engine.synth import synthesize
from rehearsal.shapes import shop_shape, solution_groups
from tests.conftest import example_raw

HISTORY_BUDGET = 20_000


def largest_state(events: list[dict[str, Any]]) -> int:
    """The largest input or output, in UTF-8 bytes, of an execution's history events."""
    sizes = [
        len(details[field].encode())
        for event in events
        for details in event.values()
        if isinstance(details, dict)
        for field in ("input", "output")
        if isinstance(details.get(field), str)
    ]
    return max(sizes)


@pytest.fixture(scope="module")
def shop() -> tuple[dict[str, Any], Any, dict[str, Any]]:
    raw = shop_shape(example_raw(), groups=2, datasets=3, campaigns=3)
    config = parse_config(raw)
    return synthesize(config).to_json(), config, raw


def test_two_groups_of_three_datasets_and_three_campaigns_refresh_with_the_defaults(shop: Any) -> None:
    template, config, raw = shop
    with LocalRefresh(template, config, solutions=solution_groups(raw)) as refresh:
        (arn,) = refresh.put_glue_event()
        ended = refresh.wait(arn)

        assert ended["status"] == "SUCCEEDED", ended.get("cause")
        records = refresh.run_records()
        assert len(records) == 6
        assert {r["run_status"] for r in records} == {"SUCCEEDED"}
        executions = [arn, *refresh.children(refresh.execution_history(arn))]
        assert len(executions) == 1 + 6 + 6  # the run, an import per dataset, a refresh per campaign
        largest = max(len(refresh.execution_history(e)) for e in executions)
        assert largest < HISTORY_BUDGET
        calls = Counter((c.operation, c.error_code) for c in refresh.personalize_calls)
        # Five imports at a time: the sixth waited for room, and every dataset was imported once.
        assert calls[("CreateDatasetImportJob", "LimitExceededException")] > 0
        assert calls[("CreateDatasetImportJob", None)] == 6
        # Two campaigns on one solution train it once: 4 solutions, 4 versions.
        assert calls[("CreateSolutionVersion", None)] == 4
        assert len({r["campaign_execution_arn"] for r in records}) == 6
        # The refresh's state grows with each dataset and campaign it carries: at the size this run measures
        # per dataset and campaign (its fixed part counted in, to spare), the most one stack holds (100 of each)
        # stays under four fifths of Step Functions' 256 KiB.
        per_item = largest_state(refresh.execution_history(arn)) / (len(config.datasets) + len(config.campaigns))
        most = service_limits.DATASETS_PER_STACK + service_limits.TRANSACTION_ITEMS.maximum
        assert per_item * most < 0.8 * service_limits.STATE_PAYLOAD.maximum
