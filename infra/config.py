"""The refresh configuration: one typed, validated model that `app.py` loads.

Every field is checked before any construct is built, so a bad value fails
`cdk synth` with a message naming the field and what was expected.

Each field's docstring says what it does, and each model's docstring the rules that tie its fields
together; a custom check's docstring says what it accepts. docs/CONFIGURATION.md is generated from
them (`make config-reference`).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import botocore.session
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from refresh_common import settings as task_settings

from . import history_budget, service_limits
from .trigger_pattern import glue_success_pattern

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

    check.__doc__ = expected  # what it accepts, for the configuration reference
    return AfterValidator(check)


def _time_zone(value: str) -> str:
    """an IANA time zone name, such as `Asia/Seoul` or `UTC`"""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"expected an IANA time zone such as 'Asia/Seoul' or 'UTC', got {value!r}") from None
    return value


def _job_name_prefix(value: str) -> str:
    """1 to 20 letters, digits and hyphens, starting with a letter or digit"""
    if not _JOB_NAME_PREFIX.match(value):
        raise ValueError(f"expected letters, digits and hyphens, starting with a letter or digit, got {value!r}")
    if len(value) > JOB_NAME_PREFIX_MAX:
        raise ValueError(f"at most {JOB_NAME_PREFIX_MAX} characters, got {len(value)} ({value!r})")
    return value


def _s3_location(value: str) -> str:
    """an `s3://BUCKET/KEY` URL; `{base_date}` is the only placeholder it may hold"""
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
    # use_attribute_docstrings: the docstring under each field becomes its description (and the reference's "effect").
    # allow_inf_nan: NaN and infinities are not numbers a person means (NaN would pass no bound check by name).
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, use_attribute_docstrings=True, allow_inf_nan=False
    )

    @field_validator("*", mode="before")
    @classmethod
    def _booleans_are_not_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """JSON's true and false are not 1 and 0: a number field refuses them (pydantic would take true as 1)."""
        if isinstance(value, bool) and info.field_name and _is_numeric(cls.model_fields[info.field_name].annotation):
            raise ValueError(f"expected a number, got {json.dumps(value)}")
        return value


def _is_numeric(annotation: Any) -> bool:
    """An int or float field, optional or not."""
    return annotation in (int, float) or any(arg in (int, float) for arg in get_args(annotation))


class Dataset(_Strict):
    """One Personalize dataset re-imported on every refresh.

    A dataset whose data has the fingerprint of its last import (keys relative to the location, sizes,
    ETags) is not imported again, unless a manual start says `"force": true`. Refused before any job
    (`ImportRefused`): an empty location, more than 100 GB, or an INCREMENTAL import over 1 GB."""

    dataset_arn: DatasetArn
    """The dataset to import into. Its dataset group and type name the import jobs
    (`PREFIX-GROUP-DATASET-YYYYMMDD`) and the dataset in the run record (`interactions`, `items`, ...)."""
    data_location: S3Location
    """Where the Glue job writes the data; `{base_date}` is replaced by the run's date (`YYYYMMDD`). Listed
    before importing, to fingerprint the data (the task Lambdas may read under this prefix, any base date),
    then given to Personalize's import job."""
    import_mode: Literal["FULL", "INCREMENTAL"] = "FULL"
    """`FULL` replaces the dataset's data with the import; `INCREMENTAL` adds to it. An INCREMENTAL dataset is
    imported FULL until it has had an ACTIVE import (Personalize needs one first)."""

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
    cannot update (a recipe other than aws-user-personalization or aws-hrnn-coldstart, no FULL version).

    Rules: `full_every_days` and `full_every_runs` only with mode UPDATE, and not both."""

    mode: Literal["FULL", "UPDATE"] = "FULL"
    """`FULL` trains on all the data every run. `UPDATE` only adds new items on top of the latest ACTIVE FULL
    version that the quality gate did not hold back (it does not learn from new interactions), and falls
    back to FULL, reason recorded, where Personalize cannot update."""
    full_every_days: int | None = Field(None, ge=1, le=365)
    """With UPDATE: a FULL training is due again once the last FULL version is this many days old (or within
    12 hours of it, so a run at about the same time of day is not a day late)."""
    full_every_runs: int | None = Field(None, ge=2, le=100)
    """With UPDATE: every this many trainings one is FULL (the FULL one included: 7 means six UPDATE
    versions, then a FULL one)."""

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
    against the version the campaign serves, nor fall below `min_value`.

    Rules: give `max_drop_percent`, `min_value` or both."""

    metric: Annotated[str, _matching(_METRIC_NAME, "a Personalize metric name such as 'precision_at_25'")]
    """A metric of `GetSolutionMetrics`, as Personalize spells it (names differ by recipe). A metric the
    solution's versions do not report fails the run before training."""
    max_drop_percent: float | None = Field(None, ge=0, le=100)
    """The most the new version may fall below the serving version on `metric`, in percent of the serving
    version's value (below the FULL version it was built on, when the serving version is an UPDATE one that
    reports no metrics). Not applied when that version lacks the metric."""
    min_value: float | None = Field(None, ge=0)
    """The floor: a new version under it on `metric` is not deployed."""

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
    """The metrics the new version must keep; it is deployed only if it keeps every one."""
    without_metrics: Literal["deploy", "hold"] = "deploy"
    """What becomes of a new version that reports no metrics at all: `deploy` it, or `hold` it back (the run
    is GATED)."""


class Campaign(_Strict):
    """One campaign retrained from its solution and redeployed on every refresh. A campaign whose
    datasets all hold what its last completed run saw ends SKIPPED, with nothing trained."""

    campaign_arn: CampaignArn
    """The campaign to deploy each new version to; it keeps its `minProvisionedTPS` and `campaignConfig`. Its
    name keys its run records (`campaign_name`)."""
    solution_arn: SolutionArn
    """The solution a new version is trained from (`CreateSolutionVersion`): its recipe decides whether
    UPDATE is possible, and its versions' metrics are the quality gate's."""
    training: TrainingPolicy = TrainingPolicy()
    """How each refresh trains: FULL every time (the default), or UPDATE with a FULL one now and then."""
    quality_gate: QualityGate | None = None
    """Metrics a new version must keep to be deployed; without a gate every new version is deployed."""

    @property
    def name(self) -> str:
        return _CAMPAIGN_ARN.match(self.campaign_arn)["name"]  # type: ignore[index]

    @property
    def solution_name(self) -> str:
        return _SOLUTION_ARN.match(self.solution_arn)["name"]  # type: ignore[index]


class Polling(_Strict):
    """How each phase is polled: planned from how long the same phase took in earlier successful runs
    (lambdas/refresh_common/polling.py). `dense_seconds` apart around the expected end, and never more
    than the phase's own `*_seconds` apart. The history budget (see the top level) counts every poll
    these settings allow.

    Rules: each phase's `*_seconds` is at least `dense_seconds`."""

    dense_seconds: int = Field(60, ge=10, le=3600)
    """Seconds between polls around the expected end (in the window of earlier durations), and the first
    wait when a phase has no earlier successful run to plan from."""
    window_polls: int = Field(30, ge=1, le=200)
    """The most polls in the expected window: a window that would take more at `dense_seconds` apart is
    polled less densely."""
    # Validated when defaulted too (to 5.0, as when given): a configuration and its dump read back then write the
    # same settings, so synthesize the same code asset (a resumed rehearsal relies on it).
    window_margin_percent: float = Field(5, ge=0, le=100, validate_default=True)
    """How much the expected window (the shortest to the longest of the last 10 successful durations) is
    widened on each side, in percent."""
    growth: float = Field(1.25, ge=1.01, le=4)
    """Past the window, or with no history, each wait is this many times the one before, up to the
    phase's longest wait."""
    import_seconds: int = Field(300, ge=10, le=3600)
    """The longest wait between two polls of an import job (`DescribeDatasetImportJob`)."""
    training_seconds: int = Field(300, ge=10, le=3600)
    """The longest wait between two polls of a training (`DescribeSolutionVersion`)."""
    deployment_seconds: int = Field(60, ge=10, le=3600)
    """The longest wait between two polls of a campaign update (`DescribeCampaign`)."""

    @model_validator(mode="after")
    def _dense_is_the_shortest(self) -> Polling:
        for name in ("import_seconds", "training_seconds", "deployment_seconds"):
            if getattr(self, name) < self.dense_seconds:
                raise ValueError(f"{name}: the longest wait of a phase, at least dense_seconds ({self.dense_seconds})")
        return self


class PhaseTimeouts(_Strict):
    """Hours each phase may take: a training over its limit is stopped; an import or a campaign
    update, which cannot be stopped, is given up. Either way the run is recorded TIMED_OUT. The
    state machine's own timeout (`execution_timeout_hours`) stays the backstop behind them: make that
    longer than their sum. The history budget (see the top level) counts the polls they allow."""

    import_hours: float = Field(6, gt=0, le=72)
    """Hours an import job may take from its start. Past them the run is recorded TIMED_OUT and alerted; the
    job, which cannot be stopped, goes on, and a re-run of the day reuses it once ACTIVE."""
    training_hours: float = Field(24, gt=0, le=24 * 7)
    """Hours a training may take from its start. Past them it is stopped (`StopSolutionVersionCreation`; the
    hours it trained are billed) and the run is recorded TIMED_OUT and alerted."""
    deployment_hours: float = Field(3, gt=0, le=24)
    """Hours a campaign update may take from its start. Past them the run is recorded TIMED_OUT and alerted;
    the update, which cannot be stopped, goes on: if it finishes, the campaign serves the new version (the
    record still says TIMED_OUT); if it fails, the campaign keeps its previous version."""

    def seconds(self) -> dict[str, int]:
        return {
            "import_seconds": round(self.import_hours * 3600),
            "training_seconds": round(self.training_hours * 3600),
            "deployment_seconds": round(self.deployment_hours * 3600),
        }


class RefreshConfig(_Strict):
    """Everything one deployment of the refresh pipeline needs to know.

    Rules across fields:

    - `datasets` (by ARN), `campaigns` (by campaign name) and `glue_job_names` each list every entry once.
    - All Personalize ARNs (datasets, campaigns, solutions) are in one account and region; the stack
      deploys there.
    - `personalize_role_arn` is a role of that account: Personalize cannot use a role of another account.
    - `kms_key_arn`, when set, is a key of that region.
    - History budget: a Standard execution fails, uncatchably, when its history reaches 25,000 events, so a
      configuration whose longest run could write more than 20,000 (80 %, leaving room for retries) is
      refused. The longest run polls each phase as often as `polling` allows until its `phase_timeouts`
      limit (11 events a poll), for every dataset and campaign; the arithmetic is `infra/history_budget.py`.
      Poll less often, or shorten `phase_timeouts`, to fit.
    - The Glue trigger's event pattern, which lists every `glue_job_names` entry, fits EventBridge's 2,048
      characters (`infra/service_limits.py` holds this figure and the other limits `cdk synth` checks).
    - Import job names `PREFIX-GROUP-DATASET-YYYYMMDD-NN` fit Personalize's 63 characters: the message says
      which `job_name_prefix` length (or, when none fits, which dataset group name length) would."""

    glue_job_names: list[GlueJobName] = Field(min_length=1)
    """Glue jobs whose SUCCEEDED state change starts a refresh (the EventBridge rule matches these names); a
    Glue event of any other job is refused."""
    time_zone: TimeZoneName = "UTC"
    """The zone in which the run's `base_date` (`YYYYMMDD`) is taken from the Glue event's time: it names the
    jobs, keys the run records, and fills `{base_date}` in the data locations."""
    personalize_role_arn: RoleArn
    """The IAM role Personalize assumes to read the S3 data of an import; the task Lambdas may pass only
    this role."""
    datasets: list[Dataset] = Field(min_length=1)
    """The datasets imported on every refresh, one import job each, before any training; at most 100 in one
    stack."""
    campaigns: list[Campaign] = Field(min_length=1)
    """The campaigns retrained and redeployed on every refresh, each independently: one failing does not
    stop the others; at most 100 in one stack (the claim's DynamoDB transaction holds 100 writes)."""
    alert_email: EmailAddress | None = None
    """An e-mail address subscribed to the alert topic (every failure, a held-back version, an automation
    warning). Without one, subscribe to the topic (`AlertTopicArn`) yourself."""
    kms_key_arn: KmsKeyArn | None = None
    """A customer-managed key for every store: the run table, the alert topic, the queues, the logs and the
    Lambdas' environment. Unset: AWS-managed keys (see docs/SECURITY.md)."""
    job_name_prefix: JobNamePrefix = "refresh"
    """The first part of every job name Personalize is given (import jobs, solution versions), and of the IAM
    resource patterns that scope the Lambdas' permissions: give each stack in one account its own."""
    polling: Polling = Polling()
    """How often each phase's job is polled, planned from how long the phase took in earlier runs."""
    phase_timeouts: PhaseTimeouts = PhaseTimeouts()
    """How long each phase may take before the run is recorded TIMED_OUT."""
    automation_guard: Literal["refuse", "warn"] = "refuse"
    """What a run does when Personalize's own automation is on for a campaign (automatic training of its
    solution, or a campaign that follows its solution's latest version): `refuse` fails the run before any
    job, naming the fix; `warn` records and alerts a warning, and runs."""
    execution_timeout_hours: int = Field(36, ge=1, le=24 * 7)
    """The state machine's timeout, the backstop behind `phase_timeouts` (make it longer than their sum). A
    run record still RUNNING after it may be claimed again by a new run (kept as ABANDONED)."""
    log_retention_days: Literal[30, 60, 90, 180, 365, 731] = 365
    """Days the logs of the state machine and of the task Lambdas are kept."""
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
        (region,) = regions
        if region not in personalize_regions():
            raise ValueError(
                f"datasets and campaigns: {region} is not a region that offers Amazon Personalize (by the AWS SDK "
                f"this project pins: {', '.join(sorted(personalize_regions()))})"
            )
        role_account = self.personalize_role_arn.split(":")[4]
        if role_account not in accounts:
            raise ValueError(
                f"personalize_role_arn: the role must be in the account of the Personalize resources "
                f"({', '.join(sorted(accounts))}), got {role_account}: Personalize cannot use a role of another account"
            )
        if self.kms_key_arn and self.kms_key_arn.split(":")[3] not in regions:
            raise ValueError(f"kms_key_arn: the key must be in the Personalize region {sorted(regions)}")
        self._run_fits_its_limits()
        self._history_fits_the_quota()
        self._trigger_pattern_fits()
        for index, dataset in enumerate(self.datasets):
            _check_import_job_names(self.job_name_prefix, index, dataset)
        return self

    def _run_fits_its_limits(self) -> None:
        campaigns = service_limits.TRANSACTION_ITEMS
        if len(self.campaigns) > campaigns.maximum:
            raise ValueError(
                f"campaigns: {len(self.campaigns)} campaigns, one stack refreshes at most {campaigns.maximum}: the "
                f"claim writes each campaign's record in one transaction ({campaigns}); split the campaigns "
                f"across stacks, each with a configuration and stack_name of its own"
            )
        if len(self.datasets) > service_limits.DATASETS_PER_STACK:
            raise ValueError(
                f"datasets: {len(self.datasets)} datasets, one stack imports at most "
                f"{service_limits.DATASETS_PER_STACK}, so that the refresh's state stays within "
                f"{service_limits.STATE_PAYLOAD}; split the dataset groups across stacks, each with a "
                f"configuration and stack_name of its own"
            )

    def _history_fits_the_quota(self) -> None:
        timeouts, polling = self.phase_timeouts.seconds(), self.polling

        def phase(name: str) -> history_budget.Phase:
            return history_budget.Phase(
                timeouts[name], getattr(polling, name), polling.dense_seconds, polling.window_polls, polling.growth
            )

        histories = history_budget.largest_histories(
            import_=phase("import_seconds"),
            training=phase("training_seconds"),
            deployment=phase("deployment_seconds"),
            datasets=len(self.datasets),
            campaigns=len(self.campaigns),
        )
        remedies = {
            "campaign": "poll training or deployment less often, or shorten their phase_timeouts",
            "import": "poll imports less often, shorten phase_timeouts.import_hours, or configure fewer campaigns",
            "refresh": "configure fewer datasets and campaigns in one stack",
        }
        for name, events in histories.over().items():
            raise ValueError(
                f"polling: a {name} execution could write {events:,} history events, over the budget of "
                f"{history_budget.BUDGET:,} (Step Functions fails an execution at "
                f"{history_budget.HISTORY_EVENT_QUOTA:,}); {remedies[name]}"
            )

    def _trigger_pattern_fits(self) -> None:
        limit = service_limits.EVENT_PATTERN
        size = service_limits.event_pattern_size(glue_success_pattern(self.glue_job_names))
        if size > limit.maximum:
            raise ValueError(
                f"glue_job_names: the Glue trigger's event pattern would be {size:,} characters, EventBridge "
                f"allows {limit.maximum:,} ({limit.source}); list fewer jobs, or use shorter job names"
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

    def dataset_key(self, dataset: Dataset) -> str:
        """How the run record names `dataset`: its type, unless datasets of several groups have that type."""
        shared = sum(d.name == dataset.name for d in self.datasets) > 1
        return f"{dataset.dataset_group}.{dataset.name}" if shared else dataset.name

    def lambda_settings(self) -> dict[str, Any]:
        """The part of the configuration the task Lambdas read, as their settings module writes it (plain JSON)."""
        return task_settings.settings_document(
            time_zone=self.time_zone,
            glue_job_names=self.glue_job_names,
            job_name_prefix=self.job_name_prefix,
            polling=self.polling.model_dump(),
            phase_timeouts=self.phase_timeouts.seconds(),
            execution_timeout_seconds=self.execution_timeout_seconds,
            automation_guard=self.automation_guard,
            personalize_role_arn=self.personalize_role_arn,
            datasets=[
                task_settings.DatasetSettings(
                    name=self.dataset_key(d),
                    type_name=d.name,
                    dataset_group=d.dataset_group,
                    dataset_arn=d.dataset_arn,
                    data_location=d.data_location,
                    import_mode=d.import_mode,
                )
                for d in self.datasets
            ],
            campaigns=[
                task_settings.CampaignSettings(
                    campaign_name=c.name,
                    campaign_arn=c.campaign_arn,
                    solution_arn=c.solution_arn,
                    solution_name=c.solution_name,
                    training=task_settings.TrainingPolicy(**c.training.model_dump()),
                    quality_gate=_gate_settings(c.quality_gate) if c.quality_gate else None,
                )
                for c in self.campaigns
            ],
        )


def _gate_settings(gate: QualityGate) -> task_settings.QualityGate:
    rules = tuple(task_settings.MetricRule(**rule.model_dump()) for rule in gate.rules)
    return task_settings.QualityGate(rules, gate.without_metrics)


@functools.cache
def personalize_regions() -> frozenset[str]:
    """The regions of every partition where the pinned botocore's endpoint data offers Amazon Personalize. A
    region Personalize opens later needs a newer botocore (requirements.txt)."""
    session = botocore.session.get_session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("personalize", partition_name=partition)
    )


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
        raw = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_without_repeated_keys)
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), ["not UTF-8 text"]) from None
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot be read: {exc.strerror}"]) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(str(path), [f"not valid JSON: {exc}"]) from None
    except _RepeatedKey as exc:
        raise ConfigError(str(path), [str(exc)]) from None
    if not isinstance(raw, dict):
        raise ConfigError(str(path), ["expected a JSON object at the top level"])
    return parse_config(raw, source=str(path))


class _RepeatedKey(ValueError):
    pass


def _without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key written twice: JSON parsers keep the last silently, and which one the
    author meant is a guess."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _RepeatedKey(f"{key}: given twice in one object; keep one")
        seen[key] = value
    return seen


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
