"""Offline metrics GetSolutionMetrics derives for a solution version when a
test has not set them: which metrics depends on the solution's recipe and
configuration, as "Evaluating an Amazon Personalize solution version with
metrics" (Metric definitions) describes; the values are plausible and stable,
seeded by the version's ARN."""

from __future__ import annotations

import hashlib

_RECIPE_PREFIX = "arn:aws:personalize:::recipe/"
# "Recipes that feature item exploration, such as User-Personalization, have
# higher coverage than those that don't, such as Similar-Items" (Metric
# definitions, coverage). Popularity-Count "recommends the top K most popular
# items" to everyone (same page), so it covers next to nothing of a catalog.
_EXPLORATION_RECIPES = frozenset({"aws-user-personalization"})
_POPULARITY_RECIPES = frozenset({"aws-popularity-count"})
# (lowest, width) of the coverage each kind of recipe reports.
_COVERAGE_RANGES = {"exploration": (0.3, 0.3), "popularity": (0.001, 0.009), "other": (0.1, 0.2)}
# Next-Best-Action (PERSONALIZED_ACTIONS) gets "a precision metric instead of
# precision at K", and recall; "Amazon Personalize doesn't generate [mean
# reciprocal rank at 25] for PERSONALIZED_ACTIONS or USER_SEGMENTATION
# recipes" (Metric definitions). The page also names an AUC for it and
# "hit"/"recall at K" for USER_SEGMENTATION without spelling their keys, so
# the emulator does not make them up: a test that needs them sets them with
# set_metrics. Trending-Now's "trend prediction accuracy" likewise.
_PERSONALIZED_ACTIONS_RECIPES = frozenset({"aws-next-best-action"})
_USER_SEGMENTATION_RECIPES = frozenset({"aws-item-affinity", "aws-item-attribute-affinity"})


def derived_metrics(version_arn: str, recipe_arn: str, *, optimization_objective: bool) -> dict[str, float]:
    """The metrics a FULL (or automatic) version of a solution with this
    recipe reports. ``optimization_objective``: the solution was created with
    one, for which "Amazon Personalize generates an average_rewards_at_k
    metric" (Metric definitions)."""
    u = _uniform(version_arn)
    recipe = recipe_arn.removeprefix(_RECIPE_PREFIX)
    metrics = {"coverage": _coverage(recipe, u[0])}
    if recipe in _USER_SEGMENTATION_RECIPES:
        return metrics
    ndcg_25 = 0.25 + 0.2 * u[1]
    metrics |= {
        "normalized_discounted_cumulative_gain_at_5": round(ndcg_25 * 0.8, 4),
        "normalized_discounted_cumulative_gain_at_10": round(ndcg_25 * 0.9, 4),
        "normalized_discounted_cumulative_gain_at_25": round(ndcg_25, 4),
    }
    if recipe in _PERSONALIZED_ACTIONS_RECIPES:
        metrics |= {"precision": round(0.3 + 0.3 * u[2], 4), "recall": round(0.2 + 0.3 * u[3], 4)}
    else:
        metrics |= _item_ranking_metrics(u[2], u[3])
    if optimization_objective:
        metrics["average_rewards_at_k"] = round(0.4 + 0.5 * u[4], 4)
    return metrics


def _item_ranking_metrics(u_precision: float, u_rank: float) -> dict[str, float]:
    # The usual shape: precision falls as k grows.
    precision_5 = 0.04 + 0.08 * u_precision
    return {
        "mean_reciprocal_rank_at_25": round(0.12 + 0.2 * u_rank, 4),
        "precision_at_5": round(precision_5, 4),
        "precision_at_10": round(precision_5 * 0.85, 4),
        "precision_at_25": round(precision_5 * 0.65, 4),
    }


def _coverage(recipe: str, u: float) -> float:
    if recipe in _EXPLORATION_RECIPES:
        kind = "exploration"
    elif recipe in _POPULARITY_RECIPES:
        kind = "popularity"
    else:
        kind = "other"
    low, span = _COVERAGE_RANGES[kind]
    return round(low + span * u, 4)


def _uniform(seed: str) -> list[float]:
    return [b / 255 for b in hashlib.sha256(seed.encode()).digest()[:5]]
