"""The one way the stack is put into an app: by `app.py` for the CDK CLI, and by the local engine and tests."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from . import service_limits
from .config import ConfigError, RefreshConfig
from .stack import PersonalizeRefreshStack

DEFAULT_STACK_NAME = "PersonalizeRefresh"
# CloudFormation's rule for a stack name (its CreateStack API reference); it also prefixes the alarms and names the
# dashboard, whose own rules it then meets.
STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")


def check_stack_name(name: str) -> None:
    """Refuse a stack name CloudFormation would, in one line, before the CDK does in a stack trace."""
    if not STACK_NAME.fullmatch(name):
        raise ConfigError(
            "stack_name",
            [
                "expected a stack name that starts with a letter and holds only letters, digits and hyphens "
                f"(at most 128 characters), got {name!r}"
            ],
        )


def add_refresh_stack(
    app: cdk.App, config: RefreshConfig, *, stack_name: str = DEFAULT_STACK_NAME
) -> PersonalizeRefreshStack:
    """Create the stack in the configured account and region, with both cdk-nag packs and the service limits
    checking it at synth.

    Any finding that is neither fixed nor acknowledged (warnings included) fails the synth. The packs
    also write each acknowledgment into the template's metadata, for reviewers and audit tools. A template
    that CloudFormation or a service would refuse for its size (service_limits.py) fails it too.
    """
    check_stack_name(stack_name)
    stack = PersonalizeRefreshStack(
        app, stack_name, config=config, env=cdk.Environment(account=config.account, region=config.region)
    )
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True),
        ServerlessChecks(app, write_suppressions_to_cloud_formation=True),
        ServiceLimits(),
    )
    return stack


@jsii.implements(cdk.IPolicyValidationPlugin)
class ServiceLimits:
    """A validation plugin: each synthesized template against service_limits.breaches, one violation per
    limit broken, naming the resource, the figure and the page that states it."""

    # Properties, not class attributes: jsii hands the framework only what the class defines as such.
    @property
    def name(self) -> str:
        return "personalize-refresh-service-limits"

    @property
    def version(self) -> str:
        return "1.0.0"

    @property
    def rule_ids(self) -> list[str]:
        return [limit.rule for limit in service_limits.LIMITS]

    def validate(self, context: Any) -> cdk.PolicyValidationPluginReport:
        violations = []
        for path in context.template_paths:
            template = json.loads(Path(path).read_text(encoding="utf-8"))
            for breach in service_limits.breaches(template):
                violations.append(
                    cdk.PolicyViolation(
                        rule_name=breach.limit.rule,
                        description=str(breach),
                        fix=f"stay within {breach.limit.maximum:,} {breach.limit.unit}: see {breach.limit.source}",
                        violating_resources=[
                            cdk.PolicyViolatingResource(
                                resource_logical_id=breach.resource, template_path=path, locations=[breach.resource]
                            )
                        ],
                    )
                )
        return cdk.PolicyValidationPluginReport(success=not violations, violations=violations)
