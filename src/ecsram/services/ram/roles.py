"""RAM roles: CreateRole, GetRole, ListRoles, UpdateRole, DeleteRole."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from ecsram.contract.call import Call
from ecsram.contract.catalogue.params import Checked, Integer
from ecsram.contract.errors import ApiError
from ecsram.contract.operation import Operation, operation
from ecsram.iam.arns import role_arn
from ecsram.services.ram import documents, errors
from ecsram.services.ram import tags as role_tags
from ecsram.services.ram.common import PAGING_PARAMS, existing_role, length_limited, paged, paged_entities, resource
from ecsram.services.ram.names import role_name_param
from ecsram.store import policies, roles
from ecsram.store.roles import Role
from ecsram.store.times import iso

MAX_ROLES_PER_ACCOUNT = 1000
MIN_SESSION_DURATION, MAX_SESSION_DURATION = 3600, 43200
MAX_DESCRIPTION = 1024


def role_view(role: Role, *, with_document: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "RoleId": role.role_id,
        "RoleName": role.role_name,
        "Arn": role_arn(role.account_id, role.role_name),
        "Description": role.description,
        "MaxSessionDuration": role.max_session_duration,
        "CreateDate": role.created_at,
        "UpdateDate": role.updated_at,
    }
    if with_document:
        view["AssumeRolePolicyDocument"] = role.assume_role_policy
    return view


def _session_duration(raw: str) -> int:
    value = Integer("MaxSessionDuration").parse(raw)
    if not MIN_SESSION_DURATION <= value <= MAX_SESSION_DURATION:
        raise ApiError(
            "InvalidParameter.MaxSessionDuration",
            400,
            f"The MaxSessionDuration must be between {MIN_SESSION_DURATION} and {MAX_SESSION_DURATION} seconds.",
        )
    return int(value)


def create_role(call: Call) -> dict[str, Any]:
    args = call.args
    account_id = call.caller.account_id
    if roles.count(call.store, account_id) >= MAX_ROLES_PER_ACCOUNT:
        raise errors.limit_exceeded("Role", MAX_ROLES_PER_ACCOUNT)
    now = iso(call.now)
    role = Role(
        role_id="3" + "".join(secrets.choice("0123456789") for _ in range(18)),
        account_id=account_id,
        role_name=args["RoleName"],
        description=args["Description"] or "",
        assume_role_policy=args["AssumeRolePolicyDocument"],
        max_session_duration=args["MaxSessionDuration"] or MIN_SESSION_DURATION,
        created_at=now,
        updated_at=now,
    )
    if not roles.insert(call.store, role):
        raise errors.entity_already_exists("Role", role.role_name)
    if args["Tag"]:
        role_tags.tag_role(call, role, args["Tag"])
    view = role_view(role)
    del view["UpdateDate"]
    return {"Role": view}


def get_role(call: Call) -> dict[str, Any]:
    return {"Role": role_view(existing_role(call, call.args["RoleName"]))}


def update_role(call: Call) -> dict[str, Any]:
    args = call.args
    role = existing_role(call, args["RoleName"])
    updated = replace(
        role,
        assume_role_policy=args["NewAssumeRolePolicyDocument"] or role.assume_role_policy,
        description=role.description if args["NewDescription"] is None else args["NewDescription"],
        max_session_duration=args["NewMaxSessionDuration"] or role.max_session_duration,
        updated_at=iso(call.now),
    )
    roles.save(call.store, updated)
    return {"Role": role_view(updated)}


def delete_role(call: Call) -> dict[str, Any]:
    # A role bound to instances can be deleted, as in the cloud: the binding names the role,
    # so the instances keep the name and their metadata service stops serving credentials.
    role = existing_role(call, call.args["RoleName"])
    if policies.attachments_of(call.store, role.account_id, policies.ROLE, role.role_id):
        raise errors.delete_conflict("Role.Policy", "The role cannot have any attached policies when you delete it.")
    roles.delete(call.store, role.role_id)
    role_tags.untag_role(call, role)
    return {}


def list_roles(call: Call) -> dict[str, Any]:
    filters = call.args["Tag"]
    if filters:
        # Roles carrying every given tag; an account has at most MAX_ROLES_PER_ACCOUNT roles.
        matched = role_tags.roles_with_tags(call, filters)
        account_id = call.caller.account_id

        def fetch(after: str, limit: int) -> list[Role]:
            every = roles.list_page(call.store, account_id, after=after, limit=MAX_ROLES_PER_ACCOUNT + 1)
            return [role for role in every if role.role_id in matched][:limit]

        page, fields = paged(call, fetch, roles.ROLES.key_of)
    else:
        page, fields = paged_entities(call, roles.ROLES)
    carried = role_tags.tags_by_role(call, page)
    views = []
    for role in page:
        view = role_view(role, with_document=False)
        if role.role_id in carried:
            view["Tags"] = {"Tag": [{"TagKey": t.key, "TagValue": t.value} for t in carried[role.role_id]]}
        views.append(view)
    return {**fields, "Roles": {"Role": views}}


_role_resource = resource("role", "RoleName")
_all_roles = resource("role", "")


OPERATIONS: tuple[Operation, ...] = (
    operation(
        "ram",
        "CreateRole",
        create_role,
        params=(
            role_name_param(),
            Checked("AssumeRolePolicyDocument", required=True, check=documents.trust_document),
            length_limited("Description", MAX_DESCRIPTION),
            Checked("MaxSessionDuration", check=_session_duration),
            role_tags.tag_param(),
        ),
        resources=_role_resource,
    ),
    operation("ram", "GetRole", get_role, params=(role_name_param(),), resources=_role_resource),
    operation(
        "ram",
        "UpdateRole",
        update_role,
        params=(
            role_name_param(),
            Checked("NewAssumeRolePolicyDocument", check=documents.trust_document),
            length_limited("NewDescription", MAX_DESCRIPTION),
            Checked("NewMaxSessionDuration", check=_session_duration),
        ),
        resources=_role_resource,
    ),
    operation("ram", "DeleteRole", delete_role, params=(role_name_param(),), resources=_role_resource),
    operation(
        "ram",
        "ListRoles",
        list_roles,
        params=(*PAGING_PARAMS, role_tags.tag_param(filters=True)),
        resources=_all_roles,
    ),
)
