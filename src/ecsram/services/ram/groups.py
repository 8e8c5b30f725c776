"""RAM user groups: a user is governed by its groups' policies as well as its own."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from ecsram.contract.call import Call
from ecsram.contract.operation import Operation, operation
from ecsram.services.ram import errors
from ecsram.services.ram.common import (
    PAGING_PARAMS,
    existing_group,
    existing_user,
    length_limited,
    paged,
    paged_entities,
    resource,
    resources,
)
from ecsram.services.ram.names import GROUP, USER
from ecsram.store import groups, policies
from ecsram.store.groups import Group
from ecsram.store.named import name_key
from ecsram.store.times import iso


def group_view(group: Group, *, updated: bool = True) -> dict[str, Any]:
    view = {
        "GroupId": group.group_id,
        "GroupName": group.group_name,
        "Comments": group.comments,
        "CreateDate": group.created_at,
    }
    if updated:
        view["UpdateDate"] = group.updated_at
    return view


def create_group(call: Call) -> dict[str, Any]:
    now = iso(call.now)
    group = Group(
        group_id="g-" + secrets.token_hex(8),
        account_id=call.caller.account_id,
        group_name=call.args["GroupName"],
        comments=call.args["Comments"] or "",
        created_at=now,
        updated_at=now,
    )
    if not groups.insert(call.store, group):
        raise errors.entity_already_exists("Group", group.group_name)
    return {"Group": group_view(group, updated=False)}


def get_group(call: Call) -> dict[str, Any]:
    return {"Group": group_view(existing_group(call, call.args["GroupName"]))}


def update_group(call: Call) -> dict[str, Any]:
    args = call.args
    group = existing_group(call, args["GroupName"])
    new_name = args["NewGroupName"]
    renamed = bool(new_name) and name_key(new_name) != name_key(group.group_name)
    if renamed and groups.find(call.store, group.account_id, new_name) is not None:
        raise errors.entity_already_exists("Group", new_name)
    updated = replace(
        group,
        group_name=new_name or group.group_name,
        comments=group.comments if args["NewComments"] is None else args["NewComments"],
        updated_at=iso(call.now),
    )
    groups.save(call.store, updated)
    return {"Group": group_view(updated)}


def delete_group(call: Call) -> dict[str, Any]:
    group = existing_group(call, call.args["GroupName"])
    if groups.member_count(call.store, group.group_id):
        raise errors.delete_conflict("Group.User", "The group has members; remove them before deleting it.")
    if policies.attachments_of(call.store, group.account_id, policies.GROUP, group.group_id):
        raise errors.delete_conflict("Group.Policy", "The group has policies attached; detach them first.")
    groups.delete(call.store, group.group_id)
    return {}


def list_groups(call: Call) -> dict[str, Any]:
    page, fields = paged_entities(call, groups.GROUPS)
    return {**fields, "Groups": {"Group": [group_view(g) for g in page]}}


def add_user_to_group(call: Call) -> dict[str, Any]:
    group = existing_group(call, call.args["GroupName"])
    user = existing_user(call, call.args["UserName"])
    if not groups.add_member(call.store, group, user.user_id, iso(call.now)):
        raise errors.entity_already_exists("User.Group", f"{user.user_name} in {group.group_name}")
    return {}


def remove_user_from_group(call: Call) -> dict[str, Any]:
    group = existing_group(call, call.args["GroupName"])
    user = existing_user(call, call.args["UserName"])
    if not groups.remove_member(call.store, group.group_id, user.user_id):
        raise errors.entity_not_exist("User.Group", f"{user.user_name} in {group.group_name}")
    return {}


def list_groups_for_user(call: Call) -> dict[str, Any]:
    user = existing_user(call, call.args["UserName"])
    items = [
        {"GroupId": g.group_id, "GroupName": g.group_name, "Comments": g.comments, "JoinDate": joined}
        for g, joined in groups.groups_of(call.store, user.user_id)
    ]
    return {"Groups": {"Group": items}}


def list_users_for_group(call: Call) -> dict[str, Any]:
    group = existing_group(call, call.args["GroupName"])
    page, fields = paged(
        call,
        lambda after, limit: groups.members(call.store, group.group_id, after=after, limit=limit),
        lambda member: member[2],
    )
    items = [{"UserName": name, "DisplayName": display, "JoinDate": joined} for name, display, _key, joined in page]
    return {**fields, "Users": {"User": items}}


_group = resource("group", "GroupName")
_member = resources(("group", "GroupName"), ("user", "UserName"))

OPERATIONS: tuple[Operation, ...] = (
    operation(
        "ram",
        "CreateGroup",
        create_group,
        params=(GROUP.param("GroupName"), length_limited("Comments", 128)),
        resources=_group,
    ),
    operation("ram", "GetGroup", get_group, params=(GROUP.param("GroupName"),), resources=_group),
    operation(
        "ram",
        "UpdateGroup",
        update_group,
        params=(
            GROUP.param("GroupName"),
            GROUP.param("NewGroupName", required=False),
            length_limited("NewComments", 128),
        ),
        resources=_group,
    ),
    operation("ram", "DeleteGroup", delete_group, params=(GROUP.param("GroupName"),), resources=_group),
    operation("ram", "ListGroups", list_groups, params=PAGING_PARAMS, resources=resource("group", "")),
    operation(
        "ram",
        "AddUserToGroup",
        add_user_to_group,
        params=(GROUP.param("GroupName"), USER.param("UserName")),
        resources=_member,
    ),
    operation(
        "ram",
        "RemoveUserFromGroup",
        remove_user_from_group,
        params=(GROUP.param("GroupName"), USER.param("UserName")),
        resources=_member,
    ),
    operation(
        "ram",
        "ListGroupsForUser",
        list_groups_for_user,
        params=(USER.param("UserName"),),
        resources=resource("user", "UserName"),
    ),
    operation(
        "ram",
        "ListUsersForGroup",
        list_users_for_group,
        params=(GROUP.param("GroupName"), *PAGING_PARAMS),
        resources=_group,
    ),
)
