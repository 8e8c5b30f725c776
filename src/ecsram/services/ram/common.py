"""What RAM operations share: finding entities by name, Marker/MaxItems paging, resources."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ecsram.contract import paging
from ecsram.contract.call import Call
from ecsram.contract.catalogue.params import Checked, Integer, Param
from ecsram.contract.errors import ApiError
from ecsram.services.ram import errors
from ecsram.store import groups, roles, users
from ecsram.store.groups import Group
from ecsram.store.named import NamedEntities
from ecsram.store.roles import Role
from ecsram.store.users import User

T = TypeVar("T")


def _existing(call: Call, entities: NamedEntities[T], kind: str, name: str) -> T:
    found = entities.find(call.store, call.caller.account_id, name)
    if found is None:
        raise errors.entity_not_exist(kind, name)
    return found


def existing_user(call: Call, user_name: str) -> User:
    return _existing(call, users.USERS, "User", user_name)


def existing_role(call: Call, role_name: str) -> Role:
    return _existing(call, roles.ROLES, "Role", role_name)


def existing_group(call: Call, group_name: str) -> Group:
    return _existing(call, groups.GROUPS, "Group", group_name)


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


def paged_entities(call: Call, entities: NamedEntities[T]) -> tuple[list[T], dict[str, Any]]:
    """One page of the caller's users, groups or roles in name order (ListUsers, ListGroups, ListRoles)."""
    account_id = call.caller.account_id
    return paged(
        call, lambda after, limit: entities.list_page(call.store, account_id, after=after, limit=limit), entities.key_of
    )
