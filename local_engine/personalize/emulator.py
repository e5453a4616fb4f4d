"""In-memory Amazon Personalize with real lifecycles, errors and fault injection.

Nothing here runs in the background: every job's future is scheduled when it
is created (see ``lifecycle.Timeline``) and statuses are read off that
schedule at the injected clock's ``now()`` whenever a resource is described
or listed. What Personalize starts on its own (automatic training) is created
when the emulator is next used, with the creation time its schedule gave it.
Advancing the virtual clock is therefore the only way time passes.

Operations are invoked with ``emulator.call("DescribeCampaign", {...})`` using
botocore's operation names and camelCase parameters; ``endpoint.serve`` wires
that into moto so boto3 clients reach it.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import hashlib
import itertools
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple, TypeVar

from .errors import PersonalizeError, in_use, invalid_input, not_found
from .faults import Faults
from .imports import DataRead, ObjectStore, read_import_data
from .lifecycle import (
    ACTIVE,
    CREATE_IN_PROGRESS,
    CREATE_PENDING,
    Durations,
    Timeline,
)
from .metrics import derived_metrics
from .validation import ModelValidator

T = TypeVar("T")

DEFAULT_RECIPE_ARN = "arn:aws:personalize:::recipe/aws-user-personalization-v2"
# Personalize's quota for concurrent dataset import jobs per region: "a total of 5 pending or in progress
# dataset import jobs per region. This quota is not adjustable" (Common error messages).
MAX_ACTIVE_IMPORT_JOBS = 5
# Its default quota for solution versions pending or in progress per region (Endpoints and quotas).
MAX_ACTIVE_SOLUTION_VERSIONS = 20
# AutoTrainingConfig.schedulingExpression is rate(N days), N from 1 to 30,
# default 7 (API reference, AutoTrainingConfig).
DEFAULT_AUTO_TRAINING_DAYS = 7
_AUTO_TRAINING_DAYS_RANGE = range(1, 31)
# "Automatic solution version creation starts within one hour after the
# solution is ACTIVE" (API reference, CreateSolution performAutoTraining): the
# emulator takes the end of that hour.
FIRST_AUTOMATIC_TRAINING_DELAY = datetime.timedelta(hours=1)
# Automatic training needs new interaction data ("Configuring automatic
# training"): item interactions, or action interactions for Next-Best-Action.
_INTERACTION_DATASET_TYPES = frozenset({"INTERACTIONS", "ACTION_INTERACTIONS"})
# "The UPDATE option can only be used when ... the input solution was trained
# with the User-Personalization recipe or the legacy HRNN-Coldstart recipe"
# (API reference, CreateSolutionVersion trainingMode); User-Personalization-v2
# is a different recipe.
_UPDATE_RECIPE_ARNS = frozenset(
    {"arn:aws:personalize:::recipe/aws-user-personalization", "arn:aws:personalize:::recipe/aws-hrnn-coldstart"}
)
_MANUAL = "MANUAL"
_AUTOMATIC = "AUTOMATIC"
# UpdateCampaign's solutionVersionArn "<solutionArn>/$LATEST" names the
# solution's latest version (API reference, UpdateCampaign).
_LATEST = "/$LATEST"
_DEFAULT_PAGE_SIZE = 100

_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]+")
_DATASET_ARN = re.compile(r"arn:[^:]+:personalize:[^:]*:[^:]*:dataset/([^/]+)/([^/]+)")

Params = dict[str, Any]
Response = dict[str, Any]


class Call(NamedTuple):
    """One API call that reached the emulator (unpacks as (operation, params))."""

    operation: str
    params: Any


@dataclass
class Dataset:
    arn: str
    name: str
    dataset_group_arn: str | None
    dataset_type: str | None
    created: datetime.datetime
    # Stands in for data imported before the emulator existed.
    seeded_with_data: bool


@dataclass
class SolutionUpdate:
    """An UpdateSolution: what it asked for, shown under DescribeSolution's latestSolutionUpdate and in force
    once ACTIVE ("To get the status of a solution update, call DescribeSolution ... latestSolutionUpdate", API
    reference, UpdateSolution). The solution's own performAutoTraining and solutionConfig keep what
    CreateSolution set ("After you create a solution, you can't change its configuration", Solution)."""

    perform_auto_training: bool | None
    update_config: dict[str, Any] | None
    created: datetime.datetime
    timeline: Timeline


@dataclass
class Solution:
    arn: str
    name: str
    recipe_arn: str
    perform_auto_training: bool
    auto_training_days: int
    dataset_group_arn: str | None
    created: datetime.datetime
    optimization_objective: dict[str, Any] | None = None
    version_arns: list[str] = field(default_factory=list)
    # When automatic training next looks for new data (None: it is off).
    next_automatic_training: datetime.datetime | None = None
    updates: list[SolutionUpdate] = field(default_factory=list)

    def trains_automatically_at(self, at: datetime.datetime) -> bool:
        """performAutoTraining as in force at ``at``: that of the newest update ACTIVE by then that set it."""
        for update in reversed(self.updates):
            if update.perform_auto_training is not None and update.timeline.status_at(at) == ACTIVE:
                return update.perform_auto_training
        return self.perform_auto_training

    @property
    def first_automatic_training(self) -> datetime.datetime:
        return self.created + FIRST_AUTOMATIC_TRAINING_DELAY


@dataclass
class ImportJob:
    arn: str
    name: str
    dataset_arn: str
    data_location: str
    role_arn: str | None
    import_mode: str
    publish_attribution_metrics: bool
    created: datetime.datetime
    timeline: Timeline
    seq: int
    # Whether the job's outcome is known: an injected fault decides it at
    # once, its data when its work would be done (see _settle_imports).
    settled: bool = False
    data_read: DataRead | None = None


@dataclass
class SolutionVersion:
    arn: str
    name: str | None
    solution_arn: str
    training_mode: str
    training_type: str
    created: datetime.datetime
    timeline: Timeline
    training_hours: float
    seq: int


@dataclass
class Deployment:
    """What a campaign serves: the version plus its serving configuration.
    With ``follows_latest`` (campaignConfig.syncWithLatestSolutionVersion) the
    version is the one that was latest when deployed, and the campaign moves
    on to each newer version of its solution as that version goes ACTIVE."""

    solution_version_arn: str
    min_provisioned_tps: int
    campaign_config: dict[str, Any] | None
    follows_latest: bool = False


@dataclass
class CampaignUpdate:
    """``requested`` is the solutionVersionArn as UpdateCampaign named it: latestCampaignUpdate shows that form
    (SOLUTION/$LATEST included). The reference does not say which form AWS shows for $LATEST; the emulator
    takes the one a poll comparing with the concrete version would miss."""

    target: Deployment
    created: datetime.datetime
    timeline: Timeline
    requested: str | None = None


@dataclass
class Campaign:
    arn: str
    name: str
    solution_arn: str
    created: datetime.datetime
    initial: Deployment
    updates: list[CampaignUpdate] = field(default_factory=list)

    @property
    def latest_update(self) -> CampaignUpdate | None:
        return self.updates[-1] if self.updates else None

    def deployed_at(self, now: datetime.datetime) -> tuple[Deployment, datetime.datetime]:
        """The deployment being served at ``now`` and since when: the newest
        update that reached ACTIVE, else the one the campaign was created with
        (a failed or unfinished update never replaces what is served)."""
        for update in reversed(self.updates):
            activated = update.timeline.reached_at(ACTIVE, now)
            if activated is not None:
                return update.target, activated
        return self.initial, self.created


def _without_none(values: Mapping[str, Any]) -> Response:
    return {k: v for k, v in values.items() if v is not None}


def _last_segment(arn: str) -> str:
    return arn.rstrip("/").rsplit("/", 1)[-1]


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


class PersonalizeEmulator:
    """Thread-safe Personalize model driven by a virtual clock.

    ``now`` must return timezone-aware UTC datetimes; naive ones are taken
    as UTC. All public methods hold one lock, so Step Functions Map branches
    may call in from several threads.
    """

    # botocore operation name -> handler method name
    _HANDLERS: ClassVar[dict[str, str]] = {
        "CreateDatasetImportJob": "_create_dataset_import_job",
        "DescribeDatasetImportJob": "_describe_dataset_import_job",
        "ListDatasetImportJobs": "_list_dataset_import_jobs",
        "CreateSolutionVersion": "_create_solution_version",
        "DescribeSolutionVersion": "_describe_solution_version",
        "ListSolutionVersions": "_list_solution_versions",
        "StopSolutionVersionCreation": "_stop_solution_version_creation",
        "GetSolutionMetrics": "_get_solution_metrics",
        "DescribeSolution": "_describe_solution",
        "UpdateSolution": "_update_solution",
        "DescribeDataset": "_describe_dataset",
        "DescribeCampaign": "_describe_campaign",
        "UpdateCampaign": "_update_campaign",
    }
    operations: ClassVar[tuple[str, ...]] = tuple(_HANDLERS)

    def __init__(
        self,
        now: Callable[[], datetime.datetime],
        *,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        object_store: ObjectStore | None = None,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self._clock = now
        self._object_store = object_store
        self._lock = threading.RLock()
        self._durations = Durations()
        self._validator = ModelValidator()
        self.faults = Faults(
            self._lock, self.operations, self._time, called=lambda operation: self.count(operation) > 0
        )
        self._datasets: dict[str, Dataset] = {}
        self._solutions: dict[str, Solution] = {}
        self._campaigns: dict[str, Campaign] = {}
        self._import_jobs: dict[str, ImportJob] = {}
        self._versions: dict[str, SolutionVersion] = {}
        self._metrics: dict[str, dict[str, float]] = {}
        self._calls: list[Call] = []
        self._seq = itertools.count(1)

    # ----- configuration and introspection -------------------------------

    def set_duration(self, phase: str, duration: datetime.timedelta) -> None:
        """Set how long a phase lasts for jobs created from now on.

        ``phase``: ``"pending"`` (CREATE PENDING of every job, default 60 s),
        ``"import"`` (import IN_PROGRESS, 1 h), ``"training"`` (solution
        version IN_PROGRESS, 6 h), ``"update_training"`` (the same for a
        version created with trainingMode UPDATE; until set, as long as
        ``"training"``), ``"deployment"`` (campaign update IN_PROGRESS,
        30 min) or ``"stopping"`` (CREATE STOPPING, 60 s). A version's
        ``trainingHours`` is its training phase's length.
        """
        with self._lock:
            # Automatic versions already due keep the durations of their time.
            self._catch_up()
            self._durations.set(phase, duration)

    def set_metrics(self, solution_version: str, metrics: Mapping[str, float]) -> None:
        """Make GetSolutionMetrics return ``metrics`` for a solution version,
        given by ARN or by the ``name`` it was (or will be) created with.
        Without this, metrics are derived from the solution's recipe and
        configuration, seeded by the ARN (see ``metrics.derived_metrics``),
        and an UPDATE version has none."""
        with self._lock:
            self._metrics[solution_version] = dict(metrics)

    def metrics_of(self, solution_version_arn: str) -> dict[str, float]:
        """What GetSolutionMetrics returns for the version once it is ACTIVE,
        without logging a call: the base from which a test declares another
        version better or worse, e.g.
        ``set_metrics("weekly-2", {k: v * 0.9 for k, v in metrics_of(served).items()})``."""
        with self._lock:
            self._catch_up()
            return self._metrics_for(self._version(solution_version_arn))

    @property
    def calls(self) -> list[Call]:
        """Snapshot of every API call that reached the emulator, in order,
        including calls that raised."""
        with self._lock:
            return list(self._calls)

    def count(self, operation: str) -> int:
        with self._lock:
            return sum(1 for c in self._calls if c.operation == operation)

    @property
    def object_store(self) -> ObjectStore | None:
        """Where import jobs read their data; None: they do not read it."""
        with self._lock:
            return self._object_store

    def use_object_store(self, store: ObjectStore | None) -> None:
        """Read import data from ``store`` from now on (None: stop reading).
        An import job reads its data location when its work would be done,
        at the first call that sees it done, and fails if the data breaks
        one of AWS's import quotas (see ``imports.read_import_data``). A
        store that does not know the bucket leaves the job to go ACTIVE, as
        does an emulator with no store."""
        with self._lock:
            self._catch_up()
            self._object_store = store

    def data_read(self, dataset_import_job_arn: str) -> DataRead | None:
        """What the import job read (objects, bytes, CSV records), or None
        while it has not read or when it read nothing: an injected fault
        decided it, no store was set, or the store did not know the bucket."""
        with self._lock:
            self._catch_up()
            return _existing(self._import_jobs, dataset_import_job_arn).data_read

    def next_automatic_training(self, solution_arn: str) -> datetime.datetime | None:
        """When the solution's automatic training next looks for new data (and
        trains if there is some), or None if it does not train automatically."""
        with self._lock:
            self._catch_up()
            return _existing(self._solutions, solution_arn).next_automatic_training

    # ----- saving and restoring -------------------------------------------

    # What Personalize holds between two sessions: its resources (with their timelines), the metrics
    # set for versions and the phase lengths. Calls made and injected faults belong to one session.
    _SAVED: ClassVar[tuple[str, ...]] = (
        "_datasets",
        "_solutions",
        "_campaigns",
        "_import_jobs",
        "_versions",
        "_metrics",
        "_durations",
    )

    def saved_state(self) -> dict[str, Any]:
        """A copy of everything Personalize holds, as of now, for `restore_state` in a later session."""
        with self._lock:
            self._catch_up()
            state = {name: copy.deepcopy(getattr(self, name)) for name in self._SAVED}
            seqs = [job.seq for job in self._import_jobs.values()] + [v.seq for v in self._versions.values()]
            state["next_seq"] = max(seqs, default=0) + 1
            return state

    def restore_state(self, state: Mapping[str, Any]) -> None:
        """Hold what `saved_state` returned, instead of what this emulator holds."""
        with self._lock:
            for name in self._SAVED:
                setattr(self, name, copy.deepcopy(state[name]))
            self._seq = itertools.count(int(state["next_seq"]))

    # ----- seeding --------------------------------------------------------

    def add_dataset(self, dataset_arn: str, *, imported: bool = True) -> str:
        """Register an ACTIVE dataset. By default it already holds data from an
        earlier (unlisted) import, as the datasets behind a live campaign do;
        ``imported=False`` models an empty dataset, on which INCREMENTAL
        imports are rejected until a FULL import has gone ACTIVE."""
        with self._lock:
            self._catch_up()
            match = _DATASET_ARN.fullmatch(dataset_arn)
            group, dataset_type = match.groups() if match else (None, None)
            self._datasets[dataset_arn] = Dataset(
                arn=dataset_arn,
                name=f"{group}-{dataset_type.lower()}" if group and dataset_type else _last_segment(dataset_arn),
                dataset_group_arn=self._arn(f"dataset-group/{group}") if group else None,
                dataset_type=dataset_type,
                created=self._time(),
                seeded_with_data=imported,
            )
            return dataset_arn

    def add_solution(
        self,
        solution_arn: str,
        *,
        recipe_arn: str = DEFAULT_RECIPE_ARN,
        perform_auto_training: bool = False,
        auto_training_days: int = DEFAULT_AUTO_TRAINING_DAYS,
        dataset_group_arn: str | None = None,
        optimization_objective: Mapping[str, Any] | None = None,
    ) -> str:
        """Register an ACTIVE solution with no versions yet.

        ``perform_auto_training`` defaults to False here (CreateSolution
        defaults it to true) so that only the calls under test create
        versions. When on, Personalize creates versions itself, with
        ``trainingType`` AUTOMATIC: the first run one hour after the solution
        is added, then every ``auto_training_days`` days (1 to 30, shown by
        DescribeSolution as ``rate(N days)``). A run trains only if new
        interaction data arrived since the solution's latest ACTIVE version:
        an interactions import of the solution's dataset group (of any group
        when ``dataset_group_arn`` is not given) that went ACTIVE since that
        version was created. Data seeded with ``add_dataset`` counts as older
        than any version; real-time events are not emulated.

        ``optimization_objective`` (solutionConfig.optimizationObjective,
        e.g. ``{"itemAttribute": "PRICE"}``) adds average_rewards_at_k to the
        versions' metrics.
        """
        if isinstance(auto_training_days, bool) or auto_training_days not in _AUTO_TRAINING_DAYS_RANGE:
            raise ValueError(f"auto_training_days must be 1 to 30 (rate(N days)), not {auto_training_days!r}")
        with self._lock:
            self._catch_up()
            solution = Solution(
                arn=solution_arn,
                name=_last_segment(solution_arn),
                recipe_arn=recipe_arn,
                perform_auto_training=perform_auto_training,
                auto_training_days=auto_training_days,
                dataset_group_arn=dataset_group_arn,
                created=self._time(),
                optimization_objective=dict(optimization_objective) if optimization_objective else None,
            )
            if perform_auto_training:
                solution.next_automatic_training = solution.first_automatic_training
            self._solutions[solution_arn] = solution
            return solution_arn

    def add_campaign(
        self,
        campaign_arn: str,
        *,
        solution_arn: str,
        min_provisioned_tps: int = 1,
        campaign_config: Mapping[str, Any] | None = None,
    ) -> str:
        """Register an ACTIVE campaign serving a freshly seeded ACTIVE FULL
        solution version of ``solution_arn`` (which must be added first).
        Returns that solution version's ARN. With ``campaign_config``
        ``{"syncWithLatestSolutionVersion": True}`` the campaign then follows
        each newer version of the solution as it goes ACTIVE, and
        UpdateCampaign refuses an explicit version for it."""
        with self._lock:
            now = self._catch_up()
            solution = self._solutions.get(solution_arn)
            if solution is None:
                raise ValueError(f"add_solution({solution_arn!r}) before adding a campaign on it")
            version = self._seed_active_version(solution, now)
            config = copy.deepcopy(dict(campaign_config)) if campaign_config is not None else None
            self._campaigns[campaign_arn] = Campaign(
                arn=campaign_arn,
                name=_last_segment(campaign_arn),
                solution_arn=solution_arn,
                created=now,
                initial=Deployment(version.arn, min_provisioned_tps, config, follows_latest=_syncs(config)),
            )
            return version.arn

    # ----- API entry point ------------------------------------------------

    def call(self, operation: str, params: Any) -> Response:
        """Run one API operation (botocore name, camelCase params) and return
        its response dict (timestamps as aware datetimes). Raises
        PersonalizeError for anything AWS would answer with an error."""
        method_name = self._HANDLERS.get(operation)
        if method_name is None:
            raise ValueError(f"the emulator does not implement {operation!r}")
        with self._lock:
            now = self._catch_up()
            self._calls.append(Call(operation, copy.deepcopy(params)))
            injected = self.faults.take_error(operation)
            if injected is not None:
                raise injected
            self._validator.validate(operation, params)
            handler: Callable[[Params, datetime.datetime], Response] = getattr(self, method_name)
            return self.faults.trim(operation, handler(params, now))

    # ----- dataset import jobs ---------------------------------------------

    def _create_dataset_import_job(self, p: Params, now: datetime.datetime) -> Response:
        role_arn = p.get("roleArn")
        if role_arn is not None and not _ROLE_ARN.fullmatch(role_arn):
            raise invalid_input(f"roleArn {role_arn} is not a valid IAM role ARN.")
        location = p["dataSource"].get("dataLocation")
        if not location or not location.startswith("s3://"):
            raise invalid_input(f"dataSource.dataLocation {location} must be an s3:// path.")
        dataset = self._dataset(p["datasetArn"])
        name = p["jobName"]
        arn = self._arn(f"dataset-import-job/{name}")
        if arn in self._import_jobs:
            raise PersonalizeError("ResourceAlreadyExistsException", f"Dataset import job {arn} already exists.")
        mode = p.get("importMode", "FULL")
        if mode == "INCREMENTAL" and not self._has_imported_data(dataset, now):
            raise invalid_input(f"Dataset {dataset.arn} has no completed import; INCREMENTAL mode needs existing data.")
        running = sum(1 for j in self._import_jobs.values() if j.timeline.is_busy(now))
        if running >= MAX_ACTIVE_IMPORT_JOBS:
            raise PersonalizeError(
                "LimitExceededException",
                f"More than {MAX_ACTIVE_IMPORT_JOBS} resources with PENDING or IN_PROGRESS status.",
            )
        failure = self.faults.take_job_failure("import", [name, dataset.arn], now)
        self._import_jobs[arn] = ImportJob(
            arn=arn,
            name=name,
            dataset_arn=dataset.arn,
            data_location=location,
            role_arn=role_arn,
            import_mode=mode,
            publish_attribution_metrics=p.get("publishAttributionMetricsToS3", False),
            created=now,
            timeline=Timeline.scheduled(now, self._durations.pending, self._durations.import_, failure),
            seq=next(self._seq),
            settled=failure is not None,
        )
        return {"datasetImportJobArn": arn}

    def _describe_dataset_import_job(self, p: Params, now: datetime.datetime) -> Response:
        job = self._import_jobs.get(p["datasetImportJobArn"])
        if job is None:
            raise not_found(p["datasetImportJobArn"])
        status, updated = job.timeline.state_at(now)
        return {
            "datasetImportJob": _without_none(
                {
                    "jobName": job.name,
                    "datasetImportJobArn": job.arn,
                    "datasetArn": job.dataset_arn,
                    "dataSource": {"dataLocation": job.data_location},
                    "roleArn": job.role_arn,
                    "status": status,
                    "creationDateTime": job.created,
                    "lastUpdatedDateTime": updated,
                    "failureReason": job.timeline.failure_reason_at(now),
                    "importMode": job.import_mode,
                    "publishAttributionMetricsToS3": job.publish_attribution_metrics,
                }
            )
        }

    def _list_dataset_import_jobs(self, p: Params, now: datetime.datetime) -> Response:
        # An unknown datasetArn lists nothing: the operation models no NotFound.
        dataset_arn = p.get("datasetArn")
        jobs = [j for j in self._import_jobs.values() if dataset_arn in (None, j.dataset_arn)]
        summaries = [self._import_job_summary(j, now) for j in _newest_first(jobs)]
        return self._page(summaries, "datasetImportJobs", p, scope=f"imports|{dataset_arn}")

    def _import_job_summary(self, job: ImportJob, now: datetime.datetime) -> Response:
        status, updated = job.timeline.state_at(now)
        return _without_none(
            {
                "datasetImportJobArn": job.arn,
                "jobName": job.name,
                "status": status,
                "creationDateTime": job.created,
                "lastUpdatedDateTime": updated,
                "failureReason": job.timeline.failure_reason_at(now),
                "importMode": job.import_mode,
            }
        )

    def _settle_imports(self, now: datetime.datetime) -> None:
        """Decide every import job whose work is done by ``now`` by the data
        it finds. A job reads its location while it runs; the emulator reads
        it at the first call after the job's scheduled end, so objects a test
        puts before advancing the clock past that end are what the job sees."""
        for job in self._import_jobs.values():
            if job.settled or job.timeline.end > now:
                continue
            job.settled = True
            if self._object_store is None:
                continue
            dataset_type = self._datasets[job.dataset_arn].dataset_type
            outcome = read_import_data(
                self._object_store, job.data_location, mode=job.import_mode, dataset_type=dataset_type
            )
            if outcome is None:
                continue
            job.data_read = outcome.read
            if outcome.failure is not None:
                job.timeline.fail_at_end(outcome.failure)

    def _has_imported_data(self, dataset: Dataset, now: datetime.datetime) -> bool:
        return dataset.seeded_with_data or any(
            j.dataset_arn == dataset.arn and j.timeline.status_at(now) == ACTIVE for j in self._import_jobs.values()
        )

    # ----- solution versions ------------------------------------------------

    def _create_solution_version(self, p: Params, now: datetime.datetime) -> Response:
        solution = self._solution(p["solutionArn"])
        versions = [self._versions[a] for a in solution.version_arns]
        name = p.get("name")
        if name is not None and any(v.name == name for v in versions):
            raise PersonalizeError(
                "ResourceAlreadyExistsException",
                f"Solution version {name} already exists for solution {solution.arn}.",
            )
        in_progress = sum(1 for v in self._versions.values() if v.timeline.is_busy(now))
        if in_progress >= MAX_ACTIVE_SOLUTION_VERSIONS:
            raise PersonalizeError(
                "LimitExceededException",
                f"More than {MAX_ACTIVE_SOLUTION_VERSIONS} resources with PENDING or IN_PROGRESS status.",
            )
        busy = [v for v in versions if v.timeline.is_busy(now)]
        if busy:
            # Also while an automatic training runs: AWS's documentation does
            # not say what CreateSolutionVersion does then, so the emulator
            # models the conservative case.
            raise in_use(
                f"Solution {solution.arn} already has {busy[0].training_type.lower()} solution version "
                f"{busy[0].arn} in status {busy[0].timeline.status_at(now)}."
            )
        mode = p.get("trainingMode", "FULL")
        if mode == "UPDATE" and solution.recipe_arn not in _UPDATE_RECIPE_ARNS:
            raise invalid_input(
                f"trainingMode UPDATE is only for the User-Personalization and HRNN-Coldstart recipes, "
                f"not {solution.recipe_arn}."
            )
        if mode == "UPDATE" and not any(
            v.training_mode == "FULL" and v.timeline.status_at(now) == ACTIVE for v in versions
        ):
            raise invalid_input(
                f"trainingMode UPDATE requires an ACTIVE solution version of {solution.arn} "
                "trained with trainingMode FULL."
            )
        failure = self.faults.take_job_failure("training", [name, solution.arn], now)
        training = self._durations.training_for(mode)
        version = self._new_version(
            solution,
            name=name,
            mode=mode,
            training_type=_MANUAL,
            timeline=Timeline.scheduled(now, self._durations.pending, training, failure),
            training=training,
            created=now,
        )
        return {"solutionVersionArn": version.arn}

    def _describe_solution_version(self, p: Params, now: datetime.datetime) -> Response:
        version = self._version(p["solutionVersionArn"])
        solution = self._solutions[version.solution_arn]
        status, updated = version.timeline.state_at(now)
        return {
            "solutionVersion": _without_none(
                {
                    "name": version.name,
                    "solutionVersionArn": version.arn,
                    "solutionArn": solution.arn,
                    "performHPO": False,
                    "performAutoML": False,
                    "recipeArn": solution.recipe_arn,
                    "datasetGroupArn": solution.dataset_group_arn,
                    "trainingHours": version.training_hours if status == ACTIVE else None,
                    "trainingMode": version.training_mode,
                    "status": status,
                    "failureReason": version.timeline.failure_reason_at(now),
                    "creationDateTime": version.created,
                    "lastUpdatedDateTime": updated,
                    "trainingType": version.training_type,
                }
            )
        }

    def _list_solution_versions(self, p: Params, now: datetime.datetime) -> Response:
        solution_arn = p.get("solutionArn")
        if solution_arn is not None:
            versions = [self._versions[a] for a in self._solution(solution_arn).version_arns]
        else:
            versions = list(self._versions.values())
        summaries = [self._version_summary(v, now) for v in _newest_first(versions)]
        return self._page(summaries, "solutionVersions", p, scope=f"versions|{solution_arn}")

    def _version_summary(self, version: SolutionVersion, now: datetime.datetime) -> Response:
        status, updated = version.timeline.state_at(now)
        return _without_none(
            {
                "solutionVersionArn": version.arn,
                "status": status,
                "trainingMode": version.training_mode,
                "trainingType": version.training_type,
                "creationDateTime": version.created,
                "lastUpdatedDateTime": updated,
                "failureReason": version.timeline.failure_reason_at(now),
            }
        )

    def _stop_solution_version_creation(self, p: Params, now: datetime.datetime) -> Response:
        version = self._version(p["solutionVersionArn"])
        status = version.timeline.status_at(now)
        if status not in (CREATE_PENDING, CREATE_IN_PROGRESS):
            raise invalid_input(
                f"Solution version {version.arn} is {status}; only CREATE PENDING or "
                "CREATE IN_PROGRESS versions can be stopped."
            )
        version.timeline.stop(now, self._durations.stopping)
        return {}

    def _get_solution_metrics(self, p: Params, now: datetime.datetime) -> Response:
        version = self._version(p["solutionVersionArn"])
        status = version.timeline.status_at(now)
        if version.timeline.is_busy(now):
            raise in_use(f"Solution version {version.arn} is {status}; metrics are not available yet.")
        if status != ACTIVE:
            raise invalid_input(f"Solution version {version.arn} is {status} and has no metrics.")
        return {"solutionVersionArn": version.arn, "metrics": self._metrics_for(version)}

    def _metrics_for(self, version: SolutionVersion) -> dict[str, float]:
        metrics = self._metrics.get(version.arn)
        if metrics is None and version.name is not None:
            metrics = self._metrics.get(version.name)
        if metrics is not None:
            return dict(metrics)
        if version.training_mode == "UPDATE":
            # Offline metrics come from training on 90% of the users and
            # testing on the rest ("Evaluating an Amazon Personalize solution
            # version with metrics"); an UPDATE "is not a full retraining"
            # (API reference, CreateSolutionVersion trainingMode). AWS does
            # not say what GetSolutionMetrics returns for it, so the emulator
            # takes the case a quality gate must survive: no metrics at all.
            return {}
        solution = self._solutions[version.solution_arn]
        return derived_metrics(
            version.arn, solution.recipe_arn, optimization_objective=solution.optimization_objective is not None
        )

    def _describe_solution(self, p: Params, now: datetime.datetime) -> Response:
        solution = self._solution(p["solutionArn"])
        versions = [self._versions[a] for a in solution.version_arns]
        latest = _newest_first(versions)[0] if versions else None
        config: dict[str, Any] = {}
        if solution.perform_auto_training:
            rate = f"rate({solution.auto_training_days} days)"
            config["autoTrainingConfig"] = {"schedulingExpression": rate}
        if solution.optimization_objective is not None:
            config["optimizationObjective"] = copy.deepcopy(solution.optimization_objective)
        return {
            "solution": _without_none(
                {
                    "name": solution.name,
                    "solutionArn": solution.arn,
                    "performHPO": False,
                    "performAutoML": False,
                    "performAutoTraining": solution.perform_auto_training,
                    "recipeArn": solution.recipe_arn,
                    "datasetGroupArn": solution.dataset_group_arn,
                    "solutionConfig": config or None,
                    "status": ACTIVE,
                    "creationDateTime": solution.created,
                    "lastUpdatedDateTime": solution.created,
                    "latestSolutionVersion": self._version_summary(latest, now) if latest else None,
                    "latestSolutionUpdate": _solution_update_summary(solution.updates[-1], now)
                    if solution.updates
                    else None,
                }
            )
        }

    def _update_solution(self, p: Params, now: datetime.datetime) -> Response:
        solution = self._solution(p["solutionArn"])
        if solution.updates and solution.updates[-1].timeline.is_busy(now):
            raise in_use(f"Solution {solution.arn} has an update in progress.")
        timeline = Timeline.scheduled(now, self._durations.pending, self._durations.pending)
        update = SolutionUpdate(
            p.get("performAutoTraining"), copy.deepcopy(p.get("solutionUpdateConfig")), now, timeline
        )
        solution.updates.append(update)
        if update.perform_auto_training and not solution.trains_automatically_at(now):
            # "the first automatic training starts within one hour after the solution update completes"
            solution.next_automatic_training = timeline.end + FIRST_AUTOMATIC_TRAINING_DELAY
        return {"solutionArn": solution.arn}

    # ----- datasets and campaigns --------------------------------------------

    def _describe_dataset(self, p: Params, now: datetime.datetime) -> Response:
        dataset = self._dataset(p["datasetArn"])
        return {
            "dataset": _without_none(
                {
                    "name": dataset.name,
                    "datasetArn": dataset.arn,
                    "datasetGroupArn": dataset.dataset_group_arn,
                    "datasetType": dataset.dataset_type,
                    "status": ACTIVE,
                    "creationDateTime": dataset.created,
                    "lastUpdatedDateTime": dataset.created,
                }
            )
        }

    def _describe_campaign(self, p: Params, now: datetime.datetime) -> Response:
        campaign = self._campaign(p["campaignArn"])
        deployed, version_arn, since = self._served(campaign, now)
        latest = campaign.latest_update
        return {
            "campaign": _without_none(
                {
                    "name": campaign.name,
                    "campaignArn": campaign.arn,
                    "solutionVersionArn": version_arn,
                    "minProvisionedTPS": deployed.min_provisioned_tps,
                    "campaignConfig": copy.deepcopy(deployed.campaign_config),
                    # Updates never take the campaign itself out of ACTIVE.
                    "status": ACTIVE,
                    "creationDateTime": campaign.created,
                    "lastUpdatedDateTime": since,
                    "latestCampaignUpdate": _update_summary(latest, now) if latest else None,
                }
            )
        }

    def _update_campaign(self, p: Params, now: datetime.datetime) -> Response:
        campaign = self._campaign(p["campaignArn"])
        latest = campaign.latest_update
        if latest is not None and latest.timeline.is_busy(now):
            raise in_use(f"Campaign {campaign.arn} has an update in status {latest.timeline.status_at(now)}.")
        deployed, served_arn, _ = self._served(campaign, now)
        config = copy.deepcopy(p.get("campaignConfig", deployed.campaign_config))
        requested = p.get("solutionVersionArn")
        follows_latest = _syncs(config)
        if requested is not None and requested.endswith(_LATEST):
            version = self._latest_version_for(campaign, requested, now)
        else:
            # "You must use this format [SolutionArn/$LATEST] if you set
            # syncWithLatestSolutionVersion to True" (API reference,
            # UpdateCampaign solutionVersionArn): a campaign that follows the
            # latest version refuses an explicit one, and a request turning
            # the option on must name $LATEST.
            if follows_latest and (requested is not None or p.get("campaignConfig") is not None):
                raise invalid_input(
                    f"With campaignConfig.syncWithLatestSolutionVersion true, solutionVersionArn must be "
                    f"{campaign.solution_arn}{_LATEST}, not {requested or 'absent'}."
                )
            version = self._version(requested or served_arn)
        if version.solution_arn != campaign.solution_arn:
            raise invalid_input(
                f"Solution version {version.arn} does not belong to solution {campaign.solution_arn} "
                f"of campaign {campaign.arn}."
            )
        status = version.timeline.status_at(now)
        if status != ACTIVE:
            raise invalid_input(f"Solution version {version.arn} is {status}, not ACTIVE.")
        target = Deployment(
            solution_version_arn=version.arn,
            min_provisioned_tps=p.get("minProvisionedTPS", deployed.min_provisioned_tps),
            campaign_config=config,
            follows_latest=follows_latest,
        )
        failure = self.faults.take_job_failure("deployment", [campaign.arn, campaign.name], now)
        timeline = Timeline.scheduled(now, self._durations.pending, self._durations.deployment, failure)
        campaign.updates.append(CampaignUpdate(target, now, timeline, requested))
        return {"campaignArn": campaign.arn}

    def _latest_version_for(self, campaign: Campaign, requested: str, now: datetime.datetime) -> SolutionVersion:
        if requested != f"{campaign.solution_arn}{_LATEST}":
            raise invalid_input(
                f"{requested} does not name the latest version of solution {campaign.solution_arn} "
                f"of campaign {campaign.arn}."
            )
        version = self._latest_active_version(self._solutions[campaign.solution_arn], now)
        if version is None:
            raise invalid_input(f"Solution {campaign.solution_arn} has no ACTIVE solution version.")
        return version

    def _served(self, campaign: Campaign, now: datetime.datetime) -> tuple[Deployment, str, datetime.datetime]:
        """The deployment in force at ``now``, the version it serves and since
        when. A deployment following $LATEST serves the newest ACTIVE version
        from the moment that version is ACTIVE: AWS does not document how long
        its own switch takes."""
        deployed, since = campaign.deployed_at(now)
        if not deployed.follows_latest:
            return deployed, deployed.solution_version_arn, since
        newest = self._latest_active_version(self._solutions[campaign.solution_arn], now)
        if newest is None or newest.arn == deployed.solution_version_arn:
            return deployed, deployed.solution_version_arn, since
        activated = newest.timeline.reached_at(ACTIVE, now) or since
        return deployed, newest.arn, max(since, activated)

    def _latest_active_version(self, solution: Solution, now: datetime.datetime) -> SolutionVersion | None:
        versions = [self._versions[a] for a in solution.version_arns]
        return next((v for v in _newest_first(versions) if v.timeline.status_at(now) == ACTIVE), None)

    # ----- automatic training ------------------------------------------------

    def _catch_up(self) -> datetime.datetime:
        """Decide the import jobs done by now and start every automatic
        training due by now; returns now. Every public entry point calls
        this first (under the lock), so what Personalize would have done
        meanwhile has happened before anything else is read or changed."""
        now = self._time()
        # Before automatic training looks for newly imported data.
        self._settle_imports(now)
        for solution in self._solutions.values():
            while solution.next_automatic_training is not None and solution.next_automatic_training <= now:
                due = solution.next_automatic_training
                if solution.trains_automatically_at(due) and self._trains_automatically_at(solution, due):
                    self._start_automatic_training(solution, due)
                # "The training schedule is based on the training start date"
                # ("Configuring automatic training"), whether or not it trained.
                solution.next_automatic_training = due + datetime.timedelta(days=solution.auto_training_days)
        return now

    def _trains_automatically_at(self, solution: Solution, due: datetime.datetime) -> bool:
        versions = [self._versions[a] for a in solution.version_arns if self._versions[a].created <= due]
        # "If you manually create a solution version within the hour, the
        # solution skips the first automatic training" (CreateSolution).
        if due == solution.first_automatic_training and any(v.created >= solution.created for v in versions):
            return False
        # One training per solution at a time: the documentation does not say
        # what a due run does while a version trains; the emulator skips it.
        if any(v.timeline.is_busy(due) for v in versions):
            return False
        trained = [v.created for v in versions if v.timeline.status_at(due) == ACTIVE]
        return self._has_new_interactions(solution, max(trained, default=None), due)

    def _has_new_interactions(
        self, solution: Solution, since: datetime.datetime | None, due: datetime.datetime
    ) -> bool:
        """Whether interaction data arrived after ``since`` (None: whether
        there is any) and by ``due``. "Automatic training occurs only if you
        imported bulk or real-time interaction data since the last training"
        ("Configuring automatic training")."""
        datasets = {d.arn: d for d in self._datasets.values() if _feeds(solution, d)}
        if since is None and any(d.seeded_with_data for d in datasets.values()):
            return True
        for job in self._import_jobs.values():
            imported = job.timeline.reached_at(ACTIVE, due) if job.dataset_arn in datasets else None
            if imported is not None and (since is None or imported > since):
                return True
        return False

    def _start_automatic_training(self, solution: Solution, due: datetime.datetime) -> None:
        # "Each training considers all of the data in your dataset group"
        # ("Configuring automatic training"): a FULL training. Automatic
        # versions have no name of the caller's choosing.
        failure = self.faults.take_job_failure("training", [solution.arn], due)
        pending, training = self._durations.pending, self._durations.training
        self._new_version(
            solution,
            name=None,
            mode="FULL",
            training_type=_AUTOMATIC,
            timeline=Timeline.scheduled(due, pending, training, failure),
            training=training,
            created=due,
        )

    # ----- helpers ---------------------------------------------------------

    def _time(self) -> datetime.datetime:
        now = self._clock()
        # Mixing naive and aware datetimes would break every comparison.
        return now if now.tzinfo is not None else now.replace(tzinfo=datetime.UTC)

    def _arn(self, resource: str) -> str:
        return f"arn:{_partition(self.region)}:personalize:{self.region}:{self.account_id}:{resource}"

    def _dataset(self, arn: str) -> Dataset:
        return _existing(self._datasets, arn)

    def _solution(self, arn: str) -> Solution:
        return _existing(self._solutions, arn)

    def _campaign(self, arn: str) -> Campaign:
        return _existing(self._campaigns, arn)

    def _version(self, arn: str) -> SolutionVersion:
        return _existing(self._versions, arn)

    def _seed_active_version(self, solution: Solution, now: datetime.datetime) -> SolutionVersion:
        # Backdate so the seeded version has a plausible, fully elapsed history.
        pending, training = self._durations.pending, self._durations.training
        start = now - pending - training
        return self._new_version(
            solution,
            name=None,
            mode="FULL",
            training_type=_MANUAL,
            timeline=Timeline.scheduled(start, pending, training),
            training=training,
            created=start,
        )

    def _new_version(
        self,
        solution: Solution,
        *,
        name: str | None,
        mode: str,
        training_type: str,
        timeline: Timeline,
        training: datetime.timedelta,
        created: datetime.datetime,
    ) -> SolutionVersion:
        seq = next(self._seq)
        arn = self._version_arn(solution, len(solution.version_arns))
        version = SolutionVersion(
            arn=arn,
            name=name,
            solution_arn=solution.arn,
            training_mode=mode,
            training_type=training_type,
            created=created,
            timeline=timeline,
            training_hours=round(training.total_seconds() / 3600, 3),
            seq=seq,
        )
        self._versions[arn] = version
        solution.version_arns.append(arn)
        return version

    def _version_arn(self, solution: Solution, earlier: int) -> str:
        # Deterministic ids keep test runs reproducible; real ones are random. From the solution's own count of
        # versions, not the emulator's sequence of every job: solutions trained side by side get the same ids
        # whichever reaches Personalize first.
        for salt in itertools.count():
            digest = hashlib.sha256(f"{solution.arn}|{earlier}|{salt}".encode()).hexdigest()[:8]
            arn = f"{solution.arn}/{digest}"
            if arn not in self._versions:
                return arn
        raise AssertionError("unreachable")

    def _page(self, items: list[Response], key: str, p: Params, *, scope: str) -> Response:
        size = p.get("maxResults", _DEFAULT_PAGE_SIZE)
        offset = _decode_token(p["nextToken"], scope) if p.get("nextToken") else 0
        result: Response = {key: items[offset : offset + size]}
        if offset + size < len(items):
            result["nextToken"] = _encode_token(offset + size, scope)
        return result


def _existing(resources: Mapping[str, T], arn: str) -> T:
    """The resource at `arn`, or Personalize's ResourceNotFoundException."""
    if arn not in resources:
        raise not_found(arn)
    return resources[arn]


def _syncs(campaign_config: Mapping[str, Any] | None) -> bool:
    return bool((campaign_config or {}).get("syncWithLatestSolutionVersion", False))


def _feeds(solution: Solution, dataset: Dataset) -> bool:
    """Whether the dataset's interactions train the solution. A solution added
    without its dataset group counts every dataset's, and a dataset whose ARN
    does not tell its type counts as interactions."""
    if None not in (solution.dataset_group_arn, dataset.dataset_group_arn) and (
        solution.dataset_group_arn != dataset.dataset_group_arn
    ):
        return False
    return dataset.dataset_type is None or dataset.dataset_type in _INTERACTION_DATASET_TYPES


def _newest_first(resources: list[Any]) -> list[Any]:
    return sorted(resources, key=lambda r: (r.created, r.seq), reverse=True)


def _solution_update_summary(update: SolutionUpdate, now: datetime.datetime) -> Response:
    status, updated = update.timeline.state_at(now)
    return _without_none(
        {
            "performAutoTraining": update.perform_auto_training,
            "solutionUpdateConfig": copy.deepcopy(update.update_config),
            "status": status,
            "failureReason": update.timeline.failure_reason_at(now),
            "creationDateTime": update.created,
            "lastUpdatedDateTime": updated,
        }
    )


def _update_summary(update: CampaignUpdate, now: datetime.datetime) -> Response:
    status, updated = update.timeline.state_at(now)
    return _without_none(
        {
            "solutionVersionArn": update.requested or update.target.solution_version_arn,
            "minProvisionedTPS": update.target.min_provisioned_tps,
            "campaignConfig": copy.deepcopy(update.target.campaign_config),
            "status": status,
            "failureReason": update.timeline.failure_reason_at(now),
            "creationDateTime": update.created,
            "lastUpdatedDateTime": updated,
        }
    )


def _encode_token(offset: int, scope: str) -> str:
    raw = json.dumps({"offset": offset, "scope": scope}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str, scope: str) -> int:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = decoded["offset"]
        valid = decoded["scope"] == scope and isinstance(offset, int) and offset >= 0
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        valid = False
    if not valid:
        raise PersonalizeError("InvalidNextTokenException", "The nextToken is not valid for this request.")
    return offset
