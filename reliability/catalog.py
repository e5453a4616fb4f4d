"""The fault catalog: every fault the refresh must survive, with what it must end in.

Each fault is run on its own local engine (see matrix.py) by tests/reliability/test_fault_matrix.py and
by `python -m reliability.report`; the soak draws its faults from the same list. A fault whose required
behaviour is not built yet carries `needs`: it is expected to fail (a strict xfail) until that lands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from .faults import (
    ApiError,
    DuplicateGlueEvents,
    Durations,
    GlueEvent,
    HistoryQuota,
    ImportJobAlreadyThere,
    Injection,
    JobFails,
    LambdaCrash,
    LambdaHangs,
    LambdaResultWithout,
    LateGlueEvent,
    ManualStart,
    NextDayDuringRun,
    OversizedFailureReason,
    StoppedByOperator,
    TableFault,
    TrainingStoppedByOthers,
    Trigger,
    UnwantedGlueEvents,
    VersionAlreadyThere,
)
from .outcomes import NO_RECORD, Alerts, Asked, Expected, RecordOutcome

BASE_DATE = 20261129  # the day of the default start: 01:00 on Sunday the 29th in Seoul
FAILED = "Personalize refresh failed"
NOT_STARTED = "Personalize refresh could not start"

# Configurations a soak may run any fault of the example in: they name no resource of their own.
PORTABLE_CONFIGS = ("example", "two_of_each", "shop")


@dataclass(frozen=True)
class Fault:
    id: str
    area: str
    title: str
    expected: Expected
    injections: tuple[Injection, ...] = ()
    trigger: Trigger = field(default_factory=GlueEvent)
    prepare: tuple[Trigger, ...] = ()  # refreshes run to the end before the fault (not observed)
    config: str = "example"
    day: int = BASE_DATE
    needs: str | None = None  # the feature this behaviour waits for
    note: str = ""  # why the expectation is what it is, where that is not obvious
    not_in_soak: str = ""  # why the soak may not draw it, when that is not its trigger or its `needs`

    @property
    def soakable(self) -> bool:
        """Whether the soak may draw it: its behaviour exists and it is only injections into a Glue-triggered run."""
        return self.needs is None and not self.prepare and isinstance(self.trigger, GlueEvent) and not self.not_in_soak


def failed(
    phase: str,
    error: str,
    reason: str | None = None,
    *,
    asked: Asked,
    execution_error: str | None = None,
    serving: str = "previous",
) -> Expected:
    """One campaign's run failed in `phase` with `error`, was recorded and alerted once."""
    return Expected(
        executions=(f"FAILED/{execution_error or error}",),
        record=RecordOutcome("FAILED", phase, error, reason),
        alerts=Alerts(1, FAILED, (error, str(BASE_DATE))),
        asked=asked,
        serving=serving,
    )


def ended_uncaught(status: str, phase: str, error: str, *, asked: Asked, execution: str | None = None) -> Expected:
    """The contract for an execution that ends with no Catch of its own running: its records move to
    `status` with `error`, in the phase the run was in, and exactly one alert is sent."""
    return Expected(
        executions=(execution or status,),
        record=RecordOutcome(status, phase, error),
        alerts=Alerts(1),
        asked=asked,
        serving="previous",
    )


SUCCEEDED = Expected()
IMPORT_ONLY = Asked(imports=1, trainings=0, updates=0)
NOTHING_CREATED_IMPORT = Asked(imports=1, trainings=0, updates=0, import_jobs=0)
UNTIL_TRAINING = Asked(imports=1, trainings=1, updates=0)
NOTHING_ASKED = Asked(imports=0, trainings=0, updates=0)
NO_RUN = Expected(executions=("FAILED/InvalidRunInput",), record=NO_RECORD, asked=NOTHING_ASKED, serving="previous")
RUNTIME_EXIT = "Runtime exited with error"

_API = "Personalize API, called by a task Lambda"
# The first DescribeCampaign of a run is the automation guard's, at its start; the Deploy version
# Lambda's is the second, and the state machine's polls follow.
_POLL = "Personalize API, polled by the state machine"
_JOBS = "Personalize jobs"
_LAMBDA = "Task Lambdas"
_TABLE = "Run table (DynamoDB)"
_TRIGGER = "Triggers"
_CAMPAIGNS = "Several campaigns"
_EXECUTION = "The execution"
_INPUT = "Bad input"

FAULTS: tuple[Fault, ...] = (
    # Personalize calls made by the Lambdas -------------------------------------------------------------
    Fault(
        "import-limit-exceeded",
        _API,
        "CreateDatasetImportJob: LimitExceededException (5 imports in flight) outlasting the SDK's retries",
        Expected(asked=Asked(imports=7)),
        (ApiError("CreateDatasetImportJob", "LimitExceededException", times=6),),
        note="5 attempts by the SDK, then the state machine backs off in minutes and calls again",
    ),
    Fault(
        "import-in-use",
        _API,
        "CreateDatasetImportJob: ResourceInUseException",
        Expected(asked=Asked(imports=2)),
        (ApiError("CreateDatasetImportJob", "ResourceInUseException"),),
    ),
    Fault(
        "import-invalid-input",
        _API,
        "CreateDatasetImportJob: InvalidInputException",
        failed("IMPORT", "InvalidInputException", "role cannot read the bucket", asked=NOTHING_CREATED_IMPORT),
        (ApiError("CreateDatasetImportJob", "InvalidInputException", message="The role cannot read the bucket"),),
    ),
    Fault(
        "import-not-found",
        _API,
        "CreateDatasetImportJob: ResourceNotFoundException (the dataset was deleted)",
        failed("IMPORT", "ResourceNotFoundException", asked=NOTHING_CREATED_IMPORT),
        (ApiError("CreateDatasetImportJob", "ResourceNotFoundException"),),
    ),
    Fault(
        "import-already-exists",
        _API,
        "CreateDatasetImportJob: ResourceAlreadyExistsException (the day's job was started before)",
        Expected(asked=Asked(imports=1, import_jobs=1)),
        (ImportJobAlreadyThere(),),
        note="the job of that name is found and followed, not created again",
    ),
    Fault(
        "import-throttled",
        _API,
        "CreateDatasetImportJob: ThrottlingException (not in the model) twice",
        Expected(asked=Asked(imports=3)),
        (ApiError("CreateDatasetImportJob", "ThrottlingException", times=2),),
        note="absorbed by the SDK's own retries",
    ),
    Fault(
        "training-limit-exceeded",
        _API,
        "CreateSolutionVersion: LimitExceededException (20 versions in flight)",
        Expected(asked=Asked(trainings=2)),
        (ApiError("CreateSolutionVersion", "LimitExceededException"),),
    ),
    Fault(
        "training-in-use",
        _API,
        "CreateSolutionVersion: ResourceInUseException",
        Expected(asked=Asked(trainings=2)),
        (ApiError("CreateSolutionVersion", "ResourceInUseException"),),
    ),
    Fault(
        "training-in-use-outlasting",
        _API,
        "CreateSolutionVersion: ResourceInUseException outlasting the state machine's retries",
        failed("TRAINING", "ResourceInUseException", asked=Asked(trainings=81, updates=0, versions=0)),
        (ApiError("CreateSolutionVersion", "ResourceInUseException", times=81),),
        note="eighty retries, waiting for the solution's other training, over about ten hours, then the run fails",
    ),
    Fault(
        "training-invalid-input",
        _API,
        "CreateSolutionVersion: InvalidInputException",
        failed(
            "TRAINING",
            "InvalidInputException",
            "Solution has no ACTIVE dataset",
            asked=Asked(trainings=1, updates=0, versions=0),
        ),
        (ApiError("CreateSolutionVersion", "InvalidInputException", message="Solution has no ACTIVE dataset"),),
    ),
    Fault(
        "training-not-found",
        _API,
        "CreateSolutionVersion: ResourceNotFoundException (the solution was deleted)",
        failed("TRAINING", "ResourceNotFoundException", asked=Asked(trainings=1, updates=0, versions=0)),
        (ApiError("CreateSolutionVersion", "ResourceNotFoundException"),),
    ),
    Fault(
        "training-already-exists",
        _API,
        "CreateSolutionVersion: ResourceAlreadyExistsException (the day's version is already training)",
        Expected(asked=Asked(trainings=1)),
        (VersionAlreadyThere(),),
        note="the version of that name is found through ListSolutionVersions and followed",
    ),
    Fault(
        "training-internal-failure",
        _API,
        "CreateSolutionVersion: InternalFailure (HTTP 500) outlasting the SDK's retries",
        Expected(asked=Asked(trainings=7)),
        (ApiError("CreateSolutionVersion", "InternalFailure", times=6),),
        note="the Lambda raises PersonalizeUnavailable, which the state machine retries",
    ),
    Fault(
        "list-versions-throttled",
        _API,
        "ListSolutionVersions: ThrottlingException outlasting the SDK's retries, while finding the day's version",
        Expected(asked=Asked(trainings=2)),
        (VersionAlreadyThere(), ApiError("ListSolutionVersions", "ThrottlingException", times=5)),
    ),
    Fault(
        "list-versions-not-found",
        _API,
        "ListSolutionVersions: ResourceNotFoundException while finding the day's version",
        failed("TRAINING", "ResourceNotFoundException", asked=Asked(trainings=1, updates=0, versions=1)),
        (VersionAlreadyThere(), ApiError("ListSolutionVersions", "ResourceNotFoundException")),
    ),
    Fault(
        "describe-campaign-not-found",
        _API,
        "DescribeCampaign before the update: ResourceNotFoundException (the campaign was deleted)",
        failed("DEPLOYMENT", "ResourceNotFoundException", asked=UNTIL_TRAINING),
        (ApiError("DescribeCampaign", "ResourceNotFoundException", at_call=2),),
    ),
    Fault(
        "describe-campaign-throttled",
        _API,
        "DescribeCampaign before the update: ThrottlingException",
        SUCCEEDED,
        (ApiError("DescribeCampaign", "ThrottlingException", at_call=2),),
    ),
    Fault(
        "update-in-use",
        _API,
        "UpdateCampaign: ResourceInUseException (another update is in progress)",
        Expected(asked=Asked(updates=2)),
        (ApiError("UpdateCampaign", "ResourceInUseException"),),
    ),
    Fault(
        "update-invalid-input",
        _API,
        "UpdateCampaign: InvalidInputException",
        failed("DEPLOYMENT", "InvalidInputException", "minProvisionedTPS", asked=Asked()),
        (ApiError("UpdateCampaign", "InvalidInputException", message="minProvisionedTPS is out of range"),),
    ),
    Fault(
        "update-not-found",
        _API,
        "UpdateCampaign: ResourceNotFoundException",
        failed("DEPLOYMENT", "ResourceNotFoundException", asked=Asked()),
        (ApiError("UpdateCampaign", "ResourceNotFoundException"),),
    ),
    Fault(
        "update-internal-failure",
        _API,
        "UpdateCampaign: InternalFailure (HTTP 500) outlasting the SDK's retries",
        Expected(asked=Asked(updates=7)),
        (ApiError("UpdateCampaign", "InternalFailure", times=6),),
    ),
    # Personalize calls made by the state machine's polls -----------------------------------------------
    Fault(
        "poll-import-not-found",
        _POLL,
        "DescribeDatasetImportJob: ResourceNotFoundException",
        failed("IMPORT", "ImportPollFailed", "ResourceNotFoundException", asked=IMPORT_ONLY),
        (ApiError("DescribeDatasetImportJob", "ResourceNotFoundException"),),
    ),
    Fault(
        "poll-import-throttled",
        _POLL,
        "DescribeDatasetImportJob: ThrottlingException twice",
        SUCCEEDED,
        (ApiError("DescribeDatasetImportJob", "ThrottlingException", times=2),),
    ),
    Fault(
        "poll-import-unavailable",
        _POLL,
        "DescribeDatasetImportJob: InternalFailure (HTTP 500) five times in a row",
        failed("IMPORT", "ImportPollFailed", "Personalize.PersonalizeException", asked=IMPORT_ONLY),
        (ApiError("DescribeDatasetImportJob", "InternalFailure", times=5),),
        note="a poll gives up after four retries (75 s): the run fails though the import goes on",
    ),
    Fault(
        "poll-training-not-found",
        _POLL,
        "DescribeSolutionVersion: ResourceNotFoundException",
        failed("TRAINING", "Personalize.ResourceNotFoundException", asked=UNTIL_TRAINING),
        (ApiError("DescribeSolutionVersion", "ResourceNotFoundException"),),
    ),
    Fault(
        "poll-training-throttled",
        _POLL,
        "DescribeSolutionVersion: ThrottlingException twice",
        SUCCEEDED,
        (ApiError("DescribeSolutionVersion", "ThrottlingException", times=2),),
    ),
    Fault(
        "poll-deployment-unavailable",
        _POLL,
        "DescribeCampaign while the update runs: InternalFailure (HTTP 500) five times in a row",
        failed("DEPLOYMENT", "Personalize.PersonalizeException", asked=Asked(), serving="new"),
        (ApiError("DescribeCampaign", "InternalFailure", times=5, at_call=3),),
        note="the update Personalize accepted still completes: the campaign serves the new version of a FAILED run",
    ),
    # Personalize's own jobs ----------------------------------------------------------------------------
    Fault(
        "import-job-failed",
        _JOBS,
        "The import job ends CREATE FAILED with a failureReason",
        failed("IMPORT", "ImportJobFailed", "Input data is missing column ITEM_ID", asked=IMPORT_ONLY),
        (JobFails("import", "Input data is missing column ITEM_ID"),),
    ),
    Fault(
        "import-job-failed-silently",
        _JOBS,
        "The import job ends CREATE FAILED without a failureReason",
        failed("IMPORT", "ImportJobFailed", "Personalize gave no failureReason", asked=IMPORT_ONLY),
        (JobFails("import", None),),
    ),
    Fault(
        "training-failed",
        _JOBS,
        "The solution version ends CREATE FAILED with a failureReason",
        failed("TRAINING", "TrainingFailed", "Not enough interactions", asked=UNTIL_TRAINING),
        (JobFails("training", "Not enough interactions"),),
    ),
    Fault(
        "training-failed-silently",
        _JOBS,
        "The solution version ends CREATE FAILED without a failureReason",
        failed("TRAINING", "TrainingFailed", "Personalize gave no failureReason", asked=UNTIL_TRAINING),
        (JobFails("training", None),),
    ),
    Fault(
        "deployment-failed",
        _JOBS,
        "The campaign update ends CREATE FAILED with a failureReason",
        failed("DEPLOYMENT", "DeploymentFailed", "internal error", asked=Asked()),
        (JobFails("deployment", "Campaign update failed: internal error"),),
    ),
    Fault(
        "deployment-failed-silently",
        _JOBS,
        "The campaign update ends CREATE FAILED without a failureReason",
        failed("DEPLOYMENT", "DeploymentFailed", "Personalize gave no failureReason", asked=Asked()),
        (JobFails("deployment", None),),
    ),
    Fault(
        "training-stopped",
        _JOBS,
        "Someone else stops the training (StopSolutionVersionCreation)",
        failed("TRAINING", "TrainingStopped", "was stopped", asked=UNTIL_TRAINING),
        (Durations(training=timedelta(hours=1)), TrainingStoppedByOthers()),
    ),
    Fault(
        "import-over-limit",
        _JOBS,
        "The import runs past its phase timeout (30 h)",
        Expected(
            executions=("FAILED/ImportTimedOut",),
            record=RecordOutcome("TIMED_OUT", "IMPORT", "ImportTimedOut"),
            alerts=Alerts(1),
            asked=IMPORT_ONLY,
            serving="previous",
        ),
        (Durations(import_=timedelta(hours=30)),),
        config="hourly_polling",
    ),
    Fault(
        "training-over-limit",
        _JOBS,
        "The training runs past its phase timeout (30 h)",
        Expected(
            executions=("FAILED/TrainingTimedOut",),
            record=RecordOutcome("TIMED_OUT", "TRAINING", "TrainingTimedOut"),
            alerts=Alerts(1),
            asked=Asked(imports=1, trainings=1, updates=0, stops=1),
            serving="previous",
        ),
        (Durations(training=timedelta(hours=30)),),
        config="hourly_polling",
        note="the training is stopped with StopSolutionVersionCreation",
    ),
    Fault(
        "deployment-over-limit",
        _JOBS,
        "The campaign update runs past its phase timeout (30 h)",
        Expected(
            executions=("FAILED/DeploymentTimedOut",),
            record=RecordOutcome("TIMED_OUT", "DEPLOYMENT", "DeploymentTimedOut"),
            alerts=Alerts(1),
            asked=Asked(),
            serving="previous",
        ),
        (Durations(deployment=timedelta(hours=30)),),
        config="hourly_polling",
    ),
    # The task Lambdas ----------------------------------------------------------------------------------
    Fault(
        "import-lambda-crash-before",
        _LAMBDA,
        "Start import dies before it calls Personalize",
        failed("IMPORT", "Runtime.ExitError", RUNTIME_EXIT, asked=NOTHING_ASKED),
        (LambdaCrash("start_import:start_imports"),),
    ),
    Fault(
        "import-lambda-crash-after",
        _LAMBDA,
        "Start import dies after Personalize accepted the import",
        failed("IMPORT", "Runtime.ExitError", RUNTIME_EXIT, asked=IMPORT_ONLY),
        (LambdaCrash("refresh_common.run_record:RunRecords.record_import_started"),),
        note="a re-run finds the job by its name",
    ),
    Fault(
        "training-lambda-crash-after",
        _LAMBDA,
        "Start training dies after Personalize accepted the version",
        failed("TRAINING", "Runtime.ExitError", RUNTIME_EXIT, asked=UNTIL_TRAINING),
        (LambdaCrash("refresh_common.run_record:RunRecords.record_training_started"),),
    ),
    Fault(
        "deploy-lambda-crash-after",
        _LAMBDA,
        "Deploy version dies after Personalize accepted the campaign update",
        failed("DEPLOYMENT", "Runtime.ExitError", RUNTIME_EXIT, asked=Asked(), serving="new"),
        (LambdaCrash("refresh_common.run_record:RunRecords.record_deployment_started"),),
        note="the update still completes: the campaign serves the new version of a FAILED run",
    ),
    Fault(
        "training-lambda-hangs",
        _LAMBDA,
        "Start training hangs past its task's 120 s timeout",
        Expected(
            executions=("FAILED/CampaignRefreshFailed",),
            record=RecordOutcome("FAILED", "TRAINING", "States.Timeout"),
            alerts=Alerts(1, FAILED, ("States.Timeout",)),
            asked=Asked(imports=1, trainings=0, updates=0),
            serving="previous",
        ),
        (LambdaHangs("start_training:start_training"),),
        note="an error Step Functions raises itself ends the execution under a name of the pipeline's own",
        not_in_soak=(
            "the local engine runs one Lambda invocation at a time, so a Lambda hanging in simulated time would "
            "block forever any other invoked meanwhile (another campaign's, a duplicate's)"
        ),
    ),
    Fault(
        "training-lambda-result-malformed",
        _LAMBDA,
        "Start training returns no solution_version_arn (an uncatchable States.Runtime)",
        ended_uncaught(
            "FAILED", "TRAINING", "States.Runtime", asked=UNTIL_TRAINING, execution="FAILED/CampaignRefreshFailed"
        ),
        (LambdaResultWithout("start_training:start_training", "solution_version_arn"),),
        note="the campaign's execution ends uncaught; the refresh that awaits it records and alerts it",
    ),
    # The run table -------------------------------------------------------------------------------------
    Fault(
        "lambda-write-throttled",
        _TABLE,
        "A Lambda's record write throttled three times",
        SUCCEEDED,
        (TableFault("UpdateItem", "ProvisionedThroughputExceededException", 3, "dataset_import_job_datetime"),),
        note="absorbed by the SDK's own retries",
    ),
    Fault(
        "lambda-write-throttled-outlasting",
        _TABLE,
        "A Lambda's record write throttled beyond the SDK's retries",
        failed("IMPORT", "ProvisionedThroughputExceededException", asked=IMPORT_ONLY),
        (TableFault("UpdateItem", "ProvisionedThroughputExceededException", 4, "dataset_import_job_datetime"),),
        note="the import Personalize accepted is not in the record; a re-run finds it by its name",
    ),
    Fault(
        "state-machine-write-throttled",
        _TABLE,
        "A state machine's record write throttled, limited, then failing with HTTP 500",
        SUCCEEDED,
        tuple(
            TableFault("UpdateItem", code, 1, "SET solution_version_status")
            for code in ("ProvisionedThroughputExceededException", "RequestLimitExceeded", "InternalServerError")
        ),
    ),
    Fault(
        "state-machine-write-failing",
        _TABLE,
        "A state machine's record write throttled beyond its retries",
        failed("TRAINING", "DynamoDB.ProvisionedThroughputExceededException", asked=UNTIL_TRAINING),
        (TableFault("UpdateItem", "ProvisionedThroughputExceededException", 6, "SET solution_version_status"),),
    ),
    Fault(
        "failure-write-failing",
        _TABLE,
        "The write that records a failure throttled beyond its retries",
        Expected(
            executions=("FAILED/TrainingFailed",),
            record=RecordOutcome("FAILED", "TRAINING", "TrainingFailed"),
            alerts=Alerts(1),
            asked=UNTIL_TRAINING,
            serving="previous",
        ),
        (
            JobFails("training", "Not enough interactions"),
            TableFault("UpdateItem", "ProvisionedThroughputExceededException", 6, "SET run_status = :failed"),
        ),
        note="the failure path alerts, saying the record could not be written; the execution's end then writes it",
    ),
    Fault(
        "claim-throttled",
        _TABLE,
        "The claim's transaction throttled beyond the SDK's retries",
        Expected(
            executions=("FAILED/ClaimFailed",),
            record=NO_RECORD,
            alerts=Alerts(1, NOT_STARTED, ("ThrottlingException",)),
            asked=NOTHING_ASKED,
            serving="previous",
        ),
        (TableFault("TransactWriteItems", "ThrottlingException", 4),),
        note="nothing was claimed; the day can be started again by hand",
    ),
    # Triggers ------------------------------------------------------------------------------------------
    Fault(
        "duplicate-event",
        _TRIGGER,
        "The Glue event delivered twice at the same moment",
        Expected(executions=("SUCCEEDED", "SUCCEEDED")),
        trigger=DuplicateGlueEvents(),
        note="one execution claims the day, the other ends as a duplicate",
    ),
    Fault(
        "duplicate-event-after-success",
        _TRIGGER,
        "The Glue event delivered again after the day succeeded",
        Expected(
            asked=Asked(imports=0, trainings=0, updates=0, import_jobs=1, versions=1),
            serving="previous",
            day_untouched=True,
        ),
        prepare=(GlueEvent(),),
    ),
    Fault(
        "late-event",
        _TRIGGER,
        "A Glue event for the day before, delivered after today's refresh",
        Expected(),
        trigger=LateGlueEvent(days=1),
        prepare=(GlueEvent(),),
        day=BASE_DATE - 1,
        note="it refreshes that older day: its model replaces the newer one",
    ),
    Fault(
        "overlapping-run",
        _TRIGGER,
        "The next day's event while this day's training (30 h) still runs",
        Expected(
            executions=("SUCCEEDED", "TIMED_OUT"),
            record=RecordOutcome("TIMED_OUT", "TRAINING", "ExecutionTimedOut"),
            alerts=Alerts(1, text=(str(BASE_DATE + 1),)),
            asked=Asked(imports=2, trainings=None, updates=1, import_jobs=1, versions=1),
            serving="other",
        ),
        (Durations(training=timedelta(hours=30)),),
        trigger=NextDayDuringRun(),
        config="long_training",
        day=BASE_DATE + 1,
        note=(
            "the later run imports, waits for the earlier training to end (retried, in its campaign's execution), "
            "then trains; its own 30 h training outlasts its execution's 36 h timeout: recorded TIMED_OUT and "
            "alerted. The earlier run deploys its version (the campaign serves the day before's); never two "
            "trainings of one solution at once"
        ),
    ),
    Fault(
        "unwanted-events",
        _TRIGGER,
        "A success of another Glue job, and a failed run of the configured one",
        Expected(executions=(), record=NO_RECORD, asked=NOTHING_ASKED, serving="previous"),
        trigger=UnwantedGlueEvents(),
    ),
    # Several campaigns ---------------------------------------------------------------------------------
    Fault(
        "one-training-fails",
        _CAMPAIGNS,
        "Two campaigns: one campaign's training fails",
        Expected(
            executions=("FAILED/TrainingFailed",),
            campaigns={
                "shop-home-recommendations": RecordOutcome("SUCCEEDED"),
                "shop-similar-items": RecordOutcome("FAILED", "TRAINING", "TrainingFailed", "Not enough interactions"),
            },
            alerts=Alerts(1, FAILED, ("shop-similar-items", "TrainingFailed")),
            asked=Asked(imports=2, trainings=2, updates=1),
            serving_by_campaign={"shop-home-recommendations": "new", "shop-similar-items": "previous"},
        ),
        (JobFails("training", "Not enough interactions", campaign=1),),
        config="two_of_each",
    ),
    Fault(
        "one-deployment-fails",
        _CAMPAIGNS,
        "Two campaigns: one campaign's update fails",
        Expected(
            executions=("FAILED/DeploymentFailed",),
            campaigns={
                "shop-home-recommendations": RecordOutcome("SUCCEEDED"),
                "shop-similar-items": RecordOutcome("FAILED", "DEPLOYMENT", "DeploymentFailed", "internal error"),
            },
            alerts=Alerts(1, FAILED, ("shop-similar-items", "DeploymentFailed")),
            asked=Asked(imports=2, trainings=2, updates=2),
            serving_by_campaign={"shop-home-recommendations": "new", "shop-similar-items": "previous"},
        ),
        (JobFails("deployment", "Campaign update failed: internal error", campaign=1),),
        config="two_of_each",
    ),
    Fault(
        "shared-training-fails",
        _CAMPAIGNS,
        "A shop (3 datasets, 3 campaigns): the training of the solution two campaigns share fails",
        Expected(
            executions=("FAILED/TrainingFailed",),
            campaigns={
                "shop-1-campaign-1": RecordOutcome("FAILED", "TRAINING", "TrainingFailed", "Not enough interactions"),
                "shop-1-campaign-2": RecordOutcome("FAILED", "TRAINING", "TrainingFailed", "Not enough interactions"),
                "shop-1-campaign-3": RecordOutcome("SUCCEEDED"),
            },
            alerts=Alerts(2, FAILED, ("TrainingFailed", "Not enough interactions")),
            asked=Asked(imports=3, trainings=3, updates=1, versions=2),
            serving_by_campaign={
                "shop-1-campaign-1": "previous",
                "shop-1-campaign-2": "previous",
                "shop-1-campaign-3": "new",
            },
        ),
        (JobFails("training", "Not enough interactions", campaign=0),),
        config="shop",
        note="the solution is trained once for both campaigns (the second's create finds the first's version and "
        "follows it); its failure is each one's, the third deploys",
    ),
    Fault(
        "shop-import-fails",
        _CAMPAIGNS,
        "A shop (3 datasets, 3 campaigns): the users dataset's import fails",
        Expected(
            executions=("FAILED/ImportJobFailed",),
            record=RecordOutcome("FAILED", "IMPORT", "ImportJobFailed", "Invalid CSV"),
            alerts=Alerts(1, FAILED, ("ImportJobFailed", "Invalid CSV")),
            asked=Asked(imports=3, trainings=0, updates=0, versions=0),
            serving="previous",
        ),
        (JobFails("import", "Invalid CSV", dataset=2),),
        config="shop",
        note="every campaign of the group trains on all its datasets: none trains on a partial import",
    ),
    Fault(
        "shop-imports-wait-for-room",
        _CAMPAIGNS,
        "A shop (3 datasets, 3 campaigns): the region runs its quota of imports; 30 import calls find no room",
        Expected(asked=Asked(imports=None, trainings=3, updates=3, versions=2)),
        (ApiError("CreateDatasetImportJob", "LimitExceededException", times=30),),
        config="shop",
        note="each dataset's import waits for room in its own execution, recorded WAITING_FOR_ROOM, then runs; "
        "the shared solution trains once (three creates asked, two versions)",
    ),
    # The execution itself ------------------------------------------------------------------------------
    Fault(
        "stopped-by-operator",
        _EXECUTION,
        "An operator stops the execution during training",
        ended_uncaught(
            "ABORTED", "TRAINING", "StoppedByOperator", asked=UNTIL_TRAINING, execution="ABORTED/StoppedByOperator"
        ),
        (Durations(training=timedelta(hours=3)),),
        trigger=StoppedByOperator(after=timedelta(hours=1)),
        note="the record keeps the error and cause the operator gave StopExecution",
    ),
    Fault(
        "execution-timeout",
        _EXECUTION,
        "The execution times out (execution_timeout_hours 2) during training",
        ended_uncaught("TIMED_OUT", "TRAINING", "ExecutionTimedOut", asked=UNTIL_TRAINING),
        (Durations(training=timedelta(hours=3)),),
        config="short_timeout",
    ),
    Fault(
        "history-quota",
        _EXECUTION,
        "The campaign's execution reaches the history quota (lowered to 400 events) during training",
        ended_uncaught(
            "FAILED", "TRAINING", "States.Runtime", asked=UNTIL_TRAINING, execution="FAILED/CampaignRefreshFailed"
        ),
        (Durations(training=timedelta(hours=10)), HistoryQuota(400)),
        note="the refresh that awaits the campaign's execution records and alerts its end",
    ),
    Fault(
        "data-limit-exceeded",
        _EXECUTION,
        "A state's output over 256 KB (a 300,000-character failureReason): States.DataLimitExceeded",
        failed("IMPORT", "ImportExecutionFailed", "States.DataLimitExceeded", asked=IMPORT_ONLY),
        (OversizedFailureReason(),),
        note="the import's execution ends uncaught; the refresh that awaits it fails the run, recorded and alerted",
    ),
    # Bad input -----------------------------------------------------------------------------------------
    Fault(
        "manual-bad-date",
        _INPUT,
        "A manual start with base_date 2026-11-29 (not YYYYMMDD)",
        NO_RUN,
        trigger=ManualStart('{"base_date": "2026-11-29"}'),
    ),
    Fault(
        "manual-unknown-field",
        _INPUT,
        "A manual start with a field it does not accept (a campaign ARN)",
        NO_RUN,
        trigger=ManualStart(
            '{"base_date": "20261129", "campaign_arn": "arn:aws:personalize:ap-northeast-2:123456789012:campaign/x"}'
        ),
    ),
    Fault(
        "manual-unconfigured-job",
        _INPUT,
        "A hand-made Glue-shaped input naming a Glue job that is not configured",
        NO_RUN,
        trigger=ManualStart(
            '{"trigger": "glue", "job_name": "some-other-export", "job_run_id": "jr_1",'
            ' "event_time": "2026-11-28T16:00:00Z"}'
        ),
    ),
)

BY_ID = {fault.id: fault for fault in FAULTS}
AREAS = tuple(dict.fromkeys(fault.area for fault in FAULTS))


def soak_faults(config: str) -> tuple[Fault, ...]:
    """The faults the soak may draw for a refresh of `config`."""
    return tuple(
        fault
        for fault in FAULTS
        if fault.soakable and (fault.config == config or (fault.config == "example" and config in PORTABLE_CONFIGS))
    )


def soak_excluded() -> tuple[Fault, ...]:
    return tuple(fault for fault in FAULTS if not fault.soakable)
