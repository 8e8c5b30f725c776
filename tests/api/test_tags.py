"""Tags: ECS TagResources / UntagResources / ListTagResources on instances, tags at RunInstances and
CreateInstance, DescribeInstances' Tags and tag filter; the RAM operations on roles, Tag at
CreateRole, Tags in ListRoles. Through the official clients, with every refusal changing nothing."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ram20150501 import models as ram_models
from aliyunsdkecs.request.v20140526.CreateInstanceRequest import CreateInstanceRequest
from aliyunsdkram.request.v20150501.ListTagResourcesRequest import ListTagResourcesRequest as V1RamList
from aliyunsdkram.request.v20150501.TagResourcesRequest import TagResourcesRequest as V1RamTag
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Sdk
from tests.support.ecs import REGION, allow, create_policy, create_role, run_instances
from tests.support.raw import RAM, RawResponse


def _error(response: RawResponse, status: int, code: str) -> dict[str, Any]:
    assert (response.status, response.code) == (status, code), response.body
    body: dict[str, Any] = response.json
    return body


def _flat(name: str, values: list[str]) -> dict[str, str]:
    return {f"{name}.{n}": value for n, value in enumerate(values, start=1)}


def _flat_tags(pairs: dict[str, str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for n, (key, value) in enumerate(pairs.items(), start=1):
        params[f"Tag.{n}.Key"] = key
        params[f"Tag.{n}.Value"] = value
    return params


# --- ECS -------------------------------------------------------------------------------------------


def _tag(sdk: Sdk, ids: list[str], pairs: dict[str, str]) -> None:
    tags = [ecs_models.TagResourcesRequestTag(key=k, value=v) for k, v in pairs.items()]
    request = ecs_models.TagResourcesRequest(region_id=REGION, resource_type="instance", resource_id=ids, tag=tags)
    sdk.tea_ecs().tag_resources(request)


def _raw_tag(sdk: Sdk, ids: list[str], pairs: dict[str, str], **extra: str) -> RawResponse:
    params = {"RegionId": REGION, "ResourceType": "instance", **_flat("ResourceId", ids), **_flat_tags(pairs), **extra}
    return sdk.raw().v1("TagResources", params)


def _listed(sdk: Sdk, **filters: Any) -> list[tuple[str, str, str]]:
    """(ResourceId, TagKey, TagValue) rows of ListTagResources, every page."""
    rows: list[tuple[str, str, str]] = []
    token = None
    while True:
        request = ecs_models.ListTagResourcesRequest(
            region_id=REGION, resource_type="instance", next_token=token, **filters
        )
        body = sdk.tea_ecs().list_tag_resources(request).body.to_map()
        for item in body["TagResources"]["TagResource"]:
            assert item["ResourceType"] == "instance"
            rows.append((item["ResourceId"], item["TagKey"], item["TagValue"]))
        token = body.get("NextToken")
        if not token:
            return rows


def _described_tags(sdk: Sdk, ids: list[str]) -> dict[str, dict[str, str]]:
    request = ecs_models.DescribeInstancesRequest(region_id=REGION, instance_ids=json.dumps(ids), page_size=100)
    body = sdk.tea_ecs().describe_instances(request).body.to_map()
    return {
        i["InstanceId"]: {t["TagKey"]: t["TagValue"] for t in i["Tags"]["Tag"]} for i in body["Instances"]["Instance"]
    }


def test_tag_list_and_describe(sdk: Sdk) -> None:
    ids = run_instances(sdk, 2)
    _tag(sdk, ids, {"env": "prod", "team": "core"})
    _tag(sdk, ids[:1], {"env": "staging", "empty": ""})  # a key again replaces its value; "" is a value
    both = [(ids[0], "x", "x"), (ids[1], "env", "prod"), (ids[1], "team", "core")]
    assert _listed(sdk, resource_id=ids) == sorted(
        [(ids[0], "empty", ""), (ids[0], "env", "staging"), (ids[0], "team", "core"), *both[1:]]
    )
    assert _described_tags(sdk, ids) == {
        ids[0]: {"env": "staging", "team": "core", "empty": ""},
        ids[1]: {"env": "prod", "team": "core"},
    }


def test_tags_at_creation(sdk: Sdk) -> None:
    tags = [ecs_models.RunInstancesRequestTag(key="app", value="web"), ecs_models.RunInstancesRequestTag(key="tier")]
    ids = run_instances(sdk, 2, tag=tags)
    assert _described_tags(sdk, ids) == {i: {"app": "web", "tier": ""} for i in ids}
    request = CreateInstanceRequest()
    request.set_ImageId("ubuntu_22_04_x64_20G_alibase_20240101.vhd")
    request.set_InstanceType("ecs.g7.large")
    request.set_Tags([{"Key": "made-by", "Value": "v1"}])
    created = sdk.v1_call(request)["InstanceId"]
    assert _described_tags(sdk, [created]) == {created: {"made-by": "v1"}}


def test_client_token_replay_tags_once(sdk: Sdk) -> None:
    tags = [ecs_models.RunInstancesRequestTag(key="k", value="v")]
    first = run_instances(sdk, 1, tag=tags, client_token="tags-token-1")
    assert run_instances(sdk, 1, tag=tags, client_token="tags-token-1") == first
    assert _listed(sdk, resource_id=first) == [(first[0], "k", "v")]
    again = sdk.raw().v1(
        "RunInstances",
        {"RegionId": REGION, "ImageId": "img", "InstanceType": "ecs.g7.large", "ClientToken": "tags-token-1"},
    )
    _error(again, 400, "IdempotentParameterMismatch")  # the tags are part of the request's parameters


def test_describe_instances_tag_filter(sdk: Sdk) -> None:
    ids = run_instances(sdk, 3)
    _tag(sdk, ids[:2], {"env": "prod"})
    _tag(sdk, ids[1:], {"team": "core"})

    def matching(**params: str) -> list[str]:
        response = sdk.raw().v1("DescribeInstances", {"RegionId": REGION, "PageSize": "100", **params})
        assert response.status == 200, response.body
        return [i["InstanceId"] for i in response.json["Instances"]["Instance"]]

    assert matching(**{"Tag.1.Key": "env"}) == sorted(ids[:2])
    assert matching(**{"Tag.1.Key": "env", "Tag.1.Value": "prod"}) == sorted(ids[:2])
    assert matching(**{"Tag.1.Key": "env", "Tag.1.Value": "dev"}) == []
    assert matching(**{"Tag.1.Key": "env", "Tag.2.Key": "team"}) == [ids[1]]
    assert matching(**{"Tag.1.Key": "team", "InstanceIds": json.dumps(ids[:2])}) == [ids[1]]
    keyset = sdk.raw().v1("DescribeInstances", {"RegionId": REGION, "Tag.1.Key": "team", "MaxResults": "1"})
    assert keyset.json["TotalCount"] == 2 and keyset.json["NextToken"]
    _error(sdk.raw().v1("DescribeInstances", {"RegionId": REGION, "Tag.1.Value": "prod"}), 400, "InvalidTag.Mismatch")
    _error(
        sdk.raw().v1("DescribeInstances", {"RegionId": REGION, **_flat_tags({f"k{n}": "v" for n in range(21)})}),
        400,
        "InvalidTagCount",
    )


def test_untag(sdk: Sdk) -> None:
    ids = run_instances(sdk, 2)
    _tag(sdk, ids, {"a": "1", "b": "2", "c": "3"})
    request = ecs_models.UntagResourcesRequest(
        region_id=REGION, resource_type="instance", resource_id=ids[:1], tag_key=["a", "missing"]
    )
    sdk.tea_ecs().untag_resources(request)
    assert _described_tags(sdk, ids) == {ids[0]: {"b": "2", "c": "3"}, ids[1]: {"a": "1", "b": "2", "c": "3"}}
    params = {"RegionId": REGION, "ResourceType": "instance", **_flat("ResourceId", ids)}
    assert sdk.raw().v1("UntagResources", params).status == 200  # neither TagKey.N nor All: nothing removed
    assert len(_listed(sdk, resource_id=ids)) == 5
    _error(sdk.raw().v1("UntagResources", {**params, "All": "true", "TagKey.1": "b"}), 403, "Param.Conflict")
    assert sdk.raw().v1("UntagResources", {**params, "All": "true"}).status == 200
    assert _listed(sdk, resource_id=ids) == []


def test_list_by_tag_and_paging(sdk: Sdk) -> None:
    ids = run_instances(sdk, 3)
    _tag(sdk, ids, {f"key{n:02d}": f"v{n}" for n in range(20)})
    _tag(sdk, ids[:1], {"key00": "other"})
    everything = _listed(sdk, resource_id=ids)
    assert len(everything) == 60 and everything == sorted(everything)
    first = sdk.tea_ecs().list_tag_resources(
        ecs_models.ListTagResourcesRequest(region_id=REGION, resource_type="instance", resource_id=ids)
    )
    assert len(first.body.tag_resources.tag_resource) == 50 and first.body.next_token
    by_key = [ecs_models.ListTagResourcesRequestTag(key="key00")]
    assert _listed(sdk, tag=by_key) == [(i, "key00", "other" if i == ids[0] else "v0") for i in sorted(ids)]
    by_pair = [
        ecs_models.ListTagResourcesRequestTag(key="key00", value="v0"),
        ecs_models.ListTagResourcesRequestTag(key="key01"),
    ]
    assert _listed(sdk, tag=by_pair) == sorted(
        [(i, "key00", "v0") for i in ids[1:]] + [(i, "key01", "v1") for i in ids[1:]]
    )
    base = {"RegionId": REGION, "ResourceType": "instance"}
    _error(sdk.raw().v1("ListTagResources", base), 403, "BothEmpty.TagsAndResources")
    _error(sdk.raw().v1("ListTagResources", {**base, "Tag.1.Key": "k", "NextToken": "bad!"}), 403, "Invalid.NextToken")
    # Unknown IDs have no tags; other accounts see none of these.
    assert _listed(sdk, resource_id=["i-unknown000000000000"]) == []
    assert _listed(sdk.other_account(), tag=by_key) == []


def test_tags_leave_with_their_instance(sdk: Sdk) -> None:
    ids = run_instances(sdk, 3)
    key = f"gone-{uuid.uuid4().hex[:6]}"
    _tag(sdk, ids, {key: "x"})
    sdk.tea_ecs().delete_instance(ecs_models.DeleteInstanceRequest(instance_id=ids[0], force=True))
    sdk.tea_ecs().delete_instances(
        ecs_models.DeleteInstancesRequest(region_id=REGION, instance_id=ids[1:2], force=True)
    )
    assert _listed(sdk, tag=[ecs_models.ListTagResourcesRequestTag(key=key)]) == [(ids[2], key, "x")]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"ResourceType": "disk"}, 404, "InvalidResourceType.NotFound"),
        ({"ResourceId.2": "i-unknown000000000000"}, 404, "InvalidResourceId.NotFound"),
        ({"RegionId": "cn-beijing"}, 404, "InvalidResourceId.NotFound"),
        ({"Tag.1.Key": "aliyun-key"}, 400, "InvalidTagKey.Malformed"),
        ({"Tag.1.Key": "ACS:key"}, 400, "InvalidTagKey.Malformed"),
        ({"Tag.1.Key": "k" * 129}, 400, "InvalidTagKey.Malformed"),
        ({"Tag.1.Key": ""}, 400, "InvalidTagKey.Malformed"),
        ({"Tag.1.Key": "see https://x"}, 400, "InvalidTagKey.Malformed"),
        ({"Tag.1.Value": "v" * 129}, 400, "InvalidTagValue.Malformed"),
        ({"Tag.1.Value": "http://example.com"}, 400, "InvalidTagValue.Malformed"),
        ({"Tag.2.Key": "env", "Tag.2.Value": "again"}, 400, "Duplicate.TagKey"),
        ({"Tag.3.Value": "no key"}, 400, "InvalidTag.Mismatch"),
        ({"Tag.21.Key": "k21"}, 400, "NumberExceed.Tags"),
        ({"Tag.x.Key": "k"}, 400, "InvalidParameter"),
        (_flat("ResourceId", [f"i-{n:020d}" for n in range(51)]), 400, "NumberExceed.ResourceIds"),
        ({"ResourceId.0": "i-x"}, 400, "InvalidParameter"),
    ],
)
def test_tag_refusals_change_nothing(sdk: Sdk, change: dict[str, str], status: int, code: str) -> None:
    ids = run_instances(sdk, 1)
    params = {"RegionId": REGION, "ResourceType": "instance", "ResourceId.1": ids[0], **_flat_tags({"env": "prod"})}
    _error(sdk.raw().v1("TagResources", {**params, **change}), status, code)
    assert _listed(sdk, resource_id=ids) == []


def test_at_most_twenty_tags_per_instance(sdk: Sdk) -> None:
    ids = run_instances(sdk, 2)
    _tag(sdk, ids[:1], {f"old{n}": "v" for n in range(15)})
    _error(_raw_tag(sdk, ids, {f"new{n}": "v" for n in range(6)}), 400, "OperationDenied.QuotaExceed")
    assert len(_listed(sdk, resource_id=ids)) == 15  # the other instance was not tagged either
    assert _raw_tag(sdk, ids, {f"old{n}": "w" for n in range(5)}).status == 200  # replacing does not add
    _error(
        sdk.raw().v1(
            "RunInstances",
            {"RegionId": REGION, "ImageId": "img", "InstanceType": "ecs.g7.large", **_flat_tags({"k": "v", "": "x"})},
        ),
        400,
        "InvalidTagKey.Malformed",
    )


def test_tagging_needs_ecs_permissions(sdk: Sdk) -> None:
    ids = run_instances(sdk, 2)
    reader = sdk.new_user("AliyunECSReadOnlyAccess")
    _error(_raw_tag(reader, ids, {"k": "v"}), 403, "Forbidden.RAM")
    assert (
        reader.raw().v1("ListTagResources", {"RegionId": REGION, "ResourceType": "instance", "Tag.1.Key": "k"}).status
        == 200
    )
    tagger = sdk.new_user()
    policy = f"tag-{uuid.uuid4().hex[:8]}"
    create_policy(sdk, policy, allow("ecs:TagResources", f"acs:ecs:{REGION}:{sdk.account_id}:instance/{ids[0]}"))
    sdk.tea_ram().attach_policy_to_user(
        ram_models.AttachPolicyToUserRequest(policy_type="Custom", policy_name=policy, user_name=tagger.user_name)
    )
    assert _raw_tag(tagger, ids[:1], {"k": "v"}).status == 200
    _error(_raw_tag(tagger, ids, {"k": "v"}), 403, "Forbidden.RAM")
    assert _listed(sdk, resource_id=ids) == [(ids[0], "k", "v")]


@pytest.mark.node
def test_with_node_pop_core(sdk: Sdk, node: Callable[..., Any]) -> None:
    ids = run_instances(sdk, 1)
    report = node(
        {
            "client": "pop",
            "endpoint": sdk.endpoint,
            "accessKeyId": sdk.key.access_key_id,
            "accessKeySecret": sdk.key.secret,
            "action": "TagResources",
            "params": {
                "RegionId": REGION,
                "ResourceType": "instance",
                "ResourceId.1": ids[0],
                **_flat_tags({"n": "1"}),
            },
            "method": "POST",
        }
    )
    assert report["ok"], report
    assert _listed(sdk, resource_id=ids) == [(ids[0], "n", "1")]


# --- RAM -------------------------------------------------------------------------------------------


def _role(sdk: Sdk, **extra: Any) -> str:
    name = f"Role-{uuid.uuid4().hex[:8]}"
    create_role(sdk, name, **extra)
    return name


def _ram(sdk: Sdk, action: str, **params: str) -> RawResponse:
    return sdk.raw().v1(action, params, version=RAM)


def _role_tags(sdk: Sdk, names: list[str] | None = None, **extra: Any) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    token = None
    while True:
        request = ram_models.ListTagResourcesRequest(
            resource_type="role", resource_names=names, next_token=token, **extra
        )
        body = sdk.tea_ram().list_tag_resources(request).body.to_map()
        for item in body["TagResources"]:
            assert item["ResourceType"] == "role"
            rows.append((item["ResourceName"], item["TagKey"], item["TagValue"]))
        token = body.get("NextToken")
        if not token:
            return rows


def _tag_roles(sdk: Sdk, names: list[str], pairs: dict[str, str]) -> None:
    tags = [ram_models.TagResourcesRequestTag(key=k, value=v) for k, v in pairs.items()]
    sdk.tea_ram().tag_resources(ram_models.TagResourcesRequest(resource_type="role", resource_names=names, tag=tags))


def test_role_tags(sdk: Sdk) -> None:
    tagged = _role(sdk, tag=[ram_models.CreateRoleRequestTag(key="owner", value="ops")])
    plain = _role(sdk)
    _tag_roles(sdk, [tagged, plain.lower()], {"env": "prod"})
    assert _role_tags(sdk, [tagged, plain]) == sorted(
        [(tagged, "env", "prod"), (tagged, "owner", "ops"), (plain, "env", "prod")], key=lambda r: (r[0].lower(), r[1])
    )
    roles = sdk.tea_ram().list_roles(ram_models.ListRolesRequest(max_items=1000)).body.to_map()["Roles"]["Role"]
    shown = {r["RoleName"]: {t["TagKey"]: t["TagValue"] for t in r.get("Tags", {}).get("Tag", [])} for r in roles}
    assert shown[tagged] == {"env": "prod", "owner": "ops"} and shown[plain] == {"env": "prod"}
    sdk.tea_ram().untag_resources(
        ram_models.UntagResourcesRequest(resource_type="role", resource_names=[tagged], tag_keys=["env"])
    )
    assert _role_tags(sdk, [tagged]) == [(tagged, "owner", "ops")]
    assert _ram(sdk, "UntagResources", ResourceType="role", ResourceNames=json.dumps([plain]), All="true").status == 200
    assert _role_tags(sdk, [plain]) == []
    assert _role_tags(sdk, tag=[ram_models.ListTagResourcesRequestTag(key="owner", value="ops")]) == [
        (tagged, "owner", "ops")
    ]
    assert _role_tags(sdk.other_account()) == []


def test_role_tags_with_the_v1_sdk_and_paging(sdk: Sdk) -> None:
    name = _role(sdk)
    request = V1RamTag()
    request.set_ResourceType("role")
    request.set_ResourceNames([name])
    request.set_Tag([{"Key": f"k{n}", "Value": "v"} for n in range(5)])
    request.set_protocol_type("http")
    sdk.v1_call(request)
    listing = V1RamList()
    listing.set_ResourceType("role")
    listing.set_PageSize(2)
    listing.set_protocol_type("http")
    page = sdk.v1_call(listing)
    assert [item["TagKey"] for item in page["TagResources"]] == ["k0", "k1"] and page["NextToken"]
    assert [row[1] for row in _role_tags(sdk, [name])] == [f"k{n}" for n in range(5)]


def test_role_tags_leave_with_the_role(sdk: Sdk) -> None:
    name = _role(sdk, tag=[ram_models.CreateRoleRequestTag(key="k", value="v")])
    sdk.tea_ram().delete_role(ram_models.DeleteRoleRequest(role_name=name))
    create_role(sdk, name)
    assert _role_tags(sdk, [name]) == []


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"ResourceType": "policy"}, 400, "InvalidParameter.ResourceType"),
        ({"ResourceNames": '["NoSuchRole"]'}, 404, "EntityNotExist.Role"),
        ({"ResourceNames": "role"}, 400, "InvalidParameter.ResourceNames"),
        ({"ResourceNames": json.dumps([f"r{n}" for n in range(51)])}, 400, "InvalidParameter.ResourceNames"),
        ({"Tag": "{"}, 400, "InvalidParameter.Tag"),
        ({"Tag": '[{"Key": "k"}]'}, 400, "InvalidParameter.Tag"),
        ({"Tag": '[{"Key": "k", "Value": 1}]'}, 400, "InvalidParameter.Tag"),
        ({"Tag": '[{"Key": "k", "Value": "v", "Other": "x"}]'}, 400, "InvalidParameter.Tag"),
        ({"Tag": '[{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]'}, 400, "InvalidParameter.Tag"),
        ({"Tag": json.dumps([{"Key": f"k{n}", "Value": "v"} for n in range(21)])}, 400, "InvalidParameter.Tag"),
        ({"Tag": '[{"Key": "acs:x", "Value": "v"}]'}, 400, "InvalidParameter.TagKey"),
        ({"Tag": '[{"Key": "", "Value": "v"}]'}, 400, "InvalidParameter.TagKey"),
        ({"Tag": json.dumps([{"Key": "k", "Value": "v" * 257}])}, 400, "InvalidParameter.TagValue"),
    ],
)
def test_role_tag_refusals_change_nothing(sdk: Sdk, params: dict[str, str], status: int, code: str) -> None:
    name = _role(sdk)
    base = {"ResourceType": "role", "ResourceNames": json.dumps([name]), "Tag": '[{"Key": "k", "Value": "v"}]'}
    _error(_ram(sdk, "TagResources", **{**base, **params}), status, code)
    assert _role_tags(sdk, [name]) == []


def test_role_tag_limits_and_conflicts(sdk: Sdk) -> None:
    name = _role(sdk)
    _tag_roles(sdk, [name], {f"k{n}": "v" for n in range(18)})
    extra = json.dumps([{"Key": f"x{n}", "Value": "v"} for n in range(3)])
    _error(
        _ram(sdk, "TagResources", ResourceType="role", ResourceNames=json.dumps([name]), Tag=extra),
        409,
        "LimitExceeded.Tag",
    )
    assert len(_role_tags(sdk, [name])) == 18
    names = json.dumps([name])
    _error(
        _ram(sdk, "UntagResources", ResourceType="role", ResourceNames=names, TagKeys='["k1"]', All="true"),
        400,
        "InvalidParameter.All",
    )
    _error(_ram(sdk, "ListTagResources", ResourceType="role", NextToken="nope"), 400, "InvalidParameter.NextToken")
    _error(
        _ram(sdk, "CreateRole", RoleName="tagged-bad", AssumeRolePolicyDocument=_trust(), Tag="[1]"),
        400,
        "InvalidParameter.Tag",
    )
    _error(_ram(sdk, "GetRole", RoleName="tagged-bad"), 404, "EntityNotExist.Role")


def _trust() -> str:
    return '{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["ecs.aliyuncs.com"]}}],"Version":"1"}'


def test_role_tagging_needs_ram_permissions(sdk: Sdk) -> None:
    name = _role(sdk)
    reader = sdk.new_user("AliyunRAMReadOnlyAccess")
    names = json.dumps([name])
    _error(
        _ram(reader, "TagResources", ResourceType="role", ResourceNames=names, Tag='[{"Key":"k","Value":"v"}]'),
        403,
        "NoPermission",
    )
    assert _ram(reader, "ListTagResources", ResourceType="role", ResourceNames=names).status == 200
    admin = sdk.new_user("AliyunRAMFullAccess")
    assert (
        _ram(admin, "TagResources", ResourceType="role", ResourceNames=names, Tag='[{"Key":"k","Value":"v"}]').status
        == 200
    )


# --- hostile values ----------------------------------------------------------------------------------

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
texts = st.one_of(
    st.text(max_size=140),
    st.sampled_from(["", "aliyun", "acs:", "http://x", "\u202e", "[]", "{}", '[{"Key":"k","Value":"v"}]', "null"]),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1").replace("\x00", "")),
)
suffixes = st.one_of(
    st.builds(lambda n, f: f"{n}.{f}", st.integers(-2, 25), st.sampled_from(["Key", "Value", "key", ""])),
    st.text(max_size=8),
)


@FUZZ
@given(
    action=st.sampled_from(["TagResources", "UntagResources", "ListTagResources", "DescribeInstances", "RunInstances"]),
    tag_params=st.dictionaries(st.builds(lambda s: f"Tag.{s}", suffixes), texts, max_size=5),
    others=st.dictionaries(st.sampled_from(["ResourceId.1", "ResourceId.60", "TagKey.1", "All", "NextToken"]), texts),
)
def test_hostile_ecs_tag_parameters(sdk: Sdk, action: str, tag_params: dict[str, str], others: dict[str, str]) -> None:
    base = {"RegionId": REGION, "ResourceType": "instance", "ImageId": "img", "InstanceType": "ecs.g7.large"}
    response = sdk.raw().v1(action, {**base, **others, **tag_params})
    assert response.status < 500, response.body
    assert response.status == 200 or response.code


@FUZZ
@given(
    action=st.sampled_from(["TagResources", "UntagResources", "ListTagResources", "CreateRole"]),
    params=st.dictionaries(
        st.sampled_from(["Tag", "ResourceNames", "TagKeys", "All", "PageSize", "NextToken", "ResourceType"]), texts
    ),
)
def test_hostile_ram_tag_parameters(sdk: Sdk, action: str, params: dict[str, str]) -> None:
    base = {"ResourceType": "role", "RoleName": f"r{uuid.uuid4().hex[:8]}", "AssumeRolePolicyDocument": _trust()}
    response = _ram(sdk, action, **{**base, **params})
    assert response.status < 500, response.body
    assert response.status == 200 or response.code


def test_xml_responses(sdk: Sdk) -> None:
    ids = run_instances(sdk, 1)
    _tag(sdk, ids, {"a": "1", "b": "2"})
    params = {"RegionId": REGION, "ResourceType": "instance", "ResourceId.1": ids[0], "Format": "XML"}
    root = ET.fromstring(sdk.raw().v1("ListTagResources", params).body)
    assert root.tag == "ListTagResourcesResponse"
    assert [e.findtext("TagKey") for e in root.iter("TagResource")] == ["a", "b"]
    name = _role(sdk, tag=[ram_models.CreateRoleRequestTag(key="k", value="v")])
    response = _ram(sdk, "ListTagResources", ResourceType="role", ResourceNames=json.dumps([name]), Format="XML")
    items = ET.fromstring(response.body).findall("TagResources")
    assert [(e.findtext("ResourceName"), e.findtext("TagKey"), e.findtext("TagValue")) for e in items] == [
        (name, "k", "v")
    ]


def test_wrong_types_and_ranges(sdk: Sdk) -> None:
    ids = run_instances(sdk, 1)
    ecs = {"RegionId": REGION, "ResourceType": "instance", "ResourceId.1": ids[0]}
    _error(sdk.raw().v1("UntagResources", {**ecs, "All": "maybe"}), 400, "InvalidParameter")
    _error(
        sdk.raw().v1("TagResources", {**ecs, "RegionId": "mars-1", "Tag.1.Key": "k"}), 404, "InvalidRegionId.NotFound"
    )
    name = _role(sdk)
    ram = {"ResourceType": "role", "ResourceNames": json.dumps([name])}
    _error(_ram(sdk, "UntagResources", **ram, All="maybe"), 400, "InvalidParameter")
    for size in ("0", "101", "ten"):
        _error(_ram(sdk, "ListTagResources", **ram, PageSize=size), 400, "InvalidParameter")
    _error(_ram(sdk, "UntagResources", **ram, TagKeys="k"), 400, "InvalidParameter.TagKeys")
    _error(
        _ram(sdk, "UntagResources", **ram, TagKeys=json.dumps([f"k{n}" for n in range(21)])),
        400,
        "InvalidParameter.TagKeys",
    )
    for missing in ("ResourceType", "ResourceNames", "Tag"):
        params = {**ram, "Tag": '[{"Key":"k","Value":"v"}]'}
        del params[missing]
        body = _error(_ram(sdk, "TagResources", **params), 400, "MissingParameter")
        assert missing in body["Message"]


def test_list_roles_by_tag(sdk: Sdk) -> None:
    names = sorted((_role(sdk) for _ in range(4)), key=str.lower)
    _tag_roles(sdk, names[:3], {"team": "core"})
    _tag_roles(sdk, names[1:2], {"env": "prod"})
    _role(sdk)  # untagged: never listed by tag

    def listed(tag: list[Any], max_items: int = 100) -> list[str]:
        found: list[str] = []
        marker = None
        while True:
            request = ram_models.ListRolesRequest(tag=tag, max_items=max_items, marker=marker)
            body = sdk.tea_ram().list_roles(request).body.to_map()
            found.extend(role["RoleName"] for role in body["Roles"]["Role"])
            if not body["IsTruncated"]:
                return found
            marker = body["Marker"]

    assert listed([ram_models.ListRolesRequestTag(key="team")]) == names[:3]
    assert listed([ram_models.ListRolesRequestTag(key="team")], max_items=2) == names[:3]
    both = [ram_models.ListRolesRequestTag(key="team", value="core"), ram_models.ListRolesRequestTag(key="env")]
    assert listed(both) == names[1:2]
    assert listed([ram_models.ListRolesRequestTag(key="team", value="other")]) == []
    _error(_ram(sdk, "ListRoles", Tag="[1]"), 400, "InvalidParameter.Tag")
