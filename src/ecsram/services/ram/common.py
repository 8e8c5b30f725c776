"""What RAM operations share: finding entities by name, Marker/MaxItems paging, resources."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ecsram.gateway.context import Call
from ecsram.gateway.errors import ApiError
from ecsram.services.ram import errors
from ecsram.spec import paging
from ecsram.spec.params import Checked, Integer, Param
from ecsram.store import groups, roles, users
from ecsram.store.groups import Group
from ecsram.store.roles import Role
from ecsram.store.users import User

T = TypeVar("T")


def existing_user(call: Call, user_name: str) -> User:
    user = users.find(call.store, call.caller.account_id, user_name)
    if user is None:
        raise errors.entity_not_exist("User", user_name)
    return user


def existing_role(call: Call, role_name: str) -> Role:
    role = roles.find(call.store, call.caller.account_id, role_name)
    if role is None:
        raise errors.entity_not_exist("Role", role_name)
    return role


def existing_group(call: Call, group_name: str) -> Group:
    group = groups.find(call.store, call.caller.account_id, group_name)
    if group is None:
        raise errors.entity_not_exist("Group", group_name)
    return group


def _marker(raw: str) -> str:
    try:
        return paging.decode(raw)
    except ValueError:
        raise ApiError("InvalidParameter.Marker", 400, "The specified Marker is not valid.") from None


PAGING_PARAMS: tuple[Param, ...] = (
    Checked("Marker", check=_marker),
    Integer("MaxItems", minimum=1, maximum=1000, default=100),
)


def paged(call: Call, fetch: Callable[[str, int], list[T]], key: Callable[[T], str]) -> tuple[list[T], dict[str, Any]]:
    """One page after the request's Marker; returns the items and the IsTruncated/Marker fields."""
    limit: int = call.args["MaxItems"]
    items = fetch(call.args["Marker"] or "", limit + 1)
    truncated = len(items) > limit
    items = items[:limit]
    fields: dict[str, Any] = {"IsTruncated": truncated}
    if truncated:
        fields["Marker"] = paging.encode(key(items[-1]))
    return items, fields


def length_limited(parameter: str, maximum: int) -> Checked:
    def check(raw: str) -> str:
        if len(raw) > maximum:
            raise errors.invalid_length(parameter, maximum)
        return raw

    return Checked(parameter, check=check)


def ram_arn(call: Call, kind: str, name: str) -> str:
    return f"acs:ram::{call.caller.account_id}:{kind}/{name}"


def resource(kind: str, parameter: str) -> Callable[[Call], Sequence[str]]:
    """The ARN of the entity named by ``parameter`` (``*`` when it is not given)."""

    def arns(call: Call) -> Sequence[str]:
        return (ram_arn(call, kind, call.args.get(parameter) or "*"),)

    return arns


def resources(*pairs: tuple[str, str]) -> Callable[[Call], Sequence[str]]:
    """The ARNs of several entities, e.g. the user and the policy of AttachPolicyToUser."""

    def arns(call: Call) -> Sequence[str]:
        return tuple(ram_arn(call, kind, call.args.get(parameter) or "*") for kind, parameter in pairs)

    return arns
