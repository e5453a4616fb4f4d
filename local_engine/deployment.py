"""Deploys the synthesized CloudFormation template onto the embedded AWS.

Each resource the refresh needs at run time is created in moto from its template
properties, and every token (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, pseudo parameters) is
resolved to the emulated resource, so the state machine that runs is the one that deploys.
Lambda functions are routed to their real handler modules, in-process, with their code package (the asset
the template names) as their task root. Every role's policies are handed to the engine's IAM
(authorization.py), which evaluates the calls made as that role.

What CloudFormation or a service would refuse for its size is refused here too, as AWS measures it, on the
values as deployed (infra/service_limits.py): the template, a function's environment, a state machine's
definition, a rule's targets and pattern, a role's policies, a dashboard's widgets. moto checks none of them.
"""

from __future__ import annotations

import importlib
import io
import json
import re
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.utilities.arns import parse_arn

from infra import service_limits
from refresh_common.environment import TASK_ROOT_VARIABLE

from . import assets
from .aws import LocalAws

LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"
# What the refresh does not exercise at run time: resource-based permissions, log groups, subscriptions, keys
# (nothing is encrypted locally), and the alarms and dashboard (nothing evaluates them locally). Roles' policies
# are not created in moto either: the engine evaluates them itself (authorization.py).
NOT_EMULATED = frozenset(
    {
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::KMS::Key",
        "AWS::IAM::Policy",
        "AWS::Logs::LogGroup",
        "AWS::SNS::TopicPolicy",
        "AWS::SNS::Subscription",
        "AWS::SQS::QueuePolicy",
        "AWS::Lambda::Permission",
        "AWS::CDK::Metadata",
    }
)
_SUB_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_:.]+)\}")


class UnsupportedResource(NotImplementedError):
    """The template holds a resource type the local deployment does not know how to create."""


class WrongAccount(RuntimeError):
    """moto created a resource in another account than the one the template deploys to."""


class LimitExceeded(RuntimeError):
    """CloudFormation or a service would refuse the stack: the template or a resource is over one of its
    limits. The message names each resource, the limit, the figure and the page that states it."""

    def __init__(self, breaches: list[service_limits.Breach]) -> None:
        self.breaches = breaches
        super().__init__("AWS would refuse this stack:\n" + "\n".join(f"  {breach}" for breach in breaches))


@dataclass
class _Physical:
    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class LocalDeployment:
    """The stack's resources on the embedded AWS, found by type once deployed."""

    template: dict[str, Any]
    aws: LocalAws
    account: str  # the stack's account: AWS::AccountId, and where moto must create every resource
    _physical: dict[str, _Physical] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)  # logical id -> function name

    def deploy(self) -> LocalDeployment:
        creators: dict[str, Callable[[str, dict[str, Any]], _Physical]] = {
            "AWS::IAM::Role": self._role,
            "AWS::IAM::ManagedPolicy": self._managed_policy,
            "AWS::DynamoDB::GlobalTable": self._table,
            "AWS::SNS::Topic": self._topic,
            "AWS::SQS::Queue": self._queue,
            "AWS::Lambda::Function": self._function,
            "AWS::Lambda::EventInvokeConfig": self._event_invoke_config,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::Events::Rule": self._rule,
        }
        # CloudFormation validates the template as a whole before it creates any resource.
        _refuse(service_limits.template_breaches(self.template))
        for logical_id in self._creation_order(creators):
            resource = self.template["Resources"][logical_id]
            self._physical[logical_id] = creators[resource["Type"]](logical_id, resource.get("Properties", {}))
        self._check_account()
        self._check_unemulated_limits()
        self._authorize()
        return self

    def ref(self, logical_id: str) -> str:
        return self._physical[logical_id].ref

    def one(self, resource_type: str) -> str:
        """The logical id of the single resource of `resource_type`."""
        (logical_id,) = [k for k, v in self.template["Resources"].items() if v["Type"] == resource_type]
        return logical_id

    @property
    def state_machine_arn(self) -> str:
        """The refresh's state machine (the one the trigger starts; the others are its children)."""
        return self.output("StateMachineArn")

    @property
    def state_machine_arns(self) -> list[str]:
        """Every state machine of the stack: the refresh's and the children it starts."""
        return [
            self.ref(k)
            for k, v in self.template["Resources"].items()
            if v["Type"] == "AWS::StepFunctions::StateMachine"
        ]

    @property
    def table_name(self) -> str:
        return self.ref(self.one("AWS::DynamoDB::GlobalTable"))

    @property
    def topic_arn(self) -> str:
        return self.ref(self.one("AWS::SNS::Topic"))

    def output(self, name: str) -> str:
        """A stack output, as `cdk deploy` prints it (e.g. "DeadLetterQueueUrl")."""
        return str(self._resolve(self.template["Outputs"][name]["Value"]))

    @property
    def stack_id(self) -> str:
        return self._pseudo("AWS::StackId")

    @property
    def dead_letter_queue_url(self) -> str:
        return self.output("DeadLetterQueueUrl")

    # Creation ---------------------------------------------------------------------------------------

    def _creation_order(self, creators: dict[str, Any]) -> list[str]:
        resources = self.template["Resources"]
        unknown = sorted({r["Type"] for r in resources.values()} - set(creators) - NOT_EMULATED)
        if unknown:
            raise UnsupportedResource(f"no local emulation for resource types {unknown}")
        wanted = [k for k, v in resources.items() if v["Type"] in creators]
        ordered: list[str] = []

        def visit(logical_id: str) -> None:
            if logical_id in ordered:
                return
            for dependency in sorted(_references(resources[logical_id].get("Properties", {}))):
                if dependency in wanted:
                    visit(dependency)
            ordered.append(logical_id)

        for logical_id in wanted:
            visit(logical_id)
        return ordered

    def _role(self, logical_id: str, props: dict[str, Any]) -> _Physical:
        role = self.aws.client("iam").create_role(
            RoleName=_physical_name(logical_id),
            AssumeRolePolicyDocument=json.dumps(self._resolve(props["AssumeRolePolicyDocument"])),
        )["Role"]
        return _Physical(role["RoleName"], {"Arn": role["Arn"]})

    def _managed_policy(self, logical_id: str, props: dict[str, Any]) -> _Physical:
        """Created (its document resolved, so IAM checks it) for the stack's output, not evaluated."""
        arn = self.aws.client("iam").create_policy(
            PolicyName=props.get("ManagedPolicyName") or _physical_name(logical_id),
            PolicyDocument=json.dumps(self.resolved_policy(props["PolicyDocument"])),
        )["Policy"]["Arn"]
        return _Physical(arn, {})

    def _table(self, logical_id: str, props: dict[str, Any]) -> _Physical:
        name = props.get("TableName") or _physical_name(logical_id)
        description = self.aws.client("dynamodb").create_table(
            TableName=name,
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
        )["TableDescription"]
        return _Physical(name, {"Arn": description["TableArn"]})

    def _topic(self, logical_id: str, props: dict[str, Any]) -> _Physical:
        arn = self.aws.client("sns").create_topic(Name=props.get("TopicName") or _physical_name(logical_id))["TopicArn"]
        return _Physical(arn, {"TopicName": arn.rsplit(":", 1)[1]})

    def _queue(self, logical_id: str, props: dict[str, Any]) -> _Physical:
        sqs = self.aws.client("sqs")
        url = sqs.create_queue(QueueName=props.get("QueueName") or _physical_name(logical_id))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return _Physical(url, {"Arn": arn, "QueueName": url.rsplit("/", 1)[1]})

    def _function(self, logical_id: str, props: dict[str, Any]) -> _Physical:
        environment = self._resolve(props.get("Environment", {}).get("Variables", {}))
        # Where the runtime unpacks the code the template names: the asset synthesize() published, with the
        # settings files it holds. The handler modules themselves are imported from lambdas/ (the asset's
        # source, copied into it unchanged): one copy of refresh_common in the process, shared with the engine.
        code_root = assets.code_root(self._resolve(props["Code"]), function=logical_id)
        _refuse(service_limits.function_breaches(logical_id, environment))
        name = props.get("FunctionName") or _physical_name(logical_id)
        arn = self.aws.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.12",  # moto's validation predates the deployed runtime; the handler runs here
            Role=self._resolve(props["Role"]),
            Handler=props["Handler"],
            Code={"ZipFile": _placeholder_zip()},
            Environment={"Variables": environment},
            Timeout=props.get("Timeout", 3),
            MemorySize=props.get("MemorySize", 128),
        )["FunctionArn"]
        # The Lambda runtime adds the region variables and its task root to every function's environment.
        runtime_environment = {
            **environment,
            "AWS_REGION": self.aws.region,
            "AWS_DEFAULT_REGION": self.aws.region,
            TASK_ROOT_VARIABLE: str(code_root),
        }
        self.aws.router.register(arn, _handler(props["Handler"]), runtime_environment)
        self.functions[logical_id] = name
        return _Physical(name, {"Arn": arn})

    def _event_invoke_config(self, logical_id: str, props: dict[str, Any]) -> _Physical:
        """How Lambda treats the function's asynchronous invocations: the router reads it from moto at each one
        (retries, then the on-failure destination). Only what the router emulates is accepted."""
        name, qualifier = self._resolve(props["FunctionName"]), props.get("Qualifier", "$LATEST")
        destinations = self._resolve(props.get("DestinationConfig", {}))
        if qualifier != "$LATEST" or set(destinations) - {"OnFailure"}:
            raise UnsupportedResource(f"{logical_id}: only $LATEST's on-failure destination is emulated")
        if destinations and parse_arn(destinations["OnFailure"]["Destination"]).service != "sqs":
            raise UnsupportedResource(f"{logical_id}: only an SQS queue is emulated as an on-failure destination")
        settings = {k: props[k] for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds") if k in props}
        self.aws.client("lambda").put_function_event_invoke_config(
            FunctionName=name, Qualifier=qualifier, DestinationConfig=destinations, **settings
        )
        return _Physical(f"{name}:{qualifier}")

    def _state_machine(self, logical_id: str, props: dict[str, Any]) -> _Physical:
        substitutions = self._resolve(props.get("DefinitionSubstitutions", {}))
        definition = _substitute(self._resolve(props["DefinitionString"]), substitutions)
        json.loads(definition)  # a definition that is not JSON after substitution is a template bug
        _refuse(service_limits.definition_breaches(logical_id, definition))
        arn = self.aws.client("stepfunctions").create_state_machine(
            name=props.get("StateMachineName") or _physical_name(logical_id),
            definition=definition,
            roleArn=self._resolve(props["RoleArn"]),
            type=props.get("StateMachineType", "STANDARD"),
        )["stateMachineArn"]
        return _Physical(arn, {"Name": arn.rsplit(":", 1)[1]})

    def _rule(self, logical_id: str, props: dict[str, Any]) -> _Physical:
        events = self.aws.client("events")
        name = props.get("Name") or _physical_name(logical_id)
        targets = [self._resolve(target) for target in props.get("Targets", [])]
        _refuse(service_limits.rule_breaches(logical_id, {**props, "Targets": targets}))
        if "EventPattern" not in props:
            # A schedule (the freshness check's): nothing fires schedules locally, and moto would deliver every
            # event put on the bus to a rule without a pattern. Its target is invoked by whoever rehearses it.
            arn = f"arn:aws:events:{self.aws.region}:{self.account}:rule/{name}"
            return _Physical(name, {"Arn": arn})
        arn = events.put_rule(
            Name=name, EventPattern=json.dumps(props["EventPattern"]), State=props.get("State", "ENABLED")
        )["RuleArn"]
        events.put_targets(Rule=name, Targets=targets)
        return _Physical(name, {"Arn": arn})

    def schedules(self) -> dict[str, list[dict[str, Any]]]:
        """Each schedule rule's ARN and its targets, their tokens resolved (see _rule: nothing fires them)."""
        return {
            self._physical[logical_id].attributes["Arn"]: self._resolve(resource["Properties"].get("Targets", []))
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in resource["Properties"]
        }

    def role_policies(self) -> dict[str, list[dict[str, Any]]]:
        """Each role's ARN and the identity-based policy documents the template attaches to it (inline, an
        AWS::IAM::Policy, a managed policy of the template), their tokens resolved."""
        resources = self.template["Resources"]
        documents: dict[str, list[Any]] = {k: [] for k, v in resources.items() if v["Type"] == "AWS::IAM::Role"}
        for logical_id, resource in resources.items():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::IAM::Role":
                documents[logical_id] += [policy["PolicyDocument"] for policy in props.get("Policies", [])]
                for managed in props.get("ManagedPolicyArns", []):
                    if not (isinstance(managed, dict) and managed.get("Ref") in resources):
                        raise UnsupportedResource(f"{logical_id}: the engine has no document for policy {managed}")
                    documents[logical_id].append(resources[managed["Ref"]]["Properties"]["PolicyDocument"])
            elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                for role in props.get("Roles", []):
                    documents[role["Ref"]].append(props["PolicyDocument"])
        return {
            self._physical[logical_id].attributes["Arn"]: [self.resolved_policy(d) for d in docs]
            for logical_id, docs in documents.items()
        }

    def resolved_policy(self, document: dict[str, Any]) -> Any:
        """A policy document of the template with its tokens resolved, resources the engine does not create
        (keys, log groups) named as CloudFormation would name them."""
        return self._resolve(document, absent=self._absent)

    def _authorize(self) -> None:
        """IAM evaluates every call the stack's roles make against their policies (authorization.py)."""
        for role_arn, documents in self.role_policies().items():
            self.aws.authorization.govern(role_arn, documents)
        for logical_id, resource in self.template["Resources"].items():
            if resource["Type"] == "AWS::StepFunctions::StateMachine":
                self.aws.authorization.assign(self.ref(logical_id), self._resolve(resource["Properties"]["RoleArn"]))

    def _absent(self, logical_id: str, attribute: str) -> str:
        """The ARN CloudFormation would give a resource the engine does not create (policies name them)."""
        resource = self.template["Resources"][logical_id]
        where = f"{self.aws.region}:{self.account}"
        if (resource["Type"], attribute) == ("AWS::KMS::Key", "Arn"):
            return f"arn:aws:kms:{where}:key/{logical_id}"
        if (resource["Type"], attribute) == ("AWS::Logs::LogGroup", "Arn"):
            name = self._resolve(resource["Properties"].get("LogGroupName", _physical_name(logical_id)))
            return f"arn:aws:logs:{where}:log-group:{name}:*"
        raise KeyError(f"{logical_id}.{attribute}: not deployed locally")

    def _check_unemulated_limits(self) -> None:
        """The limits of what the engine does not create, or evaluates itself: IAM's on each role's policies,
        CloudWatch's on each dashboard."""
        resources = self.template["Resources"]
        breaches = service_limits.role_breaches(resources, resolve=self.resolved_policy)
        for logical_id, resource in resources.items():
            if resource["Type"] == "AWS::CloudWatch::Dashboard":
                # Only the widgets count: a resource the engine did not create may stand as its logical id.
                body = self._resolve(resource["Properties"]["DashboardBody"], absent=lambda name, _: name)
                breaches += service_limits.dashboard_breaches(logical_id, body)
        _refuse(breaches)

    def _check_account(self) -> None:
        # A resource in another account would be invisible to anything that looks in the stack's account.
        for logical_id, physical in self._physical.items():
            arn = physical.attributes.get("Arn") or physical.ref
            if arn.startswith("arn:") and arn.split(":")[4] != self.account:
                raise WrongAccount(
                    f"{logical_id} was created as {arn}, outside the stack's account {self.account} "
                    "(moto takes the account from MOTO_ACCOUNT_ID)"
                )

    # Tokens ----------------------------------------------------------------------------------------

    def _resolve(self, value: Any, *, absent: Callable[[str, str], str] | None = None) -> Any:
        """`value` with its tokens resolved; `absent` names an attribute of a resource the engine did not create
        (else that is an error)."""
        if isinstance(value, list):
            return [self._resolve(v, absent=absent) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                if argument.startswith("AWS::"):
                    return self._pseudo(argument)
                if absent is not None and argument not in self._physical:
                    return absent(argument, "Ref")
                return self.ref(argument)
            if key == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                if absent is not None and logical_id not in self._physical:
                    return absent(logical_id, attribute)
                return self._physical[logical_id].attributes[attribute]
            if key == "Fn::Join":
                separator, parts = argument
                return separator.join(str(self._resolve(p, absent=absent)) for p in parts)
            if key == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else argument
                return _substitute(text, {**self._sub_references(text), **self._resolve(variables, absent=absent)})
        return {k: self._resolve(v, absent=absent) for k, v in value.items()}

    def _sub_references(self, text: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for name in _SUB_PLACEHOLDER.findall(text):
            if name.startswith("AWS::"):
                found[name] = self._pseudo(name)
            elif "." in name:
                logical_id, attribute = name.split(".", 1)
                found[name] = self._physical[logical_id].attributes[attribute]
            elif name in self._physical:
                found[name] = self.ref(name)
        return found

    def _pseudo(self, name: str) -> str:
        return {
            "AWS::Region": self.aws.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "PersonalizeRefresh",
            "AWS::StackId": f"arn:aws:cloudformation:{self.aws.region}:{self.account}:stack/PersonalizeRefresh/local",
        }[name]


def _refuse(breaches: list[service_limits.Breach]) -> None:
    if breaches:
        raise LimitExceeded(breaches)


def _references(value: Any) -> set[str]:
    if isinstance(value, list):
        return set().union(*(_references(v) for v in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    if "Ref" in value and isinstance(value["Ref"], str) and not value["Ref"].startswith("AWS::"):
        return {value["Ref"]}
    if "Fn::GetAtt" in value:
        argument = value["Fn::GetAtt"]
        return {argument[0] if isinstance(argument, list) else argument.split(".", 1)[0]}
    return set().union(*(_references(v) for v in value.values())) if value else set()


def _substitute(text: str, variables: dict[str, Any]) -> str:
    return _SUB_PLACEHOLDER.sub(lambda m: str(variables[m.group(1)]) if m.group(1) in variables else m.group(0), text)


def _physical_name(logical_id: str) -> str:
    # CloudFormation-style generated name: short enough for every service's name limit.
    return f"PersonalizeRefresh-{logical_id}"[:64]


def _handler(spec: str) -> Callable[[Any, Any], Any]:
    """The real handler function named by a Lambda `Handler` property, imported from lambdas/."""
    if str(LAMBDAS_DIR) not in sys.path:
        sys.path.insert(0, str(LAMBDAS_DIR))
    module_name, function_name = spec.rsplit(".", 1)
    return getattr(importlib.import_module(module_name), function_name)


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# The handler runs in-process from lambdas/.\n")
    return buffer.getvalue()
