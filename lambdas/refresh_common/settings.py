"""The task Lambdas' settings, read once per invocation from the environment the stack sets, and the document
the stack sets it from (settings_document): the names it holds are written here alone, for both sides."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .environment import ALERT_TOPIC_VARIABLE, SETTINGS_VARIABLE, TABLE_VARIABLE
from .errors import InvalidSettings
from .polling import GROWTH, MARGIN, MAX_WINDOW_POLLS, PollBounds

PHASE_KEYS = ("import_seconds", "training_seconds", "deployment_seconds")


@dataclass(frozen=True)
class DatasetSettings:
    # How the run record, the stage events and the plans name it: its type ("interactions"), or, where datasets
    # of several dataset groups have that type, the group and the type ("shop-recs.interactions").
    name: str
    dataset_group: str
    dataset_arn: str
    data_location: str
    import_mode: str
    # Its type, as its import jobs' names spell it (PREFIX-GROUP-TYPE-YYYYMMDD).
    type_name: str = ""

    @property
    def job_part(self) -> str:
        return self.type_name or self.name


@dataclass(frozen=True)
class TrainingPolicy:
    mode: str = "FULL"  # FULL or UPDATE
    full_every_days: int | None = None
    full_every_runs: int | None = None


@dataclass(frozen=True)
class MetricRule:
    metric: str
    max_drop_percent: float | None = None
    min_value: float | None = None


@dataclass(frozen=True)
class QualityGate:
    rules: tuple[MetricRule, ...]
    without_metrics: str = "deploy"  # or "hold"


@dataclass(frozen=True)
class CampaignSettings:
    campaign_name: str
    campaign_arn: str
    solution_arn: str
    solution_name: str
    training: TrainingPolicy = TrainingPolicy()
    quality_gate: QualityGate | None = None


@dataclass(frozen=True)
class Settings:
    table_name: str
    time_zone: str
    glue_job_names: tuple[str, ...]
    job_name_prefix: str
    personalize_role_arn: str
    datasets: tuple[DatasetSettings, ...]
    campaigns: tuple[CampaignSettings, ...]
    # Seconds between two describe calls per phase: import_seconds, training_seconds, deployment_seconds.
    polling: dict[str, int]
    # Seconds a phase may take before it is stopped or given up, under the same keys.
    phase_timeouts: dict[str, int]
    # The state machine's own timeout: a run RUNNING for longer has ended unrecorded.
    execution_timeout_seconds: int
    # Where the function that claims, imports and closes runs sends its own alerts (only that one has one).
    alert_topic_arn: str | None = None
    # "refuse" or "warn" when Personalize's own automation is on for a campaign.
    automation_guard: str = "refuse"
    # The polling planner's own bounds: seconds between polls around a phase's expected end (the
    # `polling` values are the longest waits), polls in the expected window, its margin, the growth.
    dense_seconds: int = 60
    window_polls: int = MAX_WINDOW_POLLS
    margin: float = MARGIN
    growth: float = GROWTH

    def poll_bounds(self, phase_key: str) -> PollBounds:
        """The planner's bounds for one phase (`import_seconds`, `training_seconds`, `deployment_seconds`)."""
        longest = self.polling[phase_key]
        dense = min(self.dense_seconds, longest)
        return PollBounds(dense, longest, self.phase_timeouts[phase_key], self.window_polls, self.margin, self.growth)

    @property
    def region(self) -> str:
        return self.datasets[0].dataset_arn.split(":")[3]

    @property
    def account(self) -> str:
        return self.datasets[0].dataset_arn.split(":")[4]

    def campaign(self, name: str) -> CampaignSettings:
        """The configured campaign called `name`; anything else is refused."""
        for campaign in self.campaigns:
            if campaign.campaign_name == name:
                return campaign
        raise InvalidSettings(f"campaign {name!r} is not configured for this stack")


def _campaign(raw: dict[str, Any]) -> CampaignSettings:
    gate = raw.get("quality_gate")
    return CampaignSettings(
        campaign_name=raw["campaign_name"],
        campaign_arn=raw["campaign_arn"],
        solution_arn=raw["solution_arn"],
        solution_name=raw["solution_name"],
        training=TrainingPolicy(**raw.get("training", {})),
        quality_gate=(
            QualityGate(tuple(MetricRule(**rule) for rule in gate["rules"]), gate["without_metrics"]) if gate else None
        ),
    )


def settings_document(
    *,
    time_zone: str,
    glue_job_names: Sequence[str],
    job_name_prefix: str,
    polling: Mapping[str, float],
    phase_timeouts: Mapping[str, int],
    execution_timeout_seconds: int,
    automation_guard: str,
    personalize_role_arn: str,
    datasets: Sequence[DatasetSettings],
    campaigns: Sequence[CampaignSettings],
) -> dict[str, Any]:
    """What load_settings reads, as JSON holds it: the stack puts it in SETTINGS_VARIABLE.

    `polling` is the configuration's polling section as it stands (each phase's longest wait under PHASE_KEYS,
    and the planner's bounds); `phase_timeouts` gives each phase's limit in seconds under PHASE_KEYS.
    """
    return {
        "time_zone": time_zone,
        "glue_job_names": list(glue_job_names),
        "job_name_prefix": job_name_prefix,
        "polling": dict(polling),
        "phase_timeouts": dict(phase_timeouts),
        "execution_timeout_seconds": execution_timeout_seconds,
        "automation_guard": automation_guard,
        "personalize_role_arn": personalize_role_arn,
        "datasets": [asdict(dataset) for dataset in datasets],
        "campaigns": [asdict(campaign) for campaign in campaigns],
    }


def load_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    try:
        raw = json.loads(environ[SETTINGS_VARIABLE])
        return Settings(
            table_name=environ[TABLE_VARIABLE],
            time_zone=raw["time_zone"],
            glue_job_names=tuple(raw["glue_job_names"]),
            job_name_prefix=raw["job_name_prefix"],
            personalize_role_arn=raw["personalize_role_arn"],
            datasets=tuple(DatasetSettings(**d) for d in raw["datasets"]),
            campaigns=tuple(_campaign(c) for c in raw["campaigns"]),
            polling={k: int(raw["polling"][k]) for k in PHASE_KEYS},
            phase_timeouts={k: int(raw["phase_timeouts"][k]) for k in PHASE_KEYS},
            execution_timeout_seconds=int(raw["execution_timeout_seconds"]),
            alert_topic_arn=environ.get(ALERT_TOPIC_VARIABLE) or None,
            automation_guard=raw.get("automation_guard", "refuse"),
            dense_seconds=int(raw["polling"].get("dense_seconds", 60)),
            window_polls=int(raw["polling"].get("window_polls", MAX_WINDOW_POLLS)),
            margin=float(raw["polling"].get("window_margin_percent", MARGIN * 100)) / 100,
            growth=float(raw["polling"].get("growth", GROWTH)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidSettings(
            f"environment variables {SETTINGS_VARIABLE}/{TABLE_VARIABLE} are invalid: {exc!r}"
        ) from exc
