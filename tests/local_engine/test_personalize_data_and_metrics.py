"""The Personalize emulator's import jobs reading their data, and the offline
metrics it reports per recipe and training mode."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_engine.personalize import PersonalizeEmulator, PersonalizeError, serve
from local_engine.personalize.imports import GB, DataRead, StoredObject

UTC = datetime.UTC
START = datetime.datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
REGION = "us-east-1"
ACCOUNT = "123456789012"
PREFIX = f"arn:aws:personalize:{REGION}:{ACCOUNT}"
INTERACTIONS = f"{PREFIX}:dataset/shop/INTERACTIONS"
USERS = f"{PREFIX}:dataset/shop/USERS"
GROUP_ARN = f"{PREFIX}:dataset-group/shop"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/PersonalizeImport"
FOLDER = "s3://shop-data/interactions/2024-03-01/"
RECIPE = "arn:aws:personalize:::recipe/"
JOB_DONE = datetime.timedelta(seconds=60) + datetime.timedelta(hours=1)
TRAINED = datetime.timedelta(seconds=60) + datetime.timedelta(hours=6)
ITEM_METRICS = {
    "coverage",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
}


class ManualClock:
    def __init__(self, start: datetime.datetime) -> None:
        self.current = start

    def now(self) -> datetime.datetime:
        return self.current

    def advance(self, delta: datetime.timedelta) -> None:
        self.current += delta


def csv_body(records: int, *, header: str = "USER_ID,ITEM_ID,TIMESTAMP") -> bytes:
    rows = [header] + [f"u{i},i{i % 7},{1700000000 + i}" for i in range(records)]
    return ("\n".join(rows) + "\n").encode()


def unreadable() -> bytes:
    raise AssertionError("the emulator read an object it should only have sized")


class FakeStore:
    """An in-memory ObjectStore: buckets that exist answer, others are unknown."""

    def __init__(self) -> None:
        self.buckets: dict[str, dict[str, StoredObject]] = {}

    def put(self, location: str, body: bytes = b"", *, size: int | None = None, readable: bool = True) -> None:
        """``size`` declares an object bigger than ``body`` without holding
        its bytes; an object that is not ``readable`` fails the test if read."""
        bucket, _, key = location.removeprefix("s3://").partition("/")
        read = (lambda: body) if readable else unreadable
        self.buckets.setdefault(bucket, {})[key] = StoredObject(key, len(body) if size is None else size, read)

    def list_objects(self, bucket: str, prefix: str) -> list[StoredObject] | None:
        if bucket not in self.buckets:
            return None
        return [o for key, o in self.buckets[bucket].items() if key.startswith(prefix)]


class Local:
    """An emulator on a manual clock, called directly, reading a FakeStore."""

    def __init__(self) -> None:
        self.clock = ManualClock(START)
        self.store = FakeStore()
        self.store.buckets["shop-data"] = {}
        self.emulator = PersonalizeEmulator(self.clock.now, account_id=ACCOUNT, region=REGION, object_store=self.store)
        self.emulator.add_dataset(INTERACTIONS)
        self.emulator.add_dataset(USERS)

    def start_import(self, name: str, location: str = FOLDER, **params: Any) -> str:
        request = {
            "jobName": name,
            "datasetArn": INTERACTIONS,
            "dataSource": {"dataLocation": location},
            "roleArn": ROLE_ARN,
            **params,
        }
        return str(self.emulator.call("CreateDatasetImportJob", request)["datasetImportJobArn"])

    def job(self, arn: str) -> dict[str, Any]:
        return dict(self.emulator.call("DescribeDatasetImportJob", {"datasetImportJobArn": arn})["datasetImportJob"])

    def finished_import(self, name: str, location: str = FOLDER, **params: Any) -> dict[str, Any]:
        arn = self.start_import(name, location, **params)
        self.clock.advance(JOB_DONE)
        return self.job(arn)


@pytest.fixture
def local() -> Local:
    return Local()


# ----- import jobs read their data ------------------------------------------------


def test_folder_location_reads_the_folders_own_csv_files(local: Local) -> None:
    local.store.put(FOLDER, b"")  # a console folder marker
    local.store.put(f"{FOLDER}part-0.csv", csv_body(700))
    local.store.put(f"{FOLDER}part-1.csv", csv_body(600))
    local.store.put(f"{FOLDER}old/part-0.csv", csv_body(5000))
    local.store.put("s3://shop-data/interactions/2024-03-02/part-0.csv", csv_body(5000))

    job = local.finished_import("weekly")

    assert job["status"] == "ACTIVE"
    expected_bytes = len(csv_body(700)) + len(csv_body(600))
    assert local.emulator.data_read(job["datasetImportJobArn"]) == DataRead(2, expected_bytes, 1300)


def test_object_location_reads_only_that_object(local: Local) -> None:
    local.store.put("s3://shop-data/interactions.csv", csv_body(1200))
    local.store.put("s3://shop-data/interactions.csv.bak", csv_body(10))

    job = local.finished_import("single", "s3://shop-data/interactions.csv")

    assert job["status"] == "ACTIVE"
    assert local.emulator.data_read(job["datasetImportJobArn"]) == DataRead(1, len(csv_body(1200)), 1200)


def test_location_without_objects_fails_the_job_once_done(local: Local) -> None:
    local.store.put("s3://shop-data/interactions/2024-02-23/part-0.csv", csv_body(2000))
    arn = local.start_import("empty")

    local.clock.advance(JOB_DONE - datetime.timedelta(seconds=1))
    assert local.job(arn)["status"] == "CREATE IN_PROGRESS"
    local.clock.advance(datetime.timedelta(seconds=1))
    job = local.job(arn)

    assert job["status"] == "CREATE FAILED"
    assert job["failureReason"] == f"No data files found at {FOLDER}."
    assert job["lastUpdatedDateTime"] == START + JOB_DONE
    assert local.emulator.data_read(arn) == DataRead(0, 0, 0)


def test_data_put_while_the_job_runs_is_what_it_reads(local: Local) -> None:
    arn = local.start_import("late-data")
    local.clock.advance(datetime.timedelta(minutes=30))
    assert local.job(arn)["status"] == "CREATE IN_PROGRESS"

    local.store.put(f"{FOLDER}part-0.csv", csv_body(1500))
    local.clock.advance(JOB_DONE)

    assert local.job(arn)["status"] == "ACTIVE"
    data_read = local.emulator.data_read(arn)
    assert data_read is not None and data_read.records == 1500


@pytest.mark.parametrize(
    ("mode", "size", "status"),
    [
        ("INCREMENTAL", 1 * GB, "ACTIVE"),
        ("INCREMENTAL", 1 * GB + 1, "CREATE FAILED"),
        ("FULL", 1 * GB + 1, "ACTIVE"),
        ("FULL", 100 * GB + 1, "CREATE FAILED"),
    ],
)
def test_size_limit_depends_on_import_mode(local: Local, mode: str, size: int, status: str) -> None:
    # Over the limit the job fails before reading a byte.
    local.store.put(f"{FOLDER}part-0.csv", csv_body(1000), size=size - 10, readable=status == "ACTIVE")
    local.store.put(f"{FOLDER}part-1.csv", b"ITEM_ID\n", size=10, readable=status == "ACTIVE")

    job = local.finished_import("sized", importMode=mode)

    assert job["status"] == status
    data_read = local.emulator.data_read(job["datasetImportJobArn"])
    assert data_read is not None
    assert data_read.bytes == size
    if status == "CREATE FAILED":
        limit = "1 GB" if mode == "INCREMENTAL" else "100 GB"
        assert f"{mode} import mode takes at most {limit}" in job["failureReason"]
        assert data_read.records is None


@pytest.mark.parametrize("mode", ["FULL", "INCREMENTAL"])
@pytest.mark.parametrize(("records", "status"), [(999, "CREATE FAILED"), (1000, "ACTIVE")])
def test_interactions_import_needs_a_thousand_records(local: Local, mode: str, records: int, status: str) -> None:
    local.store.put(f"{FOLDER}part-0.csv", csv_body(records - 400))
    local.store.put(f"{FOLDER}part-1.csv", csv_body(400))

    job = local.finished_import("small", importMode=mode)

    assert job["status"] == status
    if status == "CREATE FAILED":
        assert job["failureReason"] == (
            f"The data at {FOLDER} has 999 interaction records; a dataset import job needs at least 1000."
        )


def test_record_minimum_is_for_interactions_only(local: Local) -> None:
    local.store.put("s3://shop-data/users.csv", csv_body(10, header="USER_ID,AGE"))

    job = local.finished_import("users", "s3://shop-data/users.csv", datasetArn=USERS)

    assert job["status"] == "ACTIVE"


def test_records_are_csv_rows_not_lines(local: Local) -> None:
    # One quoted field spans two lines; blank lines are no records.
    body = csv_body(999) + b'u-x,i-x,"line one\nline two"\n\n\n'
    local.store.put(f"{FOLDER}part-0.csv", body)

    job = local.finished_import("quoted")

    assert job["status"] == "ACTIVE"
    data_read = local.emulator.data_read(job["datasetImportJobArn"])
    assert data_read is not None and data_read.records == 1000


def test_unknown_bucket_leaves_the_job_as_before(local: Local) -> None:
    job = local.finished_import("elsewhere", "s3://not-in-the-store/interactions/")

    assert job["status"] == "ACTIVE"
    assert local.emulator.data_read(job["datasetImportJobArn"]) is None


def test_emulator_without_a_store_does_not_read() -> None:
    clock = ManualClock(START)
    emulator = PersonalizeEmulator(clock.now, account_id=ACCOUNT, region=REGION)
    emulator.add_dataset(INTERACTIONS)
    request = {"jobName": "j", "datasetArn": INTERACTIONS, "dataSource": {"dataLocation": FOLDER}}
    arn = emulator.call("CreateDatasetImportJob", request)["datasetImportJobArn"]
    clock.advance(JOB_DONE)

    described = emulator.call("DescribeDatasetImportJob", {"datasetImportJobArn": arn})["datasetImportJob"]
    assert described["status"] == "ACTIVE"
    assert emulator.data_read(arn) is None


def test_injected_failure_wins_and_nothing_is_read(local: Local) -> None:
    local.store.put(f"{FOLDER}part-0.csv", csv_body(5000))
    local.emulator.faults.fail_job("import", "Insufficient privileges for accessing data in S3", name="denied")

    job = local.finished_import("denied")

    reason = "Insufficient privileges for accessing data in S3"
    assert (job["status"], job["failureReason"]) == ("CREATE FAILED", reason)
    assert local.emulator.data_read(job["datasetImportJobArn"]) is None


@pytest.mark.parametrize(("records", "trains"), [(10, False), (1000, True)])
def test_import_failed_by_its_data_is_no_data_for_what_follows(local: Local, records: int, trains: bool) -> None:
    fresh = f"{PREFIX}:dataset/outlet/INTERACTIONS"
    local.emulator.add_dataset(fresh, imported=False)
    solution = local.emulator.add_solution(
        f"{PREFIX}:solution/outlet-auto", perform_auto_training=True, dataset_group_arn=f"{PREFIX}:dataset-group/outlet"
    )
    local.emulator.set_duration("import", datetime.timedelta(minutes=10))
    local.store.put("s3://shop-data/outlet.csv", csv_body(records))

    local.start_import("outlet", "s3://shop-data/outlet.csv", datasetArn=fresh)
    # The first automatic run, an hour after the solution, looks for new interactions.
    local.clock.advance(datetime.timedelta(hours=1))

    versions = local.emulator.call("ListSolutionVersions", {"solutionArn": solution})["solutionVersions"]
    assert len(versions) == (1 if trains else 0)
    if not trains:
        with pytest.raises(PersonalizeError, match="INCREMENTAL"):
            local.start_import("delta", "s3://shop-data/outlet.csv", datasetArn=fresh, importMode="INCREMENTAL")


# ----- through moto's S3 ----------------------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[ManualClock, PersonalizeEmulator, Any, Any]]:
    clock = ManualClock(START)
    emulator = PersonalizeEmulator(clock.now, account_id=ACCOUNT, region=REGION)
    emulator.add_dataset(INTERACTIONS)
    with mock_aws(), serve(emulator):
        s3 = boto3.client("s3", region_name=REGION)
        personalize = boto3.client("personalize", region_name=REGION)
        yield clock, emulator, s3, personalize


def test_import_reads_csv_objects_put_in_moto_s3(served: tuple[ManualClock, PersonalizeEmulator, Any, Any]) -> None:
    clock, emulator, s3, personalize = served
    s3.create_bucket(Bucket="shop-data")
    s3.put_object(Bucket="shop-data", Key="interactions/2024-03-01/part-0.csv", Body=csv_body(1200))
    s3.put_object(Bucket="shop-data", Key="interactions/2024-03-01/part-1.csv", Body=csv_body(300))

    good = personalize.create_dataset_import_job(
        jobName="weekly", datasetArn=INTERACTIONS, dataSource={"dataLocation": FOLDER}, roleArn=ROLE_ARN
    )["datasetImportJobArn"]
    empty = personalize.create_dataset_import_job(
        jobName="empty",
        datasetArn=INTERACTIONS,
        dataSource={"dataLocation": "s3://shop-data/interactions/2024-03-08/"},
        roleArn=ROLE_ARN,
    )["datasetImportJobArn"]
    clock.advance(JOB_DONE)

    assert personalize.describe_dataset_import_job(datasetImportJobArn=good)["datasetImportJob"]["status"] == "ACTIVE"
    assert emulator.data_read(good) == DataRead(2, len(csv_body(1200)) + len(csv_body(300)), 1500)
    [summary] = [
        j for j in personalize.list_dataset_import_jobs()["datasetImportJobs"] if j["datasetImportJobArn"] == empty
    ]
    assert summary["status"] == "CREATE FAILED"
    assert "No data files found at s3://shop-data/interactions/2024-03-08/" in summary["failureReason"]


def test_serve_lends_moto_s3_only_to_an_emulator_without_a_store() -> None:
    bare = PersonalizeEmulator(lambda: START)
    own_store = FakeStore()
    equipped = PersonalizeEmulator(lambda: START, object_store=own_store)
    with mock_aws():
        with serve(bare):
            assert bare.object_store is not None
        with serve(equipped):
            assert equipped.object_store is own_store
    assert bare.object_store is None
    assert equipped.object_store is own_store


# ----- metrics per recipe and training mode ------------------------------------------


@pytest.fixture
def emulator() -> PersonalizeEmulator:
    return PersonalizeEmulator(lambda: START, account_id=ACCOUNT, region=REGION)


def served_metrics(emulator: PersonalizeEmulator, recipe: str, **options: Any) -> dict[str, float]:
    solution = emulator.add_solution(f"{PREFIX}:solution/{recipe}", recipe_arn=f"{RECIPE}{recipe}", **options)
    version = emulator.add_campaign(f"{PREFIX}:campaign/{recipe}", solution_arn=solution)
    return dict(emulator.call("GetSolutionMetrics", {"solutionVersionArn": version})["metrics"])


@pytest.mark.parametrize(
    ("recipe", "names"),
    [
        ("aws-user-personalization", ITEM_METRICS),
        ("aws-user-personalization-v2", ITEM_METRICS),
        ("aws-personalized-ranking", ITEM_METRICS),
        ("aws-sims", ITEM_METRICS),
        ("aws-similar-items", ITEM_METRICS),
        ("aws-popularity-count", ITEM_METRICS),
        (
            "aws-next-best-action",
            {
                "coverage",
                "normalized_discounted_cumulative_gain_at_5",
                "normalized_discounted_cumulative_gain_at_10",
                "normalized_discounted_cumulative_gain_at_25",
                "precision",
                "recall",
            },
        ),
        ("aws-item-affinity", {"coverage"}),
    ],
)
def test_metric_names_follow_the_recipe(emulator: PersonalizeEmulator, recipe: str, names: set[str]) -> None:
    metrics = served_metrics(emulator, recipe)
    assert metrics.keys() == names
    assert all(0 < value < 1 for value in metrics.values())


def test_exploration_covers_more_than_similar_items_and_popularity_least(emulator: PersonalizeEmulator) -> None:
    exploring = served_metrics(emulator, "aws-user-personalization")["coverage"]
    similar = served_metrics(emulator, "aws-similar-items")["coverage"]
    popular = served_metrics(emulator, "aws-popularity-count")["coverage"]
    assert exploring > similar > popular


def test_optimization_objective_adds_average_rewards(emulator: PersonalizeEmulator) -> None:
    objective = {"itemAttribute": "PRICE", "objectiveSensitivity": "MEDIUM"}
    metrics = served_metrics(emulator, "aws-user-personalization", optimization_objective=objective)

    assert metrics.keys() == ITEM_METRICS | {"average_rewards_at_k"}
    described = emulator.call("DescribeSolution", {"solutionArn": f"{PREFIX}:solution/aws-user-personalization"})
    assert described["solution"]["solutionConfig"] == {"optimizationObjective": objective}


def test_update_version_has_no_metrics_unless_set() -> None:
    clock = ManualClock(START)
    emulator = PersonalizeEmulator(clock.now, account_id=ACCOUNT, region=REGION)
    solution = emulator.add_solution(f"{PREFIX}:solution/legacy", recipe_arn=f"{RECIPE}aws-user-personalization")
    full = emulator.add_campaign(f"{PREFIX}:campaign/legacy", solution_arn=solution)
    emulator.set_metrics("update-2", {"coverage": 0.5})

    updates = []
    for name in ("update-1", "update-2"):
        request = {"solutionArn": solution, "trainingMode": "UPDATE", "name": name}
        updates.append(emulator.call("CreateSolutionVersion", request)["solutionVersionArn"])
        clock.advance(TRAINED)

    def metrics(arn: str) -> dict[str, float]:
        return dict(emulator.call("GetSolutionMetrics", {"solutionVersionArn": arn})["metrics"])

    assert metrics(updates[0]) == {}
    assert metrics(updates[1]) == {"coverage": 0.5}
    assert metrics(full).keys() == ITEM_METRICS


def test_metrics_of_lets_a_test_declare_a_version_worse(emulator: PersonalizeEmulator) -> None:
    clock = ManualClock(START)
    emulator = PersonalizeEmulator(clock.now, account_id=ACCOUNT, region=REGION)
    solution = emulator.add_solution(f"{PREFIX}:solution/shop")
    served_version = emulator.add_campaign(f"{PREFIX}:campaign/shop", solution_arn=solution)
    served = emulator.metrics_of(served_version)
    emulator.set_metrics("weekly-2", {name: value * 0.9 for name, value in served.items()})

    candidate = emulator.call("CreateSolutionVersion", {"solutionArn": solution, "name": "weekly-2"})
    clock.advance(TRAINED)
    reported = emulator.call("GetSolutionMetrics", {"solutionVersionArn": candidate["solutionVersionArn"]})["metrics"]

    key = "normalized_discounted_cumulative_gain_at_25"
    assert reported[key] < served[key]
    assert emulator.call("GetSolutionMetrics", {"solutionVersionArn": served_version})["metrics"] == served
    # Reading metrics_of is not an API call.
    assert emulator.count("GetSolutionMetrics") == 2
