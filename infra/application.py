"""The one way the stack is put into an app: by `app.py` for the CDK CLI, and by the local engine and tests."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from .config import RefreshConfig
from .stack import PersonalizeRefreshStack

DEFAULT_STACK_NAME = "PersonalizeRefresh"


def add_refresh_stack(
    app: cdk.App, config: RefreshConfig, *, stack_name: str = DEFAULT_STACK_NAME
) -> PersonalizeRefreshStack:
    """Create the stack in the configured account and region, with both cdk-nag packs checking it at synth.

    Any finding that is neither fixed nor acknowledged (warnings included) fails the synth. The packs
    also write each acknowledgment into the template's metadata, for reviewers and audit tools.
    """
    stack = PersonalizeRefreshStack(
        app, stack_name, config=config, env=cdk.Environment(account=config.account, region=config.region)
    )
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True),
        ServerlessChecks(app, write_suppressions_to_cloud_formation=True),
    )
    return stack
