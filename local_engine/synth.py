"""Synthesizes the stack in-process exactly as `app.py` does, cdk-nag packs included, for the local
engine and the tests."""

from __future__ import annotations

from typing import Any

from infra.config import RefreshConfig


def synthesize(config: RefreshConfig) -> Any:
    """The stack's `aws_cdk.assertions.Template`; `.to_json()` gives the CloudFormation template."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.application import add_refresh_stack

    app = cdk.App()
    return Template.from_stack(add_refresh_stack(app, config))
