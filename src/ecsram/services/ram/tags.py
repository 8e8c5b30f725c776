"""RAM TagResources, UntagResources, ListTagResources for roles (``ResourceType=role``), and the
tag parameter and views that role operations share (``Tag`` on CreateRole, ``Tags`` in ListRoles).

RAM takes its lists as JSON strings: ``ResourceNames=["r1"]``, ``Tag=[{"Key":"k","Value":"v"}]``,
``TagKeys=["k"]``. RAM's published metadata carries no error codes for these actions: the codes
here are ecsram's, in RAM's style (see docs/fidelity.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ecsram.contract.call import Call
from ecsram.contract.catalogue.params import Boolean, Checked, Integer, JsonStringList
from ecsram.contract.errors import ApiError
from ecsram.contract.operation import Operation, operation
from ecsram.services import tagging
from ecsram.services.ram.common import existing_role, ram_arn
from ecsram.services.tagging import MAX_TAGS_PER_RESOURCE, Filter, JsonTags, TagErrors, matching_resources
from ecsram.store import roles, tags
from ecsram.store.named import name_key
from ecsram.store.roles import Role
from ecsram.store.tags import ROLE, Tag

MAX_RESOURCES = 50
VALUE_MAX = 256


def _invalid(name: str, reason: str) -> ApiError:
    return ApiError(f"InvalidParameter.{name}", 400, f"The specified parameter {name} is not valid. {reason}")


TAG_ERRORS = TagErrors(
    too_many=lambda: _invalid("Tag", f"Give 1 to {MAX_TAGS_PER_RESOURCE} tags."),
    bad_key=lambda _key: _invalid(
        "TagKey",
        "A tag key is 1 to 128 characters, does not start with aliyun or acs:, "
        "and contains no URL or control character.",
    ),
    bad_value=lambda _value: _invalid(
        "TagValue", f"A tag value is at most {VALUE_MAX} characters and contains no URL or control character."
    ),
    duplicate_key=lambda key: _invalid("Tag", f"The key {key[:128]} is given twice."),
    mismatch=lambda: _invalid("Tag", 'It must be a JSON array of {"Key": "...", "Value": "..."} objects.'),
)


def tag_param(*, required: bool = False, filters: bool = False) -> JsonTags:
    return JsonTags("Tag", required=required, tag_errors=TAG_ERRORS, filters=filters, value_max=VALUE_MAX)


def tags_by_role(call: Call, listed: Sequence[Role]) -> dict[str, list[Tag]]:
    grouped: dict[str, list[Tag]] = {}
    for tag in tags.of_resources(call.store, call.caller.account_id, ROLE, [role.role_id for role in listed]):
        grouped.setdefault(tag.resource_id, []).append(tag)
    return grouped


def roles_with_tags(call: Call, filters: Sequence[Filter]) -> set[str]:
    """The IDs of the account's roles carrying every filter's tag (ListRoles ``Tag``)."""
    carried: dict[str, dict[str, str]] = {}
    for tag in tags.with_keys(call.store, call.caller.account_id, ROLE, sorted({key for key, _ in filters})):
        carried.setdefault(tag.resource_id, {})[tag.key] = tag.value
    return matching_resources(carried, tuple(filters))


def tag_role(call: Call, role: Role, pairs: Sequence[tuple[str, str]]) -> None:
    tags.put(call.store, role.account_id, ROLE, [role.role_id], pairs)


def untag_role(call: Call, role: Role) -> None:
    """Deleting a role deletes its tags."""
    tags.remove(call.store, role.account_id, ROLE, [role.role_id], None)


# --- the operations ---------------------------------------------------------------------------------


def _resource_type(raw: str) -> str:
    if raw != ROLE:
        raise _invalid("ResourceType", "ecsram tags RAM roles only: use role.")
    return raw


def _names(*, required: bool) -> JsonStringList:
    return JsonStringList(
        "ResourceNames",
        required=required,
        max_items=MAX_RESOURCES,
        error=lambda: _invalid("ResourceNames", f"It must be a JSON array of 1 to {MAX_RESOURCES} role names."),
    )


def _roles(call: Call, names: Sequence[str]) -> list[Role]:
    found: dict[str, Role] = {}
    for name in names:
        role = existing_role(call, name)
        found.setdefault(role.role_id, role)
    return list(found.values())


def tag_resources(call: Call) -> dict[str, Any]:
    targets = _roles(call, call.args["ResourceNames"])
    account_id = call.caller.account_id
    ids = [role.role_id for role in targets]
    roles.lock(call.store, ids)
    tags.put(call.store, account_id, ROLE, ids, call.args["Tag"])
    if any(n > MAX_TAGS_PER_RESOURCE for n in tags.counts(call.store, account_id, ROLE, ids).values()):
        raise ApiError(
            "LimitExceeded.Tag", 409, f"A role can carry at most {MAX_TAGS_PER_RESOURCE} tags; remove some first."
        )
    return {}


def untag_resources(call: Call) -> dict[str, Any]:
    args = call.args
    keys: tuple[str, ...] | None = args["TagKeys"]
    if keys is not None and args["All"]:
        raise _invalid("All", "Give either TagKeys or All=true, not both.")
    ids = [role.role_id for role in _roles(call, args["ResourceNames"])]
    if keys is not None or args["All"]:
        tags.remove(call.store, call.caller.account_id, ROLE, ids, keys)
    return {}


def _next_token(raw: str) -> tuple[str, str]:
    position = tagging.read_position(raw)
    if position is None:
        raise ApiError("InvalidParameter.NextToken", 400, "The specified NextToken is not valid.")
    return position


def list_tag_resources(call: Call) -> dict[str, Any]:
    args = call.args
    names: tuple[str, ...] | None = args["ResourceNames"]
    filters: tuple[Filter, ...] | None = args["Tag"]
    account_id = call.caller.account_id
    if names is not None:
        found = tags.of_resources(call.store, account_id, ROLE, [role.role_id for role in _roles(call, names)])
    elif filters is not None:
        found = tags.with_keys(call.store, account_id, ROLE, sorted({key for key, _ in filters}))
    else:
        found = tags.all_of_type(call.store, account_id, ROLE)
    if filters:
        carried: dict[str, dict[str, str]] = {}
        for tag in found:
            carried.setdefault(tag.resource_id, {})[tag.key] = tag.value
        matched = matching_resources(carried, filters)
        keys = {key for key, _ in filters}
        found = [tag for tag in found if tag.resource_id in matched and tag.key in keys]
    role_names = tags.role_names(call.store, account_id, sorted({tag.resource_id for tag in found}))
    rows = sorted(
        (name_key(role_names[tag.resource_id]), tag.key, role_names[tag.resource_id], tag.value)
        for tag in found
        if tag.resource_id in role_names
    )
    if args["NextToken"] is not None:
        after = args["NextToken"]
        rows = [row for row in rows if (row[0], row[1]) > after]
    size: int = args["PageSize"]
    page = rows[:size]
    response: dict[str, Any] = {
        "TagResources": [
            {"ResourceName": name, "ResourceType": ROLE, "TagKey": key, "TagValue": value}
            for _key, key, name, value in page
        ]
    }
    if len(rows) > size:
        response["NextToken"] = tagging.position_token(page[-1][0], page[-1][1])
    return response


def _named_roles(call: Call) -> Sequence[str]:
    return tuple(ram_arn(call, "role", name) for name in (call.args["ResourceNames"] or ("*",)))


def _type_param() -> Checked:
    return Checked("ResourceType", required=True, check=_resource_type)


OPERATIONS: tuple[Operation, ...] = (
    operation(
        "ram",
        "TagResources",
        tag_resources,
        params=(_type_param(), _names(required=True), tag_param(required=True)),
        resources=_named_roles,
    ),
    operation(
        "ram",
        "UntagResources",
        untag_resources,
        params=(
            _type_param(),
            _names(required=True),
            JsonStringList(
                "TagKeys",
                max_items=MAX_TAGS_PER_RESOURCE,
                error=lambda: _invalid("TagKeys", f"It must be a JSON array of 1 to {MAX_TAGS_PER_RESOURCE} keys."),
            ),
            Boolean("All", default=False),
        ),
        resources=_named_roles,
    ),
    operation(
        "ram",
        "ListTagResources",
        list_tag_resources,
        params=(
            _type_param(),
            _names(required=False),
            tag_param(filters=True),
            Integer("PageSize", minimum=1, maximum=100, default=50),
            Checked("NextToken", check=_next_token),
        ),
        resources=_named_roles,
    ),
)
