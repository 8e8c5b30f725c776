"""Tag rules and the tag parameters, as pure code (the API tests drive them through the SDKs)."""

from __future__ import annotations

from typing import Any

import pytest

from ecsram.contract.catalogue.params import Param
from ecsram.contract.errors import ApiError
from ecsram.services.ecs import tags as ecs_tags
from ecsram.services.ram import tags as ram_tags
from ecsram.services.tagging import FlatStrings, matching_resources

ECS_ACTIONS = (
    "TagResources",
    "UntagResources",
    "ListTagResources",
    "RunInstances",
    "CreateInstance",
    "DescribeInstances",
)
ECS_CODES = (
    "NumberExceed.Tags",
    "NumberExceed.ResourceIds",
    "InvalidTagKey.Malformed",
    "InvalidTagValue.Malformed",
    "Duplicate.TagKey",
    "InvalidTag.Mismatch",
    "InvalidResourceType.NotFound",
    "InvalidResourceId.NotFound",
    "OperationDenied.QuotaExceed",
    "Param.Conflict",
    "BothEmpty.TagsAndResources",
    "Invalid.NextToken",
)


@pytest.mark.parametrize("action", ECS_ACTIONS)
@pytest.mark.parametrize("code", ECS_CODES)
def test_every_ecs_tag_error_has_a_published_status_and_message(action: str, code: str) -> None:
    # Where an action does not publish a code, TagResources' (or ListTagResources') wording stands in.
    error = ecs_tags._error(action, code)
    assert error.code == code and 400 <= error.status < 500 and error.message


def _parse(param: Param, raw: dict[str, str]) -> Any:
    return param.parse(param.read(raw))


def test_flat_tags_in_index_order_with_empty_values() -> None:
    param = ecs_tags.tag_param("TagResources")
    raw = {"Tag.10.Key": "b", "Tag.2.Key": "a", "Tag.2.Value": "1", "Tag.10.Value": ""}
    assert _parse(param, raw) == (("a", "1"), ("b", ""))
    assert _parse(param, {"Tag.1.Key": "a"}) == (("a", ""),)
    assert param.read({"Other": "x"}) is None


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ({"Tag.1.Value": "v"}, "InvalidTag.Mismatch"),
        ({"Tag.1.Key": "a", "Tag.2.Key": "a"}, "Duplicate.TagKey"),
        ({"Tag.21.Key": "a"}, "NumberExceed.Tags"),
        ({"Tag.0.Key": "a"}, "InvalidParameter"),
        ({"Tag.1.Kee": "a"}, "InvalidParameter"),
        ({"Tag.1.Key": "Aliyun:x"}, "InvalidTagKey.Malformed"),
        ({"Tag.1.Key": "a", "Tag.1.Value": "HTTPS://x"}, "InvalidTagValue.Malformed"),
    ],
)
def test_flat_tag_refusals(raw: dict[str, str], code: str) -> None:
    with pytest.raises(ApiError) as caught:
        _parse(ecs_tags.tag_param("TagResources"), raw)
    assert caught.value.code == code


def test_filters_take_reserved_keys_and_missing_values() -> None:
    param = ecs_tags.tag_filter_param("ListTagResources")
    assert _parse(param, {"Tag.1.Key": "acs:rm:rgId", "Tag.2.Key": "env", "Tag.2.Value": "prod"}) == (
        ("acs:rm:rgId", None),
        ("env", "prod"),
    )


def test_flat_strings_count_and_indexes() -> None:
    too_many = ApiError("TooMany", 400, "too many")
    param = FlatStrings("ResourceId", max_items=2, too_many=lambda: too_many)
    assert _parse(param, {"ResourceId.2": "b", "ResourceId.1": "a"}) == ("a", "b")
    for raw in ({"ResourceId.3": "c"}, {"ResourceId.1": "a", "ResourceId.2": "b", "ResourceId.03": "c"}):
        with pytest.raises(ApiError) as caught:
            _parse(param, raw)
        assert caught.value is too_many
    with pytest.raises(ApiError) as caught:
        _parse(param, {"ResourceId.x": "a"})
    assert caught.value.code == "InvalidParameter"


def test_json_tags() -> None:
    param = ram_tags.tag_param()
    assert param.parse('[{"Key": "k", "Value": ""}]') == (("k", ""),)
    assert ram_tags.tag_param(filters=True).parse('[{"Key": "k"}]') == (("k", None),)
    for raw in ("[]", "{}", '[{"Key": "k"}]', '["k"]', '[{"Key": null, "Value": "v"}]', '[{"Key": "k", "Value": []}]'):
        with pytest.raises(ApiError) as caught:
            param.parse(raw)
        assert caught.value.code == "InvalidParameter.Tag", raw


def test_matching_resources_needs_every_filter() -> None:
    carried = {"i-1": {"env": "prod", "team": "a"}, "i-2": {"env": "dev"}, "i-3": {"team": "a"}}
    assert matching_resources(carried, (("env", None),)) == {"i-1", "i-2"}
    assert matching_resources(carried, (("env", "prod"), ("team", None))) == {"i-1"}
    assert matching_resources(carried, (("env", "prod"), ("env", "dev"))) == set()
