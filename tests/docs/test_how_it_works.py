"""docs/HOW_IT_WORKS.md gives the history budget of the default configuration, for each kind of execution of a run,
as infra/history_budget.py counts it."""

from __future__ import annotations

from typing import Any

from tests.conftest import ROOT


def test_the_docs_give_the_history_budget_of_the_defaults(example_config: Any) -> None:
    from infra.history_budget import Phase, largest_histories

    timeouts, polling = example_config.phase_timeouts.seconds(), example_config.polling
    histories = largest_histories(
        import_=Phase(timeouts["import_seconds"], polling.import_seconds, polling.dense_seconds),
        training=Phase(timeouts["training_seconds"], polling.training_seconds, polling.dense_seconds),
        deployment=Phase(timeouts["deployment_seconds"], polling.deployment_seconds, polling.dense_seconds),
        datasets=1,
        campaigns=1,
    )
    text = " ".join((ROOT / "docs" / "HOW_IT_WORKS.md").read_text(encoding="utf-8").split())
    assert (
        f"come to {histories.refresh:,} events for the refresh, {histories.import_:,} for an import and "
        f"{histories.campaign:,} for a campaign"
    ) in text
