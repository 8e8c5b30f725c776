"""RAM policy documents: parsing and validation into immutable values.

Pure code, no I/O. ``parse_policy`` either returns a ``Policy`` or raises ``MalformedPolicy`` with a reason a
person can act on; it never raises anything else, whatever text it is given. Glob patterns and condition
values are compiled once, when a ``Statement``/``Condition`` is built, so evaluation only runs matches.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import orjson

from ecsram.iam import conditions as _conditions

__all__ = [
    "Condition",
    "Effect",
    "MalformedPolicy",
    "Policy",
    "PolicyKind",
    "Statement",
    "parse_policy",
]


class MalformedPolicy(ValueError):
    """A policy document that RAM would refuse (MalformedPolicyDocument); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class PolicyKind(StrEnum):
    IDENTITY = "identity"
    TRUST = "trust"
    SESSION = "session"


class Effect(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True, slots=True)
class Condition:
    operator: str
    key: str
    values: tuple[str, ...]
    # The values in the operator's comparable form; derived, so left out of equality and repr.
    prepared: tuple[object, ...] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        # ConditionValueError is a ValueError; parse_policy turns it into MalformedPolicy with context.
        object.__setattr__(self, "values", tuple(self.values))
        object.__setattr__(self, "prepared", _conditions.prepare(self.operator, self.values))


@dataclass(frozen=True, slots=True)
class Statement:
    effect: Effect
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    # Compared but not hashed: a mapping is not hashable, and statements should be. Kept as a plain dict (a
    # private copy, read-only by contract) so policies stay picklable and deep-copyable.
    principals: Mapping[str, tuple[str, ...]] | None = field(hash=False)
    conditions: tuple[Condition, ...]
    # Compiled action/resource globs; None stands for "matches everything" (a "*" pattern) so the common
    # case skips the regex. Derived from the fields above, so left out of equality and repr.
    action_regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False, hash=False)
    resource_regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "effect", Effect(self.effect))
        object.__setattr__(self, "actions", tuple(self.actions))
        object.__setattr__(self, "resources", tuple(self.resources))
        object.__setattr__(self, "conditions", tuple(self.conditions))
        if self.principals is not None:
            copied = {kind: tuple(values) for kind, values in self.principals.items()}
            object.__setattr__(self, "principals", copied)
        object.__setattr__(self, "action_regex", _compile(self.actions, ignore_case=True))
        object.__setattr__(self, "resource_regex", _compile(self.resources, ignore_case=False))


def _compile(patterns: tuple[str, ...], *, ignore_case: bool) -> re.Pattern[str] | None:
    if "*" in patterns:
        return None
    return _conditions.compile_glob(patterns, ignore_case)


@dataclass(frozen=True, slots=True)
class Policy:
    version: str
    statements: tuple[Statement, ...]


# --- parsing --------------------------------------------------------------------------------------------

_STATEMENT_KEYS = ("Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "Condition", "Sid")
_TOP_LEVEL_KEYS = ("Version", "Statement")
_PRINCIPAL_KINDS = ("RAM", "Service", "Federated")
_ACTION = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9*?]+", re.ASCII)


def _show(value: object, limit: int = 60) -> str:
    """A value as compact JSON for messages, shortened so a hostile document cannot flood the reason."""
    try:
        text = orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _strings(value: object, where: str) -> tuple[str, ...]:
    """A string or a non-empty list of non-empty strings, as a tuple."""
    if value == "":
        raise MalformedPolicy(f"{where} must not be an empty string.")
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise MalformedPolicy(f"{where} must be a string or a list of strings, not {_type_name(value)}.")
    if not items:
        raise MalformedPolicy(f"{where} must not be an empty list.")
    for item in items:
        if not isinstance(item, str):
            raise MalformedPolicy(f"{where} must contain only strings, not {_type_name(item)} ({_show(item)}).")
        if not item:
            raise MalformedPolicy(f"{where} must not contain an empty string.")
    return tuple(items)


def _scalar_text(value: object, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    raise MalformedPolicy(f"{where} values must be strings, numbers or booleans, not {_type_name(value)}.")


def _parse_actions(raw: dict[str, object], at: str) -> tuple[tuple[str, ...], bool]:
    has_action, has_not = "Action" in raw, "NotAction" in raw
    if has_action and has_not:
        raise MalformedPolicy(f"{at}: has both Action and NotAction; use only one.")
    if not has_action and not has_not:
        raise MalformedPolicy(f"{at}: needs an Action or a NotAction.")
    name = "Action" if has_action else "NotAction"
    actions = _strings(raw[name], f"{at}: {name}")
    for action in actions:
        if action != "*" and not _ACTION.fullmatch(action):
            raise MalformedPolicy(
                f'{at}: {name} {_show(action)} is not a valid action; write "*" or "<service>:<ActionName>"'
                ' (letters, digits and wildcards * ?), e.g. "ecs:DescribeInstances".'
            )
    return actions, not has_action


def _parse_resources(raw: dict[str, object], at: str, kind: PolicyKind) -> tuple[tuple[str, ...], bool]:
    has_resource, has_not = "Resource" in raw, "NotResource" in raw
    if has_resource and has_not:
        raise MalformedPolicy(f"{at}: has both Resource and NotResource; use only one.")
    if not has_resource and not has_not:
        if kind is PolicyKind.TRUST:
            return (), False
        raise MalformedPolicy(f"{at}: needs a Resource or a NotResource.")
    name = "Resource" if has_resource else "NotResource"
    return _strings(raw[name], f"{at}: {name}"), not has_resource


def _parse_principal(raw: dict[str, object], at: str, kind: PolicyKind) -> Mapping[str, tuple[str, ...]] | None:
    if kind is not PolicyKind.TRUST:
        if "Principal" in raw:
            raise MalformedPolicy(f"{at}: Principal is only allowed in a role's trust policy, not in a {kind} policy.")
        return None
    if "Principal" not in raw:
        raise MalformedPolicy(f"{at}: a trust policy statement needs a Principal.")
    value = raw["Principal"]
    if value == "*":
        return {"*": ("*",)}
    if not isinstance(value, dict):
        raise MalformedPolicy(
            f'{at}: Principal must be "*" or an object with RAM, Service or Federated, not {_show(value)}.'
        )
    if not value:
        raise MalformedPolicy(f"{at}: Principal must name at least one of RAM, Service, Federated.")
    principals: dict[str, tuple[str, ...]] = {}
    for principal_kind, names in value.items():
        if principal_kind not in _PRINCIPAL_KINDS:
            raise MalformedPolicy(
                f"{at}: unknown Principal type {_show(principal_kind)}; use RAM, Service or Federated."
            )
        # An empty list names no one (RAM accepts it; Terraform's alicloud_ram_role writes "RAM": []).
        principals[principal_kind] = () if names == [] else _strings(names, f"{at}: Principal {principal_kind}")
    return principals


def _parse_conditions(raw: dict[str, object], at: str) -> tuple[Condition, ...]:
    if "Condition" not in raw:
        return ()
    block = raw["Condition"]
    if not isinstance(block, dict):
        raise MalformedPolicy(f"{at}: Condition must be an object of operators, not {_type_name(block)}.")
    parsed: list[Condition] = []
    for operator, keys in block.items():
        if operator not in _conditions.SUPPORTED_OPERATORS:
            raise MalformedPolicy(f"{at}: unknown condition operator {_show(operator)}.")
        if not isinstance(keys, dict):
            raise MalformedPolicy(
                f"{at}: Condition {operator} must be an object of condition keys, not {_type_name(keys)}."
            )
        for key, raw_values in keys.items():
            where = f"{at}: Condition {operator} {_show(key)}"
            if not key:
                raise MalformedPolicy(f"{at}: Condition {operator} has an empty condition key.")
            items = raw_values if isinstance(raw_values, list) else [raw_values]
            if not items:
                raise MalformedPolicy(f"{where} must not be an empty list.")
            values = tuple(_scalar_text(item, where) for item in items)
            try:
                parsed.append(Condition(operator, key.lower(), values))
            except _conditions.ConditionValueError as exc:
                raise MalformedPolicy(f"{where}: {exc}.") from None
    return tuple(parsed)


def _parse_statement(raw: object, index: int, kind: PolicyKind) -> Statement:
    at = f"Statement {index}"
    if not isinstance(raw, dict):
        raise MalformedPolicy(f"{at} must be an object, not {_type_name(raw)}.")
    for key in raw:
        if key not in _STATEMENT_KEYS:
            raise MalformedPolicy(
                f"{at}: unknown element {_show(key)}; allowed are {', '.join(_STATEMENT_KEYS)} (case-sensitive)."
            )
    if "Effect" not in raw:
        raise MalformedPolicy(f'{at}: Effect is missing; use "Allow" or "Deny".')
    effect = raw["Effect"]
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicy(f'{at}: unknown Effect {_show(effect)}; use "Allow" or "Deny".')
    if "Sid" in raw and not isinstance(raw["Sid"], str):
        raise MalformedPolicy(f"{at}: Sid must be a string, not {_type_name(raw['Sid'])}.")
    actions, not_action = _parse_actions(raw, at)
    # Principal before Resource: a trust policy given as a permission policy is then reported as such.
    principals = _parse_principal(raw, at, kind)
    resources, not_resource = _parse_resources(raw, at, kind)
    return Statement(
        effect=Effect(effect),
        actions=actions,
        not_action=not_action,
        resources=resources,
        not_resource=not_resource,
        principals=principals,
        conditions=_parse_conditions(raw, at),
    )


def parse_policy(document: str, kind: PolicyKind = PolicyKind.IDENTITY, *, max_length: int | None = None) -> Policy:
    """Parse and validate a RAM policy document of the given kind; MalformedPolicy says what is wrong."""
    if not isinstance(document, str):
        raise MalformedPolicy(f"The policy document must be text, not {type(document).__name__}.")
    if max_length is not None and len(document) > max_length:
        raise MalformedPolicy(
            f"The policy document is {len(document)} characters long; the limit is {max_length} characters."
        )
    try:
        data = orjson.loads(document)
    except orjson.JSONDecodeError as exc:
        raise MalformedPolicy(f"The policy document is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise MalformedPolicy(f"The policy document must be a JSON object, not {_type_name(data)}.")
    for key in data:
        if key not in _TOP_LEVEL_KEYS:
            raise MalformedPolicy(f"Unknown top-level element {_show(key)}; a policy has only Version and Statement.")
    if "Version" not in data:
        raise MalformedPolicy('Version is missing; it must be "1".')
    if data["Version"] != "1":
        raise MalformedPolicy(f'Version must be the string "1", not {_show(data["Version"])}.')
    if "Statement" not in data:
        raise MalformedPolicy("Statement is missing; it must be a list of statements.")
    statements = data["Statement"]
    if not isinstance(statements, list):
        raise MalformedPolicy(f"Statement must be a list of statements, not {_type_name(statements)}.")
    if not statements:
        raise MalformedPolicy("Statement must contain at least one statement.")
    return Policy(
        version="1",
        statements=tuple(_parse_statement(raw, index, kind) for index, raw in enumerate(statements, start=1)),
    )
