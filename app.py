#!/usr/bin/env python3
"""Builds the CDK app: load and validate the configuration, create the stack with its checks, synth."""

import sys

import aws_cdk as cdk

from infra.application import DEFAULT_STACK_NAME, add_refresh_stack, check_stack_name
from infra.config import ConfigError, load_config

DEFAULT_CONFIG = "config/example.json"


def main() -> None:
    app = cdk.App()
    config_path = app.node.try_get_context("config") or DEFAULT_CONFIG
    stack_name = app.node.try_get_context("stack_name") or DEFAULT_STACK_NAME
    try:
        check_stack_name(stack_name)
        config = load_config(config_path)
    except ConfigError as exc:
        sys.exit(f"cdk synth: {exc}")
    add_refresh_stack(app, config, stack_name=stack_name)
    app.synth()


if __name__ == "__main__":
    main()
