"""Attaching policies to users, groups and roles, and listing who holds what."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ecsram.contract.call import Call
from ecsram.contract.operation import Operation, operation
from ecsram.iam.arns import role_arn
from ecsram.services.ram import errors
from ecsram.services.ram.common import existing_group, existing_role, existing_user, resource, resources
from ecsram.services.ram.names import GROUP, POLICY, ROLE, USER, NameRule
from ecsram.services.ram.policies import existing_policy, policy_type_param
from ecsram.store import groups, policies, roles, users
from ecsram.store.times import iso


def _find_user(call: Call, name: str) -> tuple[str, str]:
    user = existing_user(call, name)
    return user.user_id, user.user_name


def _find_group(call: Call, name: str) -> tuple[str, str]:
    group = existing_group(call, name)
    return group.group_id, group.group_name


def _find_role(call: Call, name: str) -> tuple[str, str]:
    role = existing_role(call, name)
    return role.role_id, role.role_name


# principal type -> (RAM entity kind, name parameter, name rule, finder returning (id, name))
_KINDS: dict[str, tuple[str, str, NameRule, Callable[[Call, str], tuple[str, str]]]] = {
    policies.USER: ("User", "UserName", USER, _find_user),
    policies.GROUP: ("Group", "GroupName", GROUP, _find_group),
    policies.ROLE: ("Role", "RoleName", ROLE, _find_role),
}


def _change_attachment(principal_type: str, *, attach: bool) -> Callable[[Call], dict[str, Any]]:
    """AttachPolicyTo<Kind> (``attach``) or DetachPolicyFrom<Kind>: the policy and the principal must
    exist; attaching twice is EntityAlreadyExists, detaching what is not attached EntityNotExist."""
    kind, parameter, _rule, find = _KINDS[principal_type]

    def handler(call: Call) -> dict[str, Any]:
        policy = existing_policy(call, call.args["PolicyType"], call.args["PolicyName"])
        principal_id, name = find(call, call.args[parameter])
        key = (call.store, call.caller.account_id, principal_type, principal_id, policy.policy_type, policy.policy_name)
        if attach:
            if not policies.attach(*key, iso(call.now)):
                raise errors.entity_already_exists(f"{kind}.Policy", f"{policy.policy_name} on {name}")
        elif not policies.detach(*key):
            raise errors.entity_not_exist(f"{kind}.Policy", f"{policy.policy_name} on {name}")
        return {}

    return handler


def _list_for(principal_type: str) -> Callable[[Call], dict[str, Any]]:
    _kind, parameter, _rule, find = _KINDS[principal_type]

    def handler(call: Call) -> dict[str, Any]:
        principal_id, _name = find(call, call.args[parameter])
        items = []
        for attachment in policies.attachments_of(call.store, call.caller.account_id, principal_type, principal_id):
            policy = existing_policy(call, attachment.policy_type, attachment.policy_name_key)
            items.append(
                {
                    "PolicyName": policy.policy_name,
                    "PolicyType": policy.policy_type,
                    "Description": policy.description,
                    "DefaultVersion": policy.default_version,
                    "AttachDate": attachment.attached_at,
                }
            )
        return {"Policies": {"Policy": items}}

    return handler


def list_entities_for_policy(call: Call) -> dict[str, Any]:
    policy = existing_policy(call, call.args["PolicyType"], call.args["PolicyName"])
    found: dict[str, list[dict[str, Any]]] = {"User": [], "Group": [], "Role": []}
    tx = call.store
    for attachment in policies.attachments_to(tx, call.caller.account_id, policy.policy_type, policy.policy_name):
        if attachment.principal_type == policies.USER:
            user = users.by_id(tx, attachment.principal_id)
            if user is not None:
                found["User"].append(
                    {
                        "UserId": user.user_id,
                        "UserName": user.user_name,
                        "DisplayName": user.display_name,
                        "AttachDate": attachment.attached_at,
                    }
                )
        elif attachment.principal_type == policies.GROUP:
            group = groups.by_id(tx, attachment.principal_id)
            if group is not None:
                found["Group"].append(
                    {"GroupName": group.group_name, "Comments": group.comments, "AttachDate": attachment.attached_at}
                )
        else:
            role = roles.by_id(tx, attachment.principal_id)
            if role is not None:
                found["Role"].append(
                    {
                        "RoleId": role.role_id,
                        "RoleName": role.role_name,
                        "Arn": role_arn(role.account_id, role.role_name),
                        "Description": role.description,
                        "AttachDate": attachment.attached_at,
                    }
                )
    return {"Users": {"User": found["User"]}, "Groups": {"Group": found["Group"]}, "Roles": {"Role": found["Role"]}}


def _operations() -> tuple[Operation, ...]:
    made: list[Operation] = []
    for principal_type, (kind, parameter, rule, _find) in _KINDS.items():
        targets = resources((kind.lower(), parameter), ("policy", "PolicyName"))
        change_params = (policy_type_param(), POLICY.param("PolicyName"), rule.param(parameter))
        made.extend(
            (
                operation(
                    "ram",
                    f"AttachPolicyTo{kind}",
                    _change_attachment(principal_type, attach=True),
                    params=change_params,
                    resources=targets,
                ),
                operation(
                    "ram",
                    f"DetachPolicyFrom{kind}",
                    _change_attachment(principal_type, attach=False),
                    params=change_params,
                    resources=targets,
                ),
                operation(
                    "ram",
                    f"ListPoliciesFor{kind}",
                    _list_for(principal_type),
                    params=(rule.param(parameter),),
                    resources=resource(kind.lower(), parameter),
                ),
            )
        )
    made.append(
        operation(
            "ram",
            "ListEntitiesForPolicy",
            list_entities_for_policy,
            params=(policy_type_param(), POLICY.param("PolicyName")),
            resources=resource("policy", "PolicyName"),
        )
    )
    return tuple(made)


OPERATIONS = _operations()
