"""Fixtures shared by every tier: configurations and the stack synthesized once per session."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from infra.config import RefreshConfig, parse_config
from local_engine.synth import synthesize

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "config" / "example.json"


def example_raw() -> dict[str, Any]:
    return json.loads(EXAMPLE_CONFIG.read_text())


def code_package(root: Path, documents: Mapping[str, Any], **environment: str) -> dict[str, str]:
    """A function's environment as the Lambda runtime gives it, its task root `root` holding the settings files
    `documents` (by file name), as the stack bundles them; `environment` adds variables."""
    root.mkdir(parents=True, exist_ok=True)
    for name, document in documents.items():
        (root / name).write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return {"LAMBDA_TASK_ROOT": str(root), **environment}


def code_asset(template: Any, function: str) -> Path:
    """The published code asset (local_engine/assets.py) of the function `function` (a logical id) of a
    synthesized template (an assertions.Template or its JSON): what the function's LAMBDA_TASK_ROOT holds."""
    from local_engine.assets import code_root

    resources = (template if isinstance(template, dict) else template.to_json())["Resources"]
    return code_root(resources[function]["Properties"]["Code"], function=function)


def run_table(region: str, name: str = "runs") -> Any:
    """The run table as the stack defines it (infra/run_table.py), created in the active moto mock."""
    import boto3

    return boto3.resource("dynamodb", region_name=region).create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "campaign_name", "KeyType": "HASH"},
            {"AttributeName": "base_date", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "campaign_name", "AttributeType": "S"},
            {"AttributeName": "base_date", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def configuration_in(account: str, region: str, **changes: Any) -> dict[str, Any]:
    """The example configuration moved to another account and region, with `changes` on top."""
    text = json.dumps(example_raw()).replace("123456789012", account).replace("ap-northeast-2", region)
    return {**json.loads(text), **changes}


def two_of_each_raw() -> dict[str, Any]:
    """The example with an ITEMS dataset and a second campaign, as `make demo ARGS=--two` rehearses it."""
    from rehearsal.scenario import with_second_dataset_and_campaign

    return with_second_dataset_and_campaign(example_raw())


DATASET_TYPES = ("INTERACTIONS", "ITEMS", "USERS")
GATE_METRICS = ("normalized_discounted_cumulative_gain_at_25", "precision_at_25")


def scaled_raw(datasets: int, campaigns: int) -> dict[str, Any]:
    """The example grown to `datasets` datasets (three to a dataset group) and `campaigns` campaigns, each with
    a two-rule quality gate, polled rarely enough for the history budget where it can be."""
    raw = example_raw()
    arn = raw["datasets"][0]["dataset_arn"].rsplit(":", 1)[0]
    bucket = raw["datasets"][0]["data_location"].removeprefix("s3://").split("/", 1)[0]
    raw["datasets"] = [
        {
            "dataset_arn": f"{arn}:dataset/shop-recs-{i // 3}/{DATASET_TYPES[i % 3]}",
            "data_location": f"s3://{bucket}/group-{i // 3}/{DATASET_TYPES[i % 3].lower()}/base_date={{base_date}}/",
        }
        for i in range(datasets)
    ]
    raw["campaigns"] = [
        {
            "campaign_arn": f"{arn}:campaign/shop-recommendations-{i + 1:02d}",
            "solution_arn": f"{arn}:solution/shop-user-personalization-{i + 1:02d}",
            "quality_gate": {"rules": [{"metric": m, "max_drop_percent": 5, "min_value": 0.01} for m in GATE_METRICS]},
        }
        for i in range(campaigns)
    ]
    raw["polling"] = {"dense_seconds": 60, "import_seconds": 600, "training_seconds": 900, "deployment_seconds": 300}
    return raw


@pytest.fixture(autouse=True)
def saved_engine_elsewhere(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rehearsal a test runs saves its engine in a temporary folder, never over the checkout's own."""
    from local_engine.saved import SAVED_ENGINE_VARIABLE

    monkeypatch.setenv(SAVED_ENGINE_VARIABLE, str(tmp_path_factory.getbasetemp() / "saved-engine.pickle.gz"))


@pytest.fixture
def raw_config() -> dict[str, Any]:
    return copy.deepcopy(example_raw())


@pytest.fixture(scope="session")
def example_config() -> RefreshConfig:
    return parse_config(example_raw())


@pytest.fixture(scope="session")
def two_of_each_config() -> RefreshConfig:
    return parse_config(two_of_each_raw())


@pytest.fixture(scope="session")
def example_template(example_config: RefreshConfig) -> Any:
    return synthesize(example_config)


@pytest.fixture(scope="session")
def two_of_each_template(two_of_each_config: RefreshConfig) -> Any:
    return synthesize(two_of_each_config)


def stop_when_training_starts(refresh: Any, *, error: str, cause: str) -> None:
    """An operator stops the running refreshes at the simulated moment a training was created."""
    real_call = refresh.emulator.call
    sfn = refresh.aws.client("stepfunctions")

    def call(operation: str, params: Any) -> Any:
        result = real_call(operation, params)
        if operation == "CreateSolutionVersion":
            machine = refresh.deployment.state_machine_arn
            for execution in sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]:
                sfn.stop_execution(executionArn=execution["executionArn"], error=error, cause=cause)
        return result

    refresh.emulator.call = call
