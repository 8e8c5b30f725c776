"""Authorization: may this principal perform the operation's RAM action on its resources?

Root (account) credentials are not subject to RAM policies. A RAM user is governed by the
policies attached to it and to its groups; a role session by its role's policies, narrowed by
the session policy it was issued with. Every operation declares its RAM action and the ARNs it
acts on; this step checks them all before the handler runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ecsram.contract.call import Call
from ecsram.contract.errors import ApiError
from ecsram.iam.cache import parsed
from ecsram.iam.evaluate import AccessRequest, Decision, evaluate, evaluate_with_session
from ecsram.iam.policy import Policy, PolicyKind
from ecsram.iam.principal import PrincipalKind
from ecsram.iam.system_policies import SYSTEM_POLICIES
from ecsram.iam.trust import ECS_SERVICE
from ecsram.store import policies

_SYSTEM_BY_KEY = {name.lower(): policy for name, policy in SYSTEM_POLICIES.items()}


def identity_policies(call: Call) -> list[Policy]:
    """The policies attached to the caller (user, its groups, or the session's role), read once per call."""
    if call.identity_policies is None:
        principal = call.caller
        if principal.kind is PrincipalKind.USER:
            assert principal.user_id is not None
            rows = policies.governing_documents(call.store, principal.account_id, policies.USER, principal.user_id)
        else:
            assert principal.role_id is not None
            rows = policies.governing_documents(call.store, principal.account_id, policies.ROLE, principal.role_id)
        documents = []
        for policy_type, name_key, stored in rows:
            system = _SYSTEM_BY_KEY.get(name_key) if policy_type == policies.SYSTEM else None
            document = system.document if system is not None else stored
            if document is not None:
                documents.append(parsed(document, PolicyKind.IDENTITY))
        call.identity_policies = documents
    return call.identity_policies


def request_context(call: Call, **extra: Any) -> dict[str, Any]:
    """The condition keys every request carries (``acs:*``, lower-cased as the engine expects)."""
    return {
        "acs:sourceip": call.http.client_ip,
        "acs:currenttime": call.now,
        "acs:securetransport": call.http.secure,
        "acs:mfapresent": False,
        **extra,
    }


def decide(call: Call, action: str, resources: Iterable[str], context: dict[str, Any]) -> tuple[Decision, str]:
    """The decision for ``action`` on every resource (the strictest wins), and which kind of
    policy made it (for ``AccessDeniedDetail.PolicyType``)."""
    identity = identity_policies(call)
    session: Policy | None = call.caller.session_policy
    worst = Decision.ALLOW
    policy_type = "AccountLevelIdentityBasedPolicy"
    for resource in resources:
        request = AccessRequest(action=action, resource=resource, context=context)
        decision = evaluate_with_session(identity, session, request)
        if decision is Decision.ALLOW:
            continue
        if session is not None and evaluate(identity, request) is Decision.ALLOW:
            policy_type = "SessionPolicy"
        if decision is Decision.EXPLICIT_DENY or worst is Decision.ALLOW:
            worst = decision
        if worst is Decision.EXPLICIT_DENY:
            break
    return worst, policy_type


def denial(call: Call, action: str, decision: Decision, policy_type: str) -> ApiError:
    principal = call.caller
    detail = {
        "AuthAction": action,
        "AuthPrincipalType": "SubUser" if principal.kind is PrincipalKind.USER else "AssumedRoleUser",
        "AuthPrincipalOwnerId": principal.account_id,
        "AuthPrincipalDisplayName": principal.display_name,
        "NoPermissionType": decision.value,
        "PolicyType": policy_type,
    }
    product = call.operation.product if call.operation else "ecs"
    if product == "ecs":
        return ApiError(
            "Forbidden.RAM",
            403,
            f"User not authorized to operate on the specified resource ({action}, {decision.value}).",
            access_denied_detail=detail,
        )
    return ApiError(
        "NoPermission",
        403,
        f"You are not authorized to do this action ({action}, {decision.value}). You should be authorized by RAM.",
        access_denied_detail=detail,
    )


def authorize(call: Call) -> None:
    """The pipeline step: the operation's RAM action on each of its resources."""
    operation = call.operation
    assert operation is not None
    if call.caller.is_root or not operation.governed:
        return
    resources: Sequence[str] = operation.resources(call)
    decision, policy_type = decide(call, operation.ram_action, resources, request_context(call))
    if decision is not Decision.ALLOW:
        raise denial(call, operation.ram_action, decision, policy_type)


def may_pass_role(call: Call, role_arn: str, service: str = ECS_SERVICE) -> bool:
    """Whether the caller may pass the role to ``service`` (``ram:PassRole`` on the role's ARN)."""
    if call.caller.is_root:
        return True
    context = request_context(call, **{"acs:service": service})
    decision, _policy_type = decide(call, "ram:PassRole", (role_arn,), context)
    return decision is Decision.ALLOW
