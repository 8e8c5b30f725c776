"""ECS TagResources, UntagResources, ListTagResources for instances, and the tag parameters and
views that instance operations share (``Tag.N`` on RunInstances/CreateInstance, the tag filter
and ``Tags.Tag[]`` of DescribeInstances).

Order of checks: parameters (counts, keys, values), the resource type, then every instance
exists in this region and account (else ``InvalidResourceId.NotFound`` and nothing changes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ecsram.contract.call import Call
from ecsram.contract.catalogue import vendor
from ecsram.contract.catalogue.params import Boolean, Checked
from ecsram.contract.errors import ApiError
from ecsram.contract.operation import Operation, operation
from ecsram.services import tagging
from ecsram.services.ecs.arns import instance_arn
from ecsram.services.ecs.regions import region_param
from ecsram.services.tagging import (
    MAX_TAGS_PER_RESOURCE,
    Filter,
    FlatStrings,
    FlatTags,
    TagErrors,
    matching_resources,
)
from ecsram.store import instances, tags
from ecsram.store.tags import INSTANCE, Tag

MAX_RESOURCES = 50
PAGE_SIZE = 50
VALUE_MAX = 128
# Where an action does not publish a tag error, the tag operations' published wording stands in.
_REFERENCES = ("TagResources", "UntagResources", "ListTagResources")


def _error(action: str, code: str, detail: str | None = None) -> ApiError:
    published = (vendor.vendor_error("ecs", reference, code) for reference in _REFERENCES)
    fallback = next((found for found in published if found is not None), (400, f"The request is not valid: {code}."))
    return vendor.api_error("ecs", action, code, fallback=fallback, detail=detail)


def tag_errors(action: str, too_many: str = "NumberExceed.Tags") -> TagErrors:
    return TagErrors(
        too_many=lambda: _error(action, too_many),
        bad_key=lambda _key: _error(action, "InvalidTagKey.Malformed"),
        bad_value=lambda _value: _error(action, "InvalidTagValue.Malformed"),
        duplicate_key=lambda _key: _error(action, "Duplicate.TagKey"),
        mismatch=lambda: _error(action, "InvalidTag.Mismatch"),
    )


def tag_param(action: str, *, required: bool = False) -> FlatTags:
    """``Tag.N.Key/Value`` to set (RunInstances, CreateInstance, TagResources): 1..20, keys unique."""
    return FlatTags(
        "Tag", required=required, max_items=MAX_TAGS_PER_RESOURCE, tag_errors=tag_errors(action), value_max=VALUE_MAX
    )


def tag_filter_param(action: str, too_many: str = "NumberExceed.Tags") -> FlatTags:
    """``Tag.N.Key`` (and optionally ``.Value``) as a filter: resources carrying all of them."""
    return FlatTags(
        "Tag",
        max_items=MAX_TAGS_PER_RESOURCE,
        tag_errors=tag_errors(action, too_many),
        filters=True,
        value_max=VALUE_MAX,
    )


def tag_list(found: Sequence[Tag]) -> dict[str, list[dict[str, str]]]:
    return {"Tag": [{"TagKey": tag.key, "TagValue": tag.value} for tag in found]}


def tags_by_instance(call: Call, ids: Sequence[str]) -> dict[str, list[Tag]]:
    grouped: dict[str, list[Tag]] = {}
    for tag in tags.of_resources(call.store, call.caller.account_id, INSTANCE, ids):
        grouped.setdefault(tag.resource_id, []).append(tag)
    return grouped


def instances_with_tags(call: Call, filters: Sequence[Filter]) -> set[str]:
    """The instances of the account carrying every filter's tag (any region)."""
    carried: dict[str, dict[str, str]] = {}
    for tag in tags.with_keys(call.store, call.caller.account_id, INSTANCE, sorted({key for key, _ in filters})):
        carried.setdefault(tag.resource_id, {})[tag.key] = tag.value
    return matching_resources(carried, tuple(filters))


def remove_all(call: Call, ids: Sequence[str]) -> None:
    """Deleting instances deletes their tags."""
    tags.remove(call.store, call.caller.account_id, INSTANCE, ids, None)


# --- the operations ---------------------------------------------------------------------------------


def _resource_type(action: str) -> Checked:
    def check(raw: str) -> str:
        if raw != INSTANCE:
            raise _error(action, "InvalidResourceType.NotFound")
        return raw

    return Checked("ResourceType", required=True, check=check)


def _resource_ids(action: str, *, required: bool) -> FlatStrings:
    return FlatStrings(
        "ResourceId",
        required=required,
        max_items=MAX_RESOURCES,
        too_many=lambda: _error(action, "NumberExceed.ResourceIds"),
    )


def _existing(call: Call, action: str, ids: Sequence[str]) -> None:
    """Every instance exists in this region and account; their rows stay locked until commit, which
    serialises changes to an instance's tags (the per-instance limit is checked after writing)."""
    found = instances.lock_for_binding(call.store, call.caller.account_id, call.args["RegionId"], ids)
    if any(i not in found for i in ids):
        raise _error(action, "InvalidResourceId.NotFound")


def tag_resources(call: Call) -> dict[str, Any]:
    ids: tuple[str, ...] = call.args["ResourceId"]
    _existing(call, "TagResources", ids)
    account_id = call.caller.account_id
    tags.put(call.store, account_id, INSTANCE, ids, call.args["Tag"])
    if any(n > MAX_TAGS_PER_RESOURCE for n in tags.counts(call.store, account_id, INSTANCE, ids).values()):
        raise _error("TagResources", "OperationDenied.QuotaExceed")
    return {}


def untag_resources(call: Call) -> dict[str, Any]:
    args = call.args
    ids: tuple[str, ...] = args["ResourceId"]
    keys: tuple[str, ...] | None = args["TagKey"]
    if keys is not None and args["All"]:
        raise _error("UntagResources", "Param.Conflict")
    _existing(call, "UntagResources", ids)
    # Neither TagKey.N nor All=true removes nothing: All "takes effect only when TagKey.N is not given".
    if keys is not None or args["All"]:
        tags.remove(call.store, call.caller.account_id, INSTANCE, ids, keys)
    return {}


def _next_token(raw: str) -> tuple[str, str]:
    position = tagging.read_position(raw)
    if position is None:
        raise _error("ListTagResources", "Invalid.NextToken")
    return position


def list_tag_resources(call: Call) -> dict[str, Any]:
    args = call.args
    ids: tuple[str, ...] | None = args["ResourceId"]
    filters: tuple[Filter, ...] | None = args["Tag"]
    if ids is None and filters is None:
        raise _error("ListTagResources", "BothEmpty.TagsAndResources")
    account_id, region_id = call.caller.account_id, args["RegionId"]
    if ids is not None:
        found = tags.of_resources(call.store, account_id, INSTANCE, ids)
    else:
        assert filters is not None
        found = tags.with_keys(call.store, account_id, INSTANCE, sorted({key for key, _ in filters}))
    # Only instances of this region (and account) are listed; unknown IDs simply have no tags.
    here = instances.roles_of(call.store, account_id, region_id, sorted({tag.resource_id for tag in found}))
    found = [tag for tag in found if tag.resource_id in here]
    if filters:
        carried: dict[str, dict[str, str]] = {}
        for tag in found:
            carried.setdefault(tag.resource_id, {})[tag.key] = tag.value
        matched = matching_resources(carried, filters)
        keys = {key for key, _ in filters}
        found = [tag for tag in found if tag.resource_id in matched and tag.key in keys]
    found.sort(key=lambda tag: (tag.resource_id, tag.key))
    if args["NextToken"] is not None:
        after = args["NextToken"]
        found = [tag for tag in found if (tag.resource_id, tag.key) > after]
    page = found[:PAGE_SIZE]
    token = tagging.position_token(page[-1].resource_id, page[-1].key) if len(found) > PAGE_SIZE else ""
    return {
        "NextToken": token,
        "TagResources": {
            "TagResource": [
                {"ResourceId": t.resource_id, "ResourceType": INSTANCE, "TagKey": t.key, "TagValue": t.value}
                for t in page
            ]
        },
    }


def _listed(call: Call) -> Sequence[str]:
    region, account = call.args["RegionId"], call.caller.account_id
    return tuple(instance_arn(region, account, i) for i in (call.args["ResourceId"] or ("*",)))


OPERATIONS: tuple[Operation, ...] = (
    operation(
        "ecs",
        "TagResources",
        tag_resources,
        params=(
            region_param(),
            _resource_type("TagResources"),
            _resource_ids("TagResources", required=True),
            tag_param("TagResources", required=True),
        ),
        resources=_listed,
    ),
    operation(
        "ecs",
        "UntagResources",
        untag_resources,
        params=(
            region_param(),
            _resource_type("UntagResources"),
            _resource_ids("UntagResources", required=True),
            FlatStrings(
                "TagKey",
                max_items=MAX_TAGS_PER_RESOURCE,
                too_many=lambda: _error("UntagResources", "NumberExceed.Tags"),
            ),
            Boolean("All", default=False),
        ),
        resources=_listed,
    ),
    operation(
        "ecs",
        "ListTagResources",
        list_tag_resources,
        params=(
            region_param(),
            _resource_type("ListTagResources"),
            _resource_ids("ListTagResources", required=False),
            tag_filter_param("ListTagResources"),
            Checked("NextToken", check=_next_token),
        ),
        resources=_listed,
    ),
)
