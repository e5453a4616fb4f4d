"""The refresh's decisions, as pure functions of what S3, Personalize and the configuration say.

Whether each dataset is imported (and how) or skipped, which training mode a run uses, and whether a new
solution version may replace the one its campaign serves. Each decision carries its reason, which the
run record keeps and the alert quotes.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .data import DataSnapshot
from .errors import ImportRefused, QualityGateMisconfigured
from .settings import QualityGate, TrainingPolicy

# "The UPDATE option can only be used when ... the input solution was trained with the
# User-Personalization recipe or the legacy HRNN-Coldstart recipe" (API reference, CreateSolutionVersion,
# trainingMode). User-Personalization-v2 is another recipe and has no UPDATE.
UPDATE_RECIPES = frozenset(
    {"arn:aws:personalize:::recipe/aws-user-personalization", "arn:aws:personalize:::recipe/aws-hrnn-coldstart"}
)
# A weekly FULL training is due when the last one is a week old give or take this much: the moment a run
# reaches training moves with how long its import took.
FULL_DUE_TOLERANCE = timedelta(hours=12)
# "Maximum size of data to import ... FULL import mode: 100 GB; INCREMENTAL import mode: 1 GB" (Amazon
# Personalize endpoints and quotas). Taken as 10**9 bytes, the stricter reading.
FULL_IMPORT_MAX_BYTES = 100 * 10**9
INCREMENTAL_IMPORT_MAX_BYTES = 1 * 10**9


@dataclass(frozen=True)
class Decision:
    choice: str
    reason: str


@dataclass(frozen=True)
class ImportPlan:
    """What a run does with one dataset: "import" it in `mode`, or "skip" it; why; what S3 held."""

    dataset_name: str
    action: str
    mode: str
    reason: str
    data: DataSnapshot | None


def import_plan(
    dataset_name: str,
    configured_mode: str,
    data: DataSnapshot | None,
    *,
    imported: str | None,
    has_active_import: bool,
    force: bool,
) -> ImportPlan:
    """Skip a dataset whose data has the fingerprint of its last ACTIVE (or skipped) import, `imported`;
    otherwise import it in the configured mode where Personalize allows it. Refused, before any job:
    an empty location, data over the FULL limit, and INCREMENTAL data over its 1 GB limit (falling back
    to FULL would replace the whole dataset with what is likely only the new records)."""

    def plan(action: str, mode: str, reason: str) -> ImportPlan:
        return ImportPlan(dataset_name, action, mode, reason, data)

    incremental = configured_mode == "INCREMENTAL"
    fallback = "no earlier ACTIVE import into the dataset, which INCREMENTAL needs: FULL"
    if data is None:
        if incremental and not has_active_import:
            return plan("import", "FULL", fallback)
        return plan("import", configured_mode, f"{configured_mode} as configured; the data location was not read")
    if not force and imported == data.fingerprint:
        return plan("skip", "", f"data unchanged since the last import ({_size(data)})")
    if data.objects == 0:
        raise ImportRefused(f"{dataset_name}: no data under the location: nothing to import")
    if data.bytes > FULL_IMPORT_MAX_BYTES:
        raise ImportRefused(f"{dataset_name}: {_size(data)} is over Personalize's 100 GB limit for an import job")
    if incremental and not has_active_import:
        return plan("import", "FULL", fallback)
    if incremental and data.bytes > INCREMENTAL_IMPORT_MAX_BYTES:
        raise ImportRefused(
            f"{dataset_name}: {_size(data)} is over Personalize's 1 GB limit for an INCREMENTAL import "
            "(a FULL import would replace the whole dataset with it)"
        )
    forced = " (forced)" if force and imported == data.fingerprint else ""
    return plan("import", configured_mode, f"{configured_mode} as configured{forced} ({_size(data)})")


def training_mode(
    policy: TrainingPolicy,
    recipe_arn: str,
    versions: Sequence[Mapping[str, Any]],
    now: datetime,
    held_back: Collection[str] = (),
) -> Decision:
    """FULL or UPDATE for the next training, from the policy, the solution's recipe and its versions
    (ListSolutionVersions summaries: status, trainingMode, creationDateTime). A FULL version the quality
    gate held back is no base for an UPDATE (which reports no metrics and would be deployed unchecked):
    FULL stays due until one passes."""
    if policy.mode == "FULL":
        return Decision("FULL", "the campaign's training policy is FULL")
    if recipe_arn not in UPDATE_RECIPES:
        return Decision("FULL", f"the solution's recipe {recipe_arn} cannot UPDATE (only User-Personalization can)")
    active = [v for v in versions if v.get("status") == "ACTIVE"]
    fulls = good_full_versions(versions, held_back)
    if not fulls:
        return Decision("FULL", "the solution has no ACTIVE FULL version to UPDATE")
    last_full = max(fulls, key=lambda v: v["creationDateTime"])
    since = last_full["creationDateTime"]
    if policy.full_every_days is not None:
        age = now - since
        if age + FULL_DUE_TOLERANCE >= timedelta(days=policy.full_every_days):
            return Decision(
                "FULL",
                f"the last FULL version is {_days(age)} old: a FULL training every {policy.full_every_days} days",
            )
    if policy.full_every_runs is not None:
        updates = sum(1 for v in active if v.get("trainingMode") == "UPDATE" and v["creationDateTime"] > since)
        if updates + 1 >= policy.full_every_runs:
            return Decision(
                "FULL",
                f"{updates} UPDATE versions since the last FULL one: a FULL training every "
                f"{policy.full_every_runs} trainings",
            )
    return Decision("UPDATE", f"UPDATE on top of the FULL version {last_full['solutionVersionArn']}")


def good_full_versions(versions: Sequence[Mapping[str, Any]], held_back: Collection[str]) -> list[Mapping[str, Any]]:
    """The solution's ACTIVE FULL versions the quality gate did not hold back, newest first."""
    fulls = [
        v
        for v in versions
        if v.get("status") == "ACTIVE"
        and v.get("trainingMode", "FULL") == "FULL"
        and v["solutionVersionArn"] not in held_back
    ]
    return sorted(fulls, key=lambda v: v["creationDateTime"], reverse=True)


def quality_gate(gate: QualityGate, new: Mapping[str, float], serving: Mapping[str, float]) -> Decision:
    """ "deploy" or "hold" a new version, by the gate's rules, from its metrics and the serving version's.

    A metric the new version does not report while it reports others is a configuration error (metric
    names differ by recipe), raised rather than decided. A version that reports no metrics at all (an
    UPDATE version may not have any) is decided by `without_metrics`. A drop is measured against the
    serving version; when that one lacks the metric, only the floor applies."""
    if not new:
        verb = "deployed" if gate.without_metrics == "deploy" else "held back"
        return Decision(gate.without_metrics, f"the new version reports no metrics; {verb} (without_metrics)")
    missing = [rule.metric for rule in gate.rules if rule.metric not in new]
    if missing:
        raise QualityGateMisconfigured(
            f"quality_gate: the solution's versions do not report {', '.join(missing)}; "
            f"they report {', '.join(sorted(new))}"
        )
    broken: list[str] = []
    kept: list[str] = []
    for rule in gate.rules:
        value, baseline = new[rule.metric], serving.get(rule.metric)
        if rule.min_value is not None and _beyond(rule.min_value, value):
            broken.append(f"{rule.metric} {value:.4g} is under its floor {rule.min_value:.4g}")
        elif rule.max_drop_percent is not None and baseline:
            drop = (baseline - value) / baseline * 100
            (broken if _beyond(drop, rule.max_drop_percent) else kept).append(
                f"{rule.metric} {baseline:.4g} -> {value:.4g} ({-drop:+.1f} %, at most -{rule.max_drop_percent:g} %)"
            )
        else:
            kept.append(f"{rule.metric} {value:.4g}")
    if broken:
        return Decision("hold", "; ".join(broken))
    return Decision("deploy", "; ".join(kept))


def _beyond(amount: float, limit: float) -> bool:
    """`amount` is over `limit` by more than floating point's rounding: a drop computed as 2.0000000000000018 % is
    within "at most 2 %", as the user who wrote the rule means."""
    return amount > limit and not math.isclose(amount, limit, rel_tol=1e-9, abs_tol=1e-12)


def _size(data: DataSnapshot) -> str:
    return f"{data.objects} objects, {data.bytes / 10**6:,.1f} MB"


def _days(age: timedelta) -> str:
    return f"{age.total_seconds() / 86400:.1f} days"
