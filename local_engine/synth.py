"""Synthesizes the stack in-process, as `cdk synth` would, for the local engine and the tests."""

from __future__ import annotations

from typing import Any

from infra.config import RefreshConfig

STACK_NAME = "PersonalizeRefresh"


def synthesize(config: RefreshConfig) -> Any:
    """The stack's `aws_cdk.assertions.Template`; `.to_json()` gives the CloudFormation template."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.stack import PersonalizeRefreshStack

    app = cdk.App()
    stack = PersonalizeRefreshStack(
        app, STACK_NAME, config=config, env=cdk.Environment(account=config.account, region=config.region)
    )
    return Template.from_stack(stack)
