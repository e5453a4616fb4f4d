"""aws-sdk integration normalisation: PascalCase in/out, ISO dates, error names."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)

from local_engine.sdk_adapter import (
    AwsSdkAdapter,
    instant_text,
    operation_model,
    service_error_prefix,
    sfn_error_name,
    to_sdk_request,
    to_sfn_response,
)

SDK = "arn:aws:states:::aws-sdk:personalize"
SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Interactions",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [{"name": "USER_ID", "type": "string"}],
        "version": "1.0",
    }
)
MISSING_SCHEMA_ARN = "arn:aws:personalize:us-east-1:123456789012:schema/missing"


# -- pure conversions --------------------------------------------------------------


def test_request_keys_become_member_names_in_nested_shapes() -> None:
    create_solution = operation_model("personalize", "createSolution").input_shape
    pascal = {
        "Name": "s",
        "PerformHPO": True,
        "DatasetGroupArn": "arn:dsg",
        "SolutionConfig": {
            "AlgorithmHyperParameters": {"hidden_dimension": "64", "bptt": "32"},
            "HpoConfig": {"HpoObjective": {"Type": "Maximize", "MetricName": "m"}},
        },
        "Tags": [{"TagKey": "team", "TagValue": "recs"}],
    }

    assert to_sdk_request(pascal, create_solution) == {
        "name": "s",
        "performHPO": True,
        "datasetGroupArn": "arn:dsg",
        "solutionConfig": {
            # map keys are data, not member names: untouched
            "algorithmHyperParameters": {"hidden_dimension": "64", "bptt": "32"},
            "hpoConfig": {"hpoObjective": {"type": "Maximize", "metricName": "m"}},
        },
        "tags": [{"tagKey": "team", "tagValue": "recs"}],
    }


def test_member_names_and_unknown_keys_pass_through() -> None:
    describe_schema = operation_model("personalize", "DescribeSchema").input_shape

    assert to_sdk_request({"schemaArn": "a", "Bogus": 1}, describe_schema) == {
        "schemaArn": "a",
        "Bogus": 1,
    }


def test_response_is_pascal_cased_with_iso_millisecond_dates() -> None:
    describe_campaign = operation_model("personalize", "describeCampaign").output_shape
    created = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2)))
    response = {
        "campaign": {
            "campaignArn": "arn:c",
            "minProvisionedTPS": 1,
            "campaignConfig": {"itemExplorationConfig": {"explorationWeight": "0.3"}},
            "creationDateTime": created,
            "latestCampaignUpdate": {"status": "ACTIVE", "failureReason": "none"},
        }
    }

    assert to_sfn_response(response, describe_campaign) == {
        "Campaign": {
            "CampaignArn": "arn:c",
            "MinProvisionedTPS": 1,
            "CampaignConfig": {"ItemExplorationConfig": {"explorationWeight": "0.3"}},
            "CreationDateTime": "2024-01-02T01:04:05.678Z",
            "LatestCampaignUpdate": {"Status": "ACTIVE", "FailureReason": "none"},
        }
    }


def test_timestamps_are_written_as_java_writes_an_instant() -> None:
    # Milliseconds when there are any (Personalize's precision), none at all on a whole second.
    assert instant_text(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2024-01-02T03:04:05Z"
    assert instant_text(datetime(2024, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)) == "2024-01-02T03:04:05.600Z"
    assert instant_text(datetime(2024, 1, 2, 3, 4, 5, 999, tzinfo=UTC)) == "2024-01-02T03:04:05Z"
    assert instant_text(datetime(2024, 1, 2, 3, 4, 5, 1000)) == "2024-01-02T03:04:05.001Z"  # naive is UTC
    # Whichever form it takes, Python reads it back to the same moment.
    for text in ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05.600Z"):
        assert instant_text(datetime.fromisoformat(text)) == text


def test_error_names_follow_step_functions_convention() -> None:
    assert service_error_prefix("personalize") == "Personalize"
    assert service_error_prefix("acm-pca") == "AcmPca"
    assert service_error_prefix("dynamodb") == "DynamoDb"
    assert service_error_prefix("stepfunctions") == "Sfn"
    assert sfn_error_name("personalize", "ResourceNotFoundException") == ("Personalize.ResourceNotFoundException")
    assert sfn_error_name("s3", "NoSuchKey") == "S3.NoSuchKeyException"


def test_install_and_uninstall_restore_moto() -> None:
    originals = {
        name: StateTaskServiceAwsSdk.__dict__.get(name)
        for name in ("_normalise_parameters", "_normalise_response", "_from_error")
    }
    adapter = AwsSdkAdapter()

    with adapter:
        assert adapter.installed
        assert StateTaskServiceAwsSdk.__dict__["_from_error"] is not originals["_from_error"]

    assert not adapter.installed
    assert {name: StateTaskServiceAwsSdk.__dict__.get(name) for name in originals} == originals


# -- through the interpreter -----------------------------------------------------


def test_personalize_calls_take_and_return_pascal_case(
    run_definition: Callable[..., dict],
) -> None:
    definition = {
        "StartAt": "Create",
        "States": {
            "Create": {
                "Type": "Task",
                "Resource": f"{SDK}:createSchema",
                "Parameters": {"Name": "interactions", "Schema": SCHEMA},
                "ResultPath": "$.created",
                "Next": "Describe",
            },
            "Describe": {
                "Type": "Task",
                "Resource": f"{SDK}:describeSchema",
                "Parameters": {"SchemaArn.$": "$.created.SchemaArn"},
                "ResultSelector": {
                    "Name.$": "$.Schema.Name",
                    "Arn.$": "$.Schema.SchemaArn",
                    "Created.$": "$.Schema.CreationDateTime",
                },
                "End": True,
            },
        },
    }

    execution = run_definition(definition)

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    output = json.loads(execution["output"])
    assert output["Name"] == "interactions"
    assert output["Arn"].endswith(":schema/interactions")
    assert datetime.strptime(output["Created"], "%Y-%m-%dT%H:%M:%S.%fZ")


def test_missing_schema_raises_a_catchable_service_error(
    run_definition: Callable[..., dict],
) -> None:
    definition = {
        "StartAt": "Describe",
        "States": {
            "Describe": {
                "Type": "Task",
                "Resource": f"{SDK}:describeSchema",
                "Parameters": {"SchemaArn": MISSING_SCHEMA_ARN},
                "Catch": [
                    {
                        "ErrorEquals": ["Personalize.ResourceNotFoundException"],
                        "ResultPath": "$.error",
                        "Next": "Handled",
                    }
                ],
                "End": True,
            },
            "Handled": {"Type": "Pass", "End": True},
        },
    }

    execution = run_definition(definition)

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    error = json.loads(execution["output"])["error"]
    assert error["Error"] == "Personalize.ResourceNotFoundException"
    assert MISSING_SCHEMA_ARN in error["Cause"]
    assert "Service: Personalize" in error["Cause"]


def test_uncaught_service_error_fails_the_execution_with_its_name(
    run_definition: Callable[..., dict],
) -> None:
    definition = {
        "StartAt": "Describe",
        "States": {
            "Describe": {
                "Type": "Task",
                "Resource": f"{SDK}:describeSchema",
                "Parameters": {"SchemaArn": MISSING_SCHEMA_ARN},
                "End": True,
            }
        },
    }

    execution = run_definition(definition)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "Personalize.ResourceNotFoundException"
