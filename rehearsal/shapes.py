"""Configurations in a real shop's shape, built from the user's (or the example) configuration: several dataset
groups, each with up to five datasets and several campaigns, some sharing a solution. The scale rehearsal, its
tests and the benchmark's scale figures run them."""

from __future__ import annotations

import copy
from typing import Any

# The dataset types a dataset group can hold, at most one of each (Personalize's custom dataset groups).
DATASET_TYPES = ("INTERACTIONS", "ITEMS", "USERS", "ACTIONS", "ACTION_INTERACTIONS")


def shop_shape(raw: dict[str, Any], *, groups: int, datasets: int, campaigns: int) -> dict[str, Any]:
    """`raw` with `groups` dataset groups in its account and region, each with `datasets` datasets (of the
    types a group can hold) and `campaigns` campaigns; a group's campaigns share its solutions two by two
    (campaigns 1 and 2 on one solution, 3 and 4 on the next...), as a home feed and a newsletter may."""
    if not 1 <= datasets <= len(DATASET_TYPES):
        raise ValueError(f"datasets: a dataset group holds 1 to {len(DATASET_TYPES)} datasets, not {datasets}")
    if groups < 1 or campaigns < 1:
        raise ValueError("groups and campaigns: at least 1 each")
    raw = copy.deepcopy(raw)
    first_dataset, first_campaign = raw["datasets"][0], raw["campaigns"][0]
    dataset_base = first_dataset["dataset_arn"].split(":dataset/")[0]
    campaign_base = first_campaign["campaign_arn"].split(":campaign/")[0]
    bucket = first_dataset["data_location"].removeprefix("s3://").split("/", 1)[0]
    raw["datasets"] = [
        {
            "dataset_arn": f"{dataset_base}:dataset/shop-{group}/{kind}",
            "data_location": f"s3://{bucket}/shop-{group}/{kind.lower()}/base_date={{base_date}}/",
        }
        for group in range(1, groups + 1)
        for kind in DATASET_TYPES[:datasets]
    ]
    raw["campaigns"] = [
        {
            "campaign_arn": f"{campaign_base}:campaign/shop-{group}-campaign-{number}",
            "solution_arn": f"{campaign_base}:solution/shop-{group}-solution-{(number + 1) // 2}",
        }
        for group in range(1, groups + 1)
        for number in range(1, campaigns + 1)
    ]
    return raw


def solution_groups(raw: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each solution of a shop-shaped configuration with its dataset group, as LocalRefresh's `solutions`."""
    shapes = {}
    for campaign in raw["campaigns"]:
        solution = campaign["solution_arn"]
        base, name = solution.split(":solution/")
        group = name.rsplit("-solution-", 1)[0]
        shapes[solution] = {"dataset_group_arn": f"{base}:dataset-group/{group}"}
    return shapes
