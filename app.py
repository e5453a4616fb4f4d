#!/usr/bin/env python3
"""Builds the CDK app: load and validate the configuration, create the stack, synth."""

import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.config import ConfigError, load_config
from infra.stack import PersonalizeRefreshStack

DEFAULT_CONFIG = "config/example.json"


def main() -> None:
    app = cdk.App()
    config_path = app.node.try_get_context("config") or DEFAULT_CONFIG
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        sys.exit(f"cdk synth: {exc}")
    stack_name = app.node.try_get_context("stack_name") or "PersonalizeRefresh"
    PersonalizeRefreshStack(
        app, stack_name, config=config, env=cdk.Environment(account=config.account, region=config.region)
    )
    # Both rule packs run at synth; any finding not fixed or acknowledged fails it.
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True),
        ServerlessChecks(app, write_suppressions_to_cloud_formation=True),
    )
    app.synth()


if __name__ == "__main__":
    main()
