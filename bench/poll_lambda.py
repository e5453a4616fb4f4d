"""The Lambda-retry policy's poller: describe one Personalize job and raise ResourcePending until it has ended.

Step Functions retries the Task on ResourcePending (every 60 s, back-off rate 1.02), so each poll is one
Lambda invocation. Once the job has ended the handler returns what the project's describe Task would have
put in the state (the aws-sdk integration's PascalCase response), so the poll loop's Choices read it unchanged.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3

from local_engine.sdk_adapter import operation_model, to_sfn_response

_ENDED = frozenset({"ACTIVE", "CREATE FAILED", "CREATE STOPPED"})


class ResourcePending(Exception):
    """The job has not ended yet: the name the Task's Retry matches."""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # The task Lambdas' clock, which the local engine runs on simulated time; lambdas/ is on the path once deployed.
    from refresh_common import clock

    phase, arn = event["phase"], event["arn"]
    client = _client(os.environ["AWS_REGION"])
    if phase == "import":
        operation, response = "DescribeDatasetImportJob", client.describe_dataset_import_job(datasetImportJobArn=arn)
        status = response["datasetImportJob"]["status"]
    elif phase == "training":
        operation, response = "DescribeSolutionVersion", client.describe_solution_version(solutionVersionArn=arn)
        status = response["solutionVersion"]["status"]
    else:
        operation, response = "DescribeCampaign", client.describe_campaign(campaignArn=arn)
        update = response["campaign"].get("latestCampaignUpdate", {})
        status = update.get("status") if update.get("solutionVersionArn") == event["solution_version_arn"] else None
    if status not in _ENDED:
        raise ResourcePending(f"{arn} is {status or 'not updated yet'}")
    response.pop("ResponseMetadata", None)
    shape = operation_model("personalize", operation).output_shape
    return to_sfn_response(response, shape) | {"checked_at": clock.iso(clock.now())}


@cache
def _client(region: str) -> Any:
    return boto3.client("personalize", region_name=region)
