"""The task Lambdas' settings, read once per invocation from the settings file of their code package, and the
document the stack writes into it (settings_document): the names it holds are written here alone, for both
sides."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .environment import ALERT_TOPIC_VARIABLE, SETTINGS_FILE
from .errors import InvalidSettings
from .polling import GROWTH, MARGIN, MAX_WINDOW_POLLS, PollBounds
from .settings_file import Fields, read_settings_file, table_name

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
    """What load_settings reads, as JSON holds it: the stack writes it into the code package as SETTINGS_FILE.

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
    """The settings of this deployment: the code package's SETTINGS_FILE, the run table and alert topic that
    the environment names. Anything missing or malformed raises InvalidSettings naming the file and field."""
    return parse_settings(
        read_settings_file(SETTINGS_FILE, environ),
        table_name=table_name(environ),
        alert_topic_arn=environ.get(ALERT_TOPIC_VARIABLE) or None,
    )


def parse_settings(document: Fields, *, table_name: str, alert_topic_arn: str | None = None) -> Settings:
    """`document` (what settings_document wrote) as Settings."""
    document.only(
        "time_zone",
        "glue_job_names",
        "job_name_prefix",
        "polling",
        "phase_timeouts",
        "execution_timeout_seconds",
        "automation_guard",
        "personalize_role_arn",
        "datasets",
        "campaigns",
    )
    polling, timeouts = document.fields("polling"), document.fields("phase_timeouts")
    return Settings(
        table_name=table_name,
        time_zone=document.text("time_zone"),
        glue_job_names=document.texts("glue_job_names"),
        job_name_prefix=document.text("job_name_prefix"),
        personalize_role_arn=document.text("personalize_role_arn"),
        datasets=tuple(_dataset(dataset) for dataset in document.list_of_fields("datasets")),
        campaigns=tuple(_campaign(campaign) for campaign in document.list_of_fields("campaigns")),
        polling={key: polling.integer(key) for key in PHASE_KEYS},
        phase_timeouts={key: timeouts.integer(key) for key in PHASE_KEYS},
        execution_timeout_seconds=document.integer("execution_timeout_seconds"),
        alert_topic_arn=alert_topic_arn,
        automation_guard=document.text("automation_guard", "refuse"),
        dense_seconds=polling.integer("dense_seconds", 60),
        window_polls=polling.integer("window_polls", MAX_WINDOW_POLLS),
        margin=polling.number("window_margin_percent", MARGIN * 100) / 100,
        growth=polling.number("growth", GROWTH),
    )


def _dataset(fields: Fields) -> DatasetSettings:
    fields.only("name", "dataset_group", "dataset_arn", "data_location", "import_mode", "type_name")
    return DatasetSettings(
        name=fields.text("name"),
        dataset_group=fields.text("dataset_group"),
        dataset_arn=fields.text("dataset_arn"),
        data_location=fields.text("data_location"),
        import_mode=fields.text("import_mode"),
        type_name=fields.text("type_name", ""),
    )


def _campaign(fields: Fields) -> CampaignSettings:
    fields.only("campaign_name", "campaign_arn", "solution_arn", "solution_name", "training", "quality_gate")
    training = fields.fields("training", {})
    training.only("mode", "full_every_days", "full_every_runs")
    gate = fields.optional_fields("quality_gate")
    return CampaignSettings(
        campaign_name=fields.text("campaign_name"),
        campaign_arn=fields.text("campaign_arn"),
        solution_arn=fields.text("solution_arn"),
        solution_name=fields.text("solution_name"),
        training=TrainingPolicy(
            training.text("mode", "FULL"),
            training.optional_integer("full_every_days"),
            training.optional_integer("full_every_runs"),
        ),
        quality_gate=_gate(gate) if gate else None,
    )


def _gate(fields: Fields) -> QualityGate:
    fields.only("rules", "without_metrics")
    rules = []
    for rule in fields.list_of_fields("rules"):
        rule.only("metric", "max_drop_percent", "min_value")
        rules.append(
            MetricRule(rule.text("metric"), rule.optional_number("max_drop_percent"), rule.optional_number("min_value"))
        )
    return QualityGate(tuple(rules), fields.text("without_metrics"))
