"""What CloudFormation and the services refuse in a stack of this kind: each limit with the page that states it,
how the service measures it, and the checks against a template.

Three places hold a stack to these limits:
- the configuration refuses what it alone decides (config.py: the Glue trigger's event pattern grows with
  `glue_job_names`);
- `cdk synth` refuses a template that breaks one (application.py runs `breaches` as a validation plugin); it
  measures values as the template writes them, references unresolved;
- the local engine's deployment refuses what CloudFormation or the service would, measured on the values as
  deployed, references resolved (local_engine/deployment.py).

This module is free of CDK so that the configuration can use it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

CLOUDFORMATION_QUOTAS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html"
LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
STEP_FUNCTIONS_QUOTAS = "https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html"
EVENTBRIDGE_QUOTAS = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html"
EVENTBRIDGE_TARGET = "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Target.html"
IAM_QUOTAS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"
DYNAMODB_TRANSACTIONS = "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html"
DASHBOARD_BODY = (
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html"
)


@dataclass(frozen=True)
class Limit:
    rule: str  # an identifier, for reports
    subject: str  # what is limited, as a message names it
    maximum: int
    unit: str
    source: str  # the page that states the figure

    def __str__(self) -> str:
        return f"{self.subject}: at most {self.maximum:,} {self.unit} ({self.source})"


# CloudFormation quotas. A template over 51,200 bytes cannot be sent in the request: `cdk deploy` uploads it to
# the bootstrap bucket, where 1 MB applies. AWS's error names the figure: "Template may not exceed 1000000 bytes
# in size" (a decimal megabyte). The template is measured as CDK writes it (indented by one space).
TEMPLATE_BODY = Limit(
    "CloudFormation.TemplateBody",
    "CloudFormation: a template body uploaded to S3",
    1_000_000,
    "bytes",
    CLOUDFORMATION_QUOTAS,
)
RESOURCES = Limit(
    "CloudFormation.Resources", "CloudFormation: resources in a template", 500, "resources", CLOUDFORMATION_QUOTAS
)
OUTPUTS = Limit(
    "CloudFormation.Outputs", "CloudFormation: outputs in a template", 200, "outputs", CLOUDFORMATION_QUOTAS
)
PARAMETERS = Limit(
    "CloudFormation.Parameters", "CloudFormation: parameters in a template", 200, "parameters", CLOUDFORMATION_QUOTAS
)
MAPPINGS = Limit(
    "CloudFormation.Mappings", "CloudFormation: mappings in a template", 200, "mappings", CLOUDFORMATION_QUOTAS
)
NAME = Limit(
    "CloudFormation.Name",
    "CloudFormation: a resource, output or parameter name",
    255,
    "characters",
    CLOUDFORMATION_QUOTAS,
)
DESCRIPTION = Limit(
    "CloudFormation.Description", "CloudFormation: a template description", 1_024, "bytes", CLOUDFORMATION_QUOTAS
)

# Lambda quotas: "Function environment variables: 4 KB, for all environment variables associated with the
# function, in aggregate". Lambda measures the variables' JSON: its refusal quotes the "String measured", a
# compact JSON object of every name and value.
ENVIRONMENT = Limit(
    "Lambda.Environment", "Lambda: the environment variables of a function, together", 4_096, "bytes", LAMBDA_QUOTAS
)

# Step Functions quotas: "Maximum size of state machine definition: 1 MB" (hard), 1,048,576 in the API model.
DEFINITION = Limit(
    "StepFunctions.Definition", "Step Functions: a state machine definition", 1_048_576, "bytes", STEP_FUNCTIONS_QUOTAS
)

# EventBridge quotas: "Targets per rule: 5" (not adjustable) and "Event pattern size: 2,048" characters (the
# default; adjustable). A target's Input and an input transformer's template: 8,192 characters (API reference).
RULE_TARGETS = Limit("EventBridge.RuleTargets", "EventBridge: targets of a rule", 5, "targets", EVENTBRIDGE_QUOTAS)
EVENT_PATTERN = Limit(
    "EventBridge.EventPattern", "EventBridge: an event pattern", 2_048, "characters", EVENTBRIDGE_QUOTAS
)
TARGET_INPUT = Limit(
    "EventBridge.TargetInput",
    "EventBridge: a target's input or input template",
    8_192,
    "characters",
    EVENTBRIDGE_TARGET,
)

# IAM quotas, in characters not counting white space: a role's inline policies together 10,240, a managed
# policy 6,144, a role's trust policy 2,048 (the default; adjustable to 4,096); 10 managed policies attached to
# a role (the default; adjustable to 20). CDK moves what outgrows a role's inline policy into managed
# "overflow" policies: those count against the last two.
ROLE_POLICIES = Limit("IAM.RolePolicies", "IAM: a role's inline policies, together", 10_240, "characters", IAM_QUOTAS)
MANAGED_POLICY = Limit("IAM.ManagedPolicy", "IAM: a managed policy", 6_144, "characters", IAM_QUOTAS)
TRUST_POLICY = Limit("IAM.TrustPolicy", "IAM: a role's trust policy", 2_048, "characters", IAM_QUOTAS)
MANAGED_POLICIES_PER_ROLE = Limit(
    "IAM.ManagedPoliciesPerRole", "IAM: managed policies attached to a role", 10, "policies", IAM_QUOTAS
)

# CloudWatch: "A DashboardBody ... can include an array of between 0 and 500 widget objects".
DASHBOARD_WIDGETS = Limit(
    "CloudWatch.DashboardWidgets", "CloudWatch: widgets of a dashboard", 500, "widgets", DASHBOARD_BODY
)

# What one run can hold, refused by the configuration (config.py): they grow with the datasets and campaigns.
# The claim writes every campaign's record of the day in one transaction: "TransactItems ... Maximum number of
# 100 items".
TRANSACTION_ITEMS = Limit(
    "DynamoDB.TransactItems",
    "DynamoDB: actions in one TransactWriteItems",
    100,
    "actions",
    DYNAMODB_TRANSACTIONS,
)
# A state's input or output: "Maximum input or output size for a task, state, or execution: 256 KiB of data as a
# UTF-8 encoded string". The refresh's state carries each dataset and campaign; the scale test measures its size
# per dataset and campaign and checks that the most a configuration may hold fits, with room to spare.
STATE_PAYLOAD = Limit(
    "StepFunctions.Payload", "Step Functions: a state's input or output", 262_144, "bytes", STEP_FUNCTIONS_QUOTAS
)
DATASETS_PER_STACK = 100
"""The datasets one stack imports: with `TRANSACTION_ITEMS` campaigns, the refresh's state stays well under
`STATE_PAYLOAD` (tests/scale measures it)."""

LIMITS = (
    TEMPLATE_BODY,
    RESOURCES,
    OUTPUTS,
    PARAMETERS,
    MAPPINGS,
    NAME,
    DESCRIPTION,
    ENVIRONMENT,
    DEFINITION,
    RULE_TARGETS,
    EVENT_PATTERN,
    TARGET_INPUT,
    ROLE_POLICIES,
    MANAGED_POLICY,
    TRUST_POLICY,
    MANAGED_POLICIES_PER_ROLE,
    DASHBOARD_WIDGETS,
)


@dataclass(frozen=True)
class Breach:
    resource: str  # the logical id, or "template"
    limit: Limit
    measured: int

    def __str__(self) -> str:
        return (
            f"{self.resource}: {self.limit.subject}: {self.measured:,} {self.limit.unit}, over the "
            f"{self.limit.maximum:,} allowed ({self.limit.source})"
        )


def environment_size(variables: Mapping[str, Any]) -> int:
    """The size Lambda counts: the variables as a compact JSON object, in bytes."""
    return len(_compact(variables).encode())


def event_pattern_size(pattern: Any) -> int:
    return len(pattern if isinstance(pattern, str) else _compact(pattern))


def policy_size(document: Any) -> int:
    """IAM's count: the policy's characters, white space not counted."""
    return len(re.sub(r"\s", "", document if isinstance(document, str) else _compact(document)))


def template_size(template: Mapping[str, Any]) -> int:
    return len(json.dumps(template, indent=1, ensure_ascii=False).encode())


def template_breaches(template: Mapping[str, Any]) -> list[Breach]:
    """The limits the template as a whole breaks: CloudFormation refuses it before it creates anything."""
    found = [
        Breach("template", limit, measured)
        for limit, measured in (
            (TEMPLATE_BODY, template_size(template)),
            (RESOURCES, len(template.get("Resources", {}))),
            (OUTPUTS, len(template.get("Outputs", {}))),
            (PARAMETERS, len(template.get("Parameters", {}))),
            (MAPPINGS, len(template.get("Mappings", {}))),
            (DESCRIPTION, len(str(template.get("Description", "")).encode())),
        )
        if measured > limit.maximum
    ]
    for section in ("Resources", "Outputs", "Parameters"):
        found += [Breach(name, NAME, len(name)) for name in template.get(section, {}) if len(name) > NAME.maximum]
    return found


def function_breaches(logical_id: str, variables: Mapping[str, Any]) -> list[Breach]:
    return _over(logical_id, ENVIRONMENT, environment_size(variables))


def definition_breaches(logical_id: str, definition: str) -> list[Breach]:
    return _over(logical_id, DEFINITION, len(definition.encode()))


def rule_breaches(logical_id: str, properties: Mapping[str, Any]) -> list[Breach]:
    targets = properties.get("Targets", [])
    found = _over(logical_id, RULE_TARGETS, len(targets))
    if "EventPattern" in properties:
        found += _over(logical_id, EVENT_PATTERN, event_pattern_size(properties["EventPattern"]))
    for target in targets:
        for text in (target.get("Input"), target.get("InputTransformer", {}).get("InputTemplate")):
            if text is not None:
                found += _over(f"{logical_id} target {target.get('Id')}", TARGET_INPUT, len(_text(text)))
    return found


def dashboard_breaches(logical_id: str, body: str) -> list[Breach]:
    try:
        widgets = len(json.loads(body).get("widgets", []))
    except (ValueError, AttributeError):
        return []  # a body with references unresolved: measured once deployed
    return _over(logical_id, DASHBOARD_WIDGETS, widgets)


def role_breaches(resources: Mapping[str, Any], resolve: Callable[[Any], Any] = lambda value: value) -> list[Breach]:
    """The IAM limits each role of `resources` breaks: its trust policy, its inline policies together (those
    of the role and every AWS::IAM::Policy attached to it), the managed policies of the template, and how many
    are attached to it. `resolve` gives a policy document as IAM receives it."""
    inline: dict[str, int] = {}
    attached: dict[str, int] = {}
    found: list[Breach] = []
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            found += _over(logical_id, TRUST_POLICY, policy_size(resolve(props["AssumeRolePolicyDocument"])))
            inline[logical_id] = inline.get(logical_id, 0) + sum(
                policy_size(resolve(policy["PolicyDocument"])) for policy in props.get("Policies", [])
            )
            attached[logical_id] = attached.get(logical_id, 0) + len(props.get("ManagedPolicyArns", []))
        elif resource["Type"] == "AWS::IAM::Policy":
            for role in _role_references(props):
                inline[role] = inline.get(role, 0) + policy_size(resolve(props["PolicyDocument"]))
        elif resource["Type"] == "AWS::IAM::ManagedPolicy":
            found += _over(logical_id, MANAGED_POLICY, policy_size(resolve(props["PolicyDocument"])))
            for role in _role_references(props):
                attached[role] = attached.get(role, 0) + 1
    for role, size in inline.items():
        found += _over(role, ROLE_POLICIES, size)
    for role, count in attached.items():
        found += _over(role, MANAGED_POLICIES_PER_ROLE, count)
    return found


def breaches(template: Mapping[str, Any]) -> list[Breach]:
    """Every limit the template breaks, its values measured as it writes them (references unresolved): what
    `cdk synth` refuses. The local deployment measures the same values resolved."""
    found = template_breaches(template)
    resources = template.get("Resources", {})
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::Function":
            found += function_breaches(logical_id, props.get("Environment", {}).get("Variables", {}))
        elif resource["Type"] == "AWS::StepFunctions::StateMachine" and "DefinitionString" in props:
            found += definition_breaches(logical_id, _text(props["DefinitionString"]))
        elif resource["Type"] == "AWS::Events::Rule":
            found += rule_breaches(logical_id, props)
        elif resource["Type"] == "AWS::CloudWatch::Dashboard" and isinstance(props.get("DashboardBody"), str):
            found += dashboard_breaches(logical_id, props["DashboardBody"])
    return found + role_breaches(resources)


def _over(resource: str, limit: Limit, measured: int) -> list[Breach]:
    return [Breach(resource, limit, measured)] if measured > limit.maximum else []


def _role_references(props: Mapping[str, Any]) -> Iterator[str]:
    for role in props.get("Roles", []):
        if isinstance(role, dict) and isinstance(role.get("Ref"), str):
            yield role["Ref"]


def _text(value: Any) -> str:
    """A string property as written: a string, or its intrinsic function (an Fn::Join, say) as JSON."""
    return value if isinstance(value, str) else _compact(value)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
