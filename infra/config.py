"""The refresh configuration: one typed, validated model that `app.py` loads.

Every field is checked before any construct is built, so a bad value fails
`cdk synth` with a message naming the field and what was expected.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from . import history_budget

# Personalize names: letters, digits, hyphen and underscore, 63 characters at most.
JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]*$")
JOB_NAME_MAX = 63
BASE_DATE_SUFFIX_LEN = len("-YYYYMMDD-NN")
JOB_NAME_PREFIX_MAX = 20

_PERSONALIZE_ARN = r"^arn:aws[a-z-]*:personalize:[a-z0-9-]+:\d{12}:"
_DATASET_ARN = re.compile(_PERSONALIZE_ARN + r"dataset/(?P<group>[a-zA-Z0-9\-_]+)/(?P<type>[A-Z_]+)$")
_SOLUTION_ARN = re.compile(_PERSONALIZE_ARN + r"solution/(?P<name>[a-zA-Z0-9][a-zA-Z0-9\-_]*)$")
_CAMPAIGN_ARN = re.compile(_PERSONALIZE_ARN + r"campaign/(?P<name>[a-zA-Z0-9][a-zA-Z0-9\-_]*)$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_GLUE_JOB_NAME = re.compile(r"^[\w.\- ]{1,255}$")
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_S3_URL = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/(?P<key>.*)$")
_JOB_NAME_PREFIX = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-]*$")
_METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,255}$")
# A model-level message that starts by naming its field, e.g. "kms_key_arn: ...".
_NAMES_ITS_FIELD = re.compile(r"^[a-z_][\w.]*(?: and [a-z_][\w.]*)?: ")


class ConfigError(ValueError):
    """The configuration is invalid: one line per problem, each naming the file and the field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {problem}" for problem in problems))


def _matching(pattern: re.Pattern[str], expected: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"expected {expected}, got {value!r}")
        return value

    return AfterValidator(check)


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"expected an IANA time zone such as 'Asia/Seoul' or 'UTC', got {value!r}") from None
    return value


def _job_name_prefix(value: str) -> str:
    if not _JOB_NAME_PREFIX.match(value):
        raise ValueError(f"expected letters, digits and hyphens, starting with a letter or digit, got {value!r}")
    if len(value) > JOB_NAME_PREFIX_MAX:
        raise ValueError(f"at most {JOB_NAME_PREFIX_MAX} characters, got {len(value)} ({value!r})")
    return value


def _s3_location(value: str) -> str:
    if not _S3_URL.match(value):
        raise ValueError(f"expected an s3:// URL such as 's3://bucket/prefix/{{base_date}}/', got {value!r}")
    leftover = value.replace("{base_date}", "")
    if "{" in leftover or "}" in leftover:
        raise ValueError(f"the only placeholder allowed is {{base_date}}, got {value!r}")
    return value


DatasetArn = Annotated[
    str, _matching(_DATASET_ARN, "a Personalize dataset ARN (arn:aws:personalize:REGION:ACCOUNT:dataset/GROUP/TYPE)")
]
SolutionArn = Annotated[
    str, _matching(_SOLUTION_ARN, "a Personalize solution ARN (arn:aws:personalize:REGION:ACCOUNT:solution/NAME)")
]
CampaignArn = Annotated[
    str, _matching(_CAMPAIGN_ARN, "a Personalize campaign ARN (arn:aws:personalize:REGION:ACCOUNT:campaign/NAME)")
]
RoleArn = Annotated[str, _matching(_ROLE_ARN, "an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")]
GlueJobName = Annotated[str, _matching(_GLUE_JOB_NAME, "a Glue job name (letters, digits, '_-. ', 1-255 chars)")]
KmsKeyArn = Annotated[str, _matching(_KMS_KEY_ARN, "a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID)")]
EmailAddress = Annotated[str, _matching(_EMAIL, "an e-mail address such as ops@example.com")]
S3Location = Annotated[str, AfterValidator(_s3_location)]
JobNamePrefix = Annotated[str, AfterValidator(_job_name_prefix)]
TimeZoneName = Annotated[str, AfterValidator(_time_zone)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Dataset(_Strict):
    """One Personalize dataset re-imported on every refresh."""

    dataset_arn: DatasetArn
    data_location: S3Location
    import_mode: Literal["FULL", "INCREMENTAL"] = "FULL"

    @property
    def dataset_group(self) -> str:
        return _DATASET_ARN.match(self.dataset_arn)["group"]  # type: ignore[index]

    @property
    def name(self) -> str:
        """Short name used in job names and the run record, e.g. 'interactions'."""
        return _DATASET_ARN.match(self.dataset_arn)["type"].lower()  # type: ignore[index]


class TrainingPolicy(_Strict):
    """How a refresh trains the campaign's solution: FULL every time, or UPDATE (new items only, on top
    of the latest ACTIVE FULL version) with a FULL training every `full_every_days` days or every
    `full_every_runs` trainings. UPDATE falls back to FULL, with the reason recorded, where Personalize
    cannot update (a recipe other than aws-user-personalization or aws-hrnn-coldstart, no FULL version)."""

    mode: Literal["FULL", "UPDATE"] = "FULL"
    full_every_days: int | None = Field(None, ge=1, le=365)
    full_every_runs: int | None = Field(None, ge=2, le=100)

    @model_validator(mode="after")
    def _consistent(self) -> TrainingPolicy:
        every = [name for name in ("full_every_days", "full_every_runs") if getattr(self, name) is not None]
        if every and self.mode != "UPDATE":
            raise ValueError(f"{every[0]}: only with mode UPDATE (a FULL training runs every time already)")
        if len(every) > 1:
            raise ValueError("full_every_days and full_every_runs: set one of them, not both")
        return self


class MetricRule(_Strict):
    """One offline metric the new version must keep: it may not drop by more than `max_drop_percent`
    against the version the campaign serves, nor fall below `min_value`."""

    metric: Annotated[str, _matching(_METRIC_NAME, "a Personalize metric name such as 'precision_at_25'")]
    max_drop_percent: float | None = Field(None, ge=0, le=100)
    min_value: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _bounded(self) -> MetricRule:
        if self.max_drop_percent is None and self.min_value is None:
            raise ValueError(f"{self.metric}: give max_drop_percent, min_value or both")
        return self


class QualityGate(_Strict):
    """Checked before a new version is deployed: a version that breaks a rule is not deployed (the run
    is GATED and alerted). A new version that reports no metrics at all (an UPDATE version may not) is
    deployed or held back as `without_metrics` says."""

    rules: list[MetricRule] = Field(min_length=1)
    without_metrics: Literal["deploy", "hold"] = "deploy"


class Campaign(_Strict):
    """One campaign retrained from its solution and redeployed on every refresh."""

    campaign_arn: CampaignArn
    solution_arn: SolutionArn
    training: TrainingPolicy = TrainingPolicy()
    quality_gate: QualityGate | None = None

    @property
    def name(self) -> str:
        return _CAMPAIGN_ARN.match(self.campaign_arn)["name"]  # type: ignore[index]

    @property
    def solution_name(self) -> str:
        return _SOLUTION_ARN.match(self.solution_arn)["name"]  # type: ignore[index]


class Polling(_Strict):
    """How each phase is polled: planned from how long the same phase took in earlier successful runs
    (lambdas/refresh_common/polling.py). `dense_seconds` apart around the expected end, and never more
    than the phase's own `*_seconds` apart."""

    dense_seconds: int = Field(60, ge=10, le=3600)
    window_polls: int = Field(30, ge=1, le=200)
    window_margin_percent: float = Field(5, ge=0, le=100)
    growth: float = Field(1.25, ge=1.01, le=4)
    import_seconds: int = Field(300, ge=10, le=3600)
    training_seconds: int = Field(300, ge=10, le=3600)
    deployment_seconds: int = Field(60, ge=10, le=3600)

    @model_validator(mode="after")
    def _dense_is_the_shortest(self) -> Polling:
        for name in ("import_seconds", "training_seconds", "deployment_seconds"):
            if getattr(self, name) < self.dense_seconds:
                raise ValueError(f"{name}: the longest wait of a phase, at least dense_seconds ({self.dense_seconds})")
        return self


class PhaseTimeouts(_Strict):
    """Hours each phase may take: a training over its limit is stopped; an import or a campaign
    update, which cannot be stopped, is given up. Either way the run is recorded TIMED_OUT. The
    state machine's own timeout (`execution_timeout_hours`) stays the backstop behind them."""

    import_hours: float = Field(6, gt=0, le=72)
    training_hours: float = Field(24, gt=0, le=24 * 7)
    deployment_hours: float = Field(3, gt=0, le=24)

    def seconds(self) -> dict[str, int]:
        return {
            "import_seconds": round(self.import_hours * 3600),
            "training_seconds": round(self.training_hours * 3600),
            "deployment_seconds": round(self.deployment_hours * 3600),
        }


class RefreshConfig(_Strict):
    """Everything one deployment of the refresh pipeline needs to know."""

    glue_job_names: list[GlueJobName] = Field(min_length=1)
    time_zone: TimeZoneName = "UTC"
    personalize_role_arn: RoleArn
    datasets: list[Dataset] = Field(min_length=1)
    campaigns: list[Campaign] = Field(min_length=1)
    alert_email: EmailAddress | None = None
    # Customer-managed key for the table, topic, queue, logs and Lambda environment; AWS-managed keys when unset.
    kms_key_arn: KmsKeyArn | None = None
    job_name_prefix: JobNamePrefix = "refresh"
    polling: Polling = Polling()
    phase_timeouts: PhaseTimeouts = PhaseTimeouts()
    # What a run does when Personalize's own automation is on for a campaign (automatic training of its
    # solution, or a campaign that follows the solution's latest version): refuse to run, or warn and run.
    automation_guard: Literal["refuse", "warn"] = "refuse"
    execution_timeout_hours: int = Field(36, ge=1, le=24 * 7)
    log_retention_days: Literal[30, 60, 90, 180, 365, 731] = 365
    stale_after_days: int = Field(8, ge=1, le=90)
    """Days a campaign may go without a successful refresh before its staleness alarm fires. 8 suits a
    weekly export: a week's refresh may end a day late before anyone is told. Only a SUCCEEDED run counts
    as a refresh (not GATED nor SKIPPED); see docs/MONITORING.md."""

    @model_validator(mode="after")
    def _consistent(self) -> RefreshConfig:
        _unique("datasets", [d.dataset_arn for d in self.datasets])
        _unique("campaigns", [c.name for c in self.campaigns])
        _unique("glue_job_names", self.glue_job_names)
        regions = {arn.split(":")[3] for arn in self.personalize_arns}
        accounts = {arn.split(":")[4] for arn in self.personalize_arns}
        if len(regions) > 1 or len(accounts) > 1:
            raise ValueError(
                f"datasets and campaigns: all Personalize ARNs must be in one account and region, "
                f"got accounts {sorted(accounts)} and regions {sorted(regions)}"
            )
        role_account = self.personalize_role_arn.split(":")[4]
        if role_account not in accounts:
            raise ValueError(
                f"personalize_role_arn: the role must be in the account of the Personalize resources "
                f"({', '.join(sorted(accounts))}), got {role_account}: Personalize cannot use a role of another account"
            )
        if self.kms_key_arn and self.kms_key_arn.split(":")[3] not in regions:
            raise ValueError(f"kms_key_arn: the key must be in the Personalize region {sorted(regions)}")
        self._history_fits_the_quota()
        for index, dataset in enumerate(self.datasets):
            _check_import_job_names(self.job_name_prefix, index, dataset)
        return self

    def _history_fits_the_quota(self) -> None:
        timeouts, polling = self.phase_timeouts.seconds(), self.polling

        def phase(name: str) -> history_budget.Phase:
            return history_budget.Phase(
                timeouts[name], getattr(polling, name), polling.dense_seconds, polling.window_polls, polling.growth
            )

        events = history_budget.largest_history(
            import_=phase("import_seconds"),
            training=phase("training_seconds"),
            deployment=phase("deployment_seconds"),
            datasets=len(self.datasets),
            campaigns=len(self.campaigns),
        )
        if events > history_budget.BUDGET:
            raise ValueError(
                f"polling: a run could write {events:,} history events, over the budget of "
                f"{history_budget.BUDGET:,} (Step Functions fails an execution at "
                f"{history_budget.HISTORY_EVENT_QUOTA:,}); poll less often or shorten phase_timeouts"
            )

    @property
    def personalize_arns(self) -> list[str]:
        return [d.dataset_arn for d in self.datasets] + [
            arn for c in self.campaigns for arn in (c.campaign_arn, c.solution_arn)
        ]

    @property
    def execution_timeout_seconds(self) -> int:
        return self.execution_timeout_hours * 3600

    @property
    def region(self) -> str:
        return self.datasets[0].dataset_arn.split(":")[3]

    @property
    def account(self) -> str:
        return self.datasets[0].dataset_arn.split(":")[4]

    def lambda_settings(self) -> dict[str, Any]:
        """The part of the configuration the task Lambdas read (plain JSON)."""
        return {
            "time_zone": self.time_zone,
            "glue_job_names": self.glue_job_names,
            "job_name_prefix": self.job_name_prefix,
            "polling": self.polling.model_dump(),
            "phase_timeouts": self.phase_timeouts.seconds(),
            "execution_timeout_seconds": self.execution_timeout_seconds,
            "automation_guard": self.automation_guard,
            "personalize_role_arn": self.personalize_role_arn,
            "datasets": [
                {
                    "name": d.name,
                    "dataset_group": d.dataset_group,
                    "dataset_arn": d.dataset_arn,
                    "data_location": d.data_location,
                    "import_mode": d.import_mode,
                }
                for d in self.datasets
            ],
            "campaigns": [
                {
                    "campaign_name": c.name,
                    "campaign_arn": c.campaign_arn,
                    "solution_arn": c.solution_arn,
                    "solution_name": c.solution_name,
                    "training": c.training.model_dump(),
                    "quality_gate": c.quality_gate.model_dump() if c.quality_gate else None,
                }
                for c in self.campaigns
            ],
        }


def _check_import_job_names(prefix: str, index: int, dataset: Dataset) -> None:
    """Import job names are PREFIX-GROUP-DATASET-YYYYMMDD[-NN]; Personalize allows JOB_NAME_MAX characters."""
    fixed = len(f"-{dataset.dataset_group}-{dataset.name}") + BASE_DATE_SUFFIX_LEN
    room = JOB_NAME_MAX - fixed  # characters left for the prefix
    if len(prefix) <= room:
        return
    if room >= 1:
        raise ValueError(
            f"job_name_prefix: import job names for dataset {dataset.dataset_group}/{dataset.name} would be "
            f"{len(prefix) + fixed} characters, Personalize allows {JOB_NAME_MAX}; "
            f"a prefix of at most {room} characters fits"
        )
    longest_group = JOB_NAME_MAX - 1 - len(f"--{dataset.name}") - BASE_DATE_SUFFIX_LEN
    raise ValueError(
        f"datasets.{index}.dataset_arn: the dataset group name {dataset.dataset_group!r} "
        f"({len(dataset.dataset_group)} characters) leaves no room for any job_name_prefix in import job names "
        f"(PREFIX-GROUP-{dataset.name}-YYYYMMDD-NN, at most {JOB_NAME_MAX} characters); "
        f"group names of up to {longest_group} characters fit"
    )


def _unique(field: str, values: list[str]) -> None:
    seen = {v for v in values if values.count(v) > 1}
    if seen:
        raise ValueError(f"{field}: each entry must be unique, repeated: {sorted(seen)}")


def parse_config(raw: dict[str, Any], *, source: str = "configuration") -> RefreshConfig:
    """Validate `raw`; raise ConfigError listing every bad field as `SOURCE: field: problem`."""
    try:
        return RefreshConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, [_line(err) for err in exc.errors()]) from None


def load_config(path: str | Path) -> RefreshConfig:
    """Read and validate a JSON configuration file."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), ["not UTF-8 text"]) from None
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot be read: {exc.strerror}"]) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(str(path), [f"not valid JSON: {exc}"]) from None
    if not isinstance(raw, dict):
        raise ConfigError(str(path), ["expected a JSON object at the top level"])
    return parse_config(raw, source=str(path))


def _line(err: Any) -> str:
    location, message = _location(err["loc"]), _message(err)
    if not err["loc"] and _NAMES_ITS_FIELD.match(message):
        return message
    return f"{location}: {message}"


def _location(loc: tuple[int | str, ...]) -> str:
    path = ".".join(str(part) for part in loc if not str(part).startswith("function-"))
    return path or "(top level)"


def _message(err: Any) -> str:
    message = str(err["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] == "extra_forbidden":
        return "unknown field (check the spelling)"
    return message
