"""The event pattern of the Glue trigger (trigger.py), as CloudFormation holds it: plain JSON, free of CDK, so
that the configuration can measure it against EventBridge's limit before anything is built."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def glue_success_pattern(job_names: Sequence[str]) -> dict[str, Any]:
    """A Glue Job State Change to SUCCEEDED of one of `job_names`."""
    return {
        "source": ["aws.glue"],
        "detail-type": ["Glue Job State Change"],
        "detail": {"state": ["SUCCEEDED"], "jobName": list(job_names)},
    }
