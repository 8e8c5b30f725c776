"""RAM policy evaluation: explicit Deny wins, then any Allow, otherwise implicit deny.

Pure code, no I/O. A statement applies to a request when its action, its resource (when it names any), its
principal (trust policies only) and every one of its conditions match; see ``conditions`` for how condition
operators treat absent or unreadable context values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ecsram.iam.conditions import compile_glob, holds
from ecsram.iam.policy import Effect, Policy, Statement

__all__ = ["AccessRequest", "Decision", "evaluate", "evaluate_with_session", "trust_allows"]

ASSUME_ROLE_ACTION = "sts:AssumeRole"


class Decision(StrEnum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True, slots=True)
class AccessRequest:
    action: str
    resource: str = "*"
    # Condition keys in lower case, e.g. "acs:sourceip"; a list/tuple value holds several values for one key.
    context: Mapping[str, object] = field(default_factory=dict, hash=False)
    # Trust evaluation only: who asks to assume the role, e.g. {"Service": "ecs.aliyuncs.com"}.
    principal: Mapping[str, str] | None = field(default=None, hash=False)


# A RAM principal naming a whole account: its root ARN, or the bare (16-digit) account id.
_ACCOUNT_ROOT = re.compile(r"acs:ram::(\d+):root", re.ASCII)
_ACCOUNT_ID = re.compile(r"\d{16}", re.ASCII)


def _account_of(pattern: str) -> str | None:
    if _ACCOUNT_ID.fullmatch(pattern):
        return pattern
    root = _ACCOUNT_ROOT.fullmatch(pattern)
    return root.group(1) if root else None


def _principal_matches(allowed: Mapping[str, tuple[str, ...]], requester: Mapping[str, str] | None) -> bool:
    if "*" in allowed:
        return True
    if requester is None:
        return False
    for kind, name in requester.items():
        patterns = allowed.get(kind)
        if not patterns:
            continue
        if kind == "RAM":
            for pattern in patterns:
                account = _account_of(pattern)
                # Naming an account trusts every identity in it; the trailing colon keeps 12 from matching 123.
                if account is not None and name.startswith(f"acs:ram::{account}:"):
                    return True
        # Service names are DNS-like, so compared case-insensitively; ARNs and federated names exactly.
        if compile_glob(patterns, kind == "Service").fullmatch(name):
            return True
    return False


def _matches(statement: Statement, request: AccessRequest, check_resource: bool) -> bool:
    regex = statement.action_regex
    if (regex is None or regex.fullmatch(request.action) is not None) == statement.not_action:
        return False
    if check_resource and statement.resources:
        regex = statement.resource_regex
        if (regex is None or regex.fullmatch(request.resource) is not None) == statement.not_resource:
            return False
    if statement.principals is not None and not _principal_matches(statement.principals, request.principal):
        return False
    context = request.context
    return all(holds(c.operator, c.prepared, context, c.key) for c in statement.conditions)


def _decide(policies: Iterable[Policy], request: AccessRequest, check_resource: bool = True) -> Decision:
    allowed = False
    for policy in policies:
        for statement in policy.statements:
            if statement.effect is Effect.DENY:
                if _matches(statement, request, check_resource):
                    return Decision.EXPLICIT_DENY
            elif not allowed and _matches(statement, request, check_resource):
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def evaluate(policies: Iterable[Policy], request: AccessRequest) -> Decision:
    """The decision of a set of policies for one request: a matching Deny anywhere beats any Allow."""
    return _decide(policies, request)


def evaluate_with_session(identity: Iterable[Policy], session: Policy | None, request: AccessRequest) -> Decision:
    """The identity's decision narrowed by a session policy: both must allow, and a Deny in either wins."""
    granted = _decide(identity, request)
    if granted is Decision.EXPLICIT_DENY:
        return granted
    if session is None:
        return granted
    narrowed = _decide((session,), request)
    if narrowed is Decision.EXPLICIT_DENY:
        return narrowed
    if granted is Decision.ALLOW and narrowed is Decision.ALLOW:
        return Decision.ALLOW
    return Decision.IMPLICIT_DENY


def trust_allows(trust: Policy, principal: Mapping[str, str], context: Mapping[str, object] | None = None) -> bool:
    """Whether a role's trust policy lets ``principal`` perform sts:AssumeRole.

    Resource/NotResource in a trust policy are ignored: the resource is the role itself, which the caller
    has already chosen by looking up its trust policy.
    """
    request = AccessRequest(ASSUME_ROLE_ACTION, context=context or {}, principal=principal)
    return _decide((trust,), request, check_resource=False) is Decision.ALLOW
