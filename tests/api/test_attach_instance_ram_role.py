"""AttachInstanceRamRole, DetachInstanceRamRole, DescribeInstanceRamRole through the official
clients: results, every documented error (each changing nothing), batches."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_tea_openapi.exceptions import ClientException
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkecs.request.v20140526.AttachInstanceRamRoleRequest import AttachInstanceRamRoleRequest
from aliyunsdkecs.request.v20140526.DescribeInstanceRamRoleRequest import DescribeInstanceRamRoleRequest
from aliyunsdkecs.request.v20140526.DetachInstanceRamRoleRequest import DetachInstanceRamRoleRequest

from ecsram.contract.catalogue import vendor
from tests.conftest import Sdk
from tests.support.ecs import (
    ECS_TRUST,
    REGION,
    account_trust,
    attach,
    bindings,
    bound_to,
    create_role,
    detach,
    run_instances,
)
from tests.support.raw import RawResponse

NARROW_POLICY = '{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:Describe*","Resource":"*"}]}'


def role_name() -> str:
    return f"role-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def role(sdk: Sdk) -> str:
    name = role_name()
    create_role(sdk, name)
    return name


def _error(response: RawResponse, status: int, code: str, action: str = "AttachInstanceRamRole") -> dict[str, Any]:
    assert (response.status, response.code) == (status, code), response.body
    body: dict[str, Any] = response.json
    published = vendor.vendor_error("ecs", action, code)
    if published is not None and "%s" not in published[1]:
        assert body["Message"].startswith(published[1].rstrip(".")), (body["Message"], published)
    return body


def _raw_attach(sdk: Sdk, **params: str) -> RawResponse:
    return sdk.raw().v1("AttachInstanceRamRole", {"RegionId": REGION, **params})


# --- success, from each client ---------------------------------------------------------------


def test_attach_describe_detach_with_tea(sdk: Sdk, role: str) -> None:
    ids = run_instances(sdk, 3)
    body = attach(sdk, role, ids, policy=NARROW_POLICY)
    assert body["TotalCount"] == 3 and body["FailCount"] == 0 and body["RamRoleName"] == role
    items = body["AttachInstanceRamRoleResults"]["AttachInstanceRamRoleResult"]
    assert items == [{"InstanceId": i, "Code": "200", "Message": "success", "Success": True} for i in ids]
    assert bindings(sdk, ids) == dict.fromkeys(ids, role)
    assert bound_to(sdk, role) == sorted(ids)

    body = detach(sdk, ids[:2], role)
    assert body["TotalCount"] == 2 and body["FailCount"] == 0
    for item, instance_id in zip(
        body["DetachInstanceRamRoleResults"]["DetachInstanceRamRoleResult"], ids[:2], strict=True
    ):
        assert item["Success"] is True and item["Code"] == "200" and item["Message"] == "Success"
        assert item["InstanceRamRoleSets"]["InstanceRamRoleSet"] == [{"InstanceId": instance_id, "RamRoleName": role}]
    assert bindings(sdk, ids) == {ids[2]: role}


def test_with_the_v1_sdk(sdk: Sdk, role: str) -> None:
    ids = run_instances(sdk, 2)
    request = AttachInstanceRamRoleRequest()
    request.set_RamRoleName(role)
    request.set_InstanceIds(json.dumps(ids))
    body = sdk.v1_call(request)
    assert body["FailCount"] == 0 and body["TotalCount"] == 2

    describe = DescribeInstanceRamRoleRequest()
    describe.set_RamRoleName(role)
    body = sdk.v1_call(describe)
    assert body["TotalCount"] == 2
    assert {s["InstanceId"] for s in body["InstanceRamRoleSets"]["InstanceRamRoleSet"]} == set(ids)
    assert body["RegionId"] == REGION

    detach_request = DetachInstanceRamRoleRequest()
    detach_request.set_InstanceIds(json.dumps(ids))
    body = sdk.v1_call(detach_request)
    assert body["FailCount"] == 0
    assert bindings(sdk, ids) == {}


def test_v1_sdk_error(sdk: Sdk) -> None:
    request = AttachInstanceRamRoleRequest()
    request.set_RamRoleName("no-such-role")
    request.set_InstanceIds(json.dumps(run_instances(sdk, 1)))
    with pytest.raises(ServerException) as caught:
        sdk.v1_call(request)
    assert caught.value.get_error_code() == "InvalidRamRole.NotFound"
    assert caught.value.get_http_status() == 404


def test_tea_error_fields(sdk: Sdk) -> None:
    with pytest.raises(ClientException) as caught:
        attach(sdk, "no-such-role", run_instances(sdk, 1))
    assert caught.value.code == "InvalidRamRole.NotFound"
    assert caught.value.status_code == 404
    assert caught.value.data["Recommend"].startswith("https://api.aliyun.com/troubleshoot?q=InvalidRamRole.NotFound")


@pytest.mark.node
def test_with_node_tea(sdk: Sdk, role: str, node: Callable[..., Any]) -> None:
    ids = run_instances(sdk, 2)

    def call(action: str, params: dict[str, Any]) -> Any:
        return node(
            {
                "client": "tea-ecs",
                "endpoint": sdk.endpoint,
                "accessKeyId": sdk.key.access_key_id,
                "accessKeySecret": sdk.key.secret,
                "action": action,
                "params": {"RegionId": REGION, **params},
            }
        )

    report = call("AttachInstanceRamRole", {"RamRoleName": role, "InstanceIds": json.dumps(ids)})
    assert report["ok"], report
    assert report["body"]["FailCount"] == 0
    report = call("DescribeInstanceRamRole", {"InstanceIds": json.dumps(ids)})
    assert report["ok"] and report["body"]["TotalCount"] == 2
    report = call("DetachInstanceRamRole", {"InstanceIds": json.dumps(ids), "RamRoleName": role})
    assert report["ok"] and report["body"]["FailCount"] == 0
    report = call("AttachInstanceRamRole", {"RamRoleName": "missing-role", "InstanceIds": json.dumps(ids)})
    assert not report["ok"]
    assert (report["code"], report["statusCode"]) == ("InvalidRamRole.NotFound", 404)


@pytest.mark.node
def test_with_node_pop_core(sdk: Sdk, role: str, node: Callable[..., Any]) -> None:
    ids = run_instances(sdk, 1)
    report = node(
        {
            "client": "pop",
            "endpoint": sdk.endpoint,
            "accessKeyId": sdk.key.access_key_id,
            "accessKeySecret": sdk.key.secret,
            "action": "AttachInstanceRamRole",
            "params": {"RegionId": REGION, "RamRoleName": role, "InstanceIds": json.dumps(ids)},
            "method": "POST",
        }
    )
    assert report["ok"], report
    assert bindings(sdk, ids) == {ids[0]: role}


def test_xml_response(sdk: Sdk, role: str) -> None:
    ids = run_instances(sdk, 2)
    response = _raw_attach(sdk, RamRoleName=role, InstanceIds=json.dumps(ids), Format="XML")
    assert response.status == 200
    root = ET.fromstring(response.body)
    assert root.tag == "AttachInstanceRamRoleResponse"
    assert root.findtext("TotalCount") == "2"
    items = root.findall("./AttachInstanceRamRoleResults/AttachInstanceRamRoleResult")
    assert [item.findtext("InstanceId") for item in items] == ids
    assert {item.findtext("Success") for item in items} == {"true"}
    assert {item.findtext("Code") for item in items} == {"200"}


# --- per-instance results -------------------------------------------------------------------


def test_same_role_again_succeeds_unchanged(sdk: Sdk, role: str) -> None:
    ids = run_instances(sdk, 1)
    attach(sdk, role, ids, policy=NARROW_POLICY)
    body = attach(sdk, role.upper(), ids)  # role names are case-insensitive
    assert body["FailCount"] == 0
    assert bindings(sdk, ids) == {ids[0]: role}


def test_mixed_batch(sdk: Sdk, role: str) -> None:
    other = role_name()
    create_role(sdk, other)
    ids = run_instances(sdk, 5)
    attach(sdk, other, ids[1:3])
    body = attach(sdk, role, [*ids, ids[0]])  # a duplicate is reported once
    assert body["TotalCount"] == 5
    assert body["FailCount"] == 2
    items = {item["InstanceId"]: item for item in body["AttachInstanceRamRoleResults"]["AttachInstanceRamRoleResult"]}
    assert list(items) == ids
    for instance_id in ids[1:3]:
        assert items[instance_id]["Success"] is False
        assert items[instance_id]["Code"] == "InvalidInstance.RamRoleAttached"
        assert other in items[instance_id]["Message"]
    for instance_id in (ids[0], *ids[3:]):
        assert items[instance_id]["Success"] is True
    assert bindings(sdk, ids) == {ids[0]: role, ids[1]: other, ids[2]: other, ids[3]: role, ids[4]: role}


def test_batch_of_100(sdk: Sdk, role: str) -> None:
    ids = run_instances(sdk, 100)
    body = attach(sdk, role, ids)
    assert body["TotalCount"] == 100 and body["FailCount"] == 0
    assert len(body["AttachInstanceRamRoleResults"]["AttachInstanceRamRoleResult"]) == 100
    assert bindings(sdk, ids) == dict.fromkeys(ids, role)
    body = detach(sdk, ids)
    assert body["FailCount"] == 0
    assert bindings(sdk, ids) == {}


def test_detach_per_item_failures(sdk: Sdk, role: str) -> None:
    other = role_name()
    create_role(sdk, other)
    ids = run_instances(sdk, 3)
    attach(sdk, role, ids[:1])
    attach(sdk, other, ids[1:2])
    body = detach(sdk, ids, role)
    items = {i["InstanceId"]: i for i in body["DetachInstanceRamRoleResults"]["DetachInstanceRamRoleResult"]}
    assert body["FailCount"] == 2
    assert items[ids[0]]["Success"] is True
    assert (items[ids[1]]["Success"], items[ids[1]]["Code"]) == (False, "InvalidRamRole.NotMatch")
    assert (items[ids[2]]["Success"], items[ids[2]]["Code"]) == (False, "InvalidInstance.NoRamRole")
    assert bindings(sdk, ids) == {ids[1]: other}


# --- top-level errors: each changes nothing ---------------------------------------------------


@pytest.mark.parametrize("missing", ["RegionId", "RamRoleName", "InstanceIds"])
def test_attach_missing_parameter(sdk: Sdk, role: str, missing: str) -> None:
    ids = run_instances(sdk, 1)
    params = {"RegionId": REGION, "RamRoleName": role, "InstanceIds": json.dumps(ids)}
    del params[missing]
    body = _error(sdk.raw().v1("AttachInstanceRamRole", params), 400, "MissingParameter")
    assert f'"{missing}"' in body["Message"]
    assert bindings(sdk, ids) == {}


@pytest.mark.parametrize("missing", ["RegionId", "InstanceIds"])
def test_detach_missing_parameter(sdk: Sdk, missing: str) -> None:
    params = {"RegionId": REGION, "InstanceIds": json.dumps(run_instances(sdk, 1))}
    del params[missing]
    _error(sdk.raw().v1("DetachInstanceRamRole", params), 400, "MissingParameter", "DetachInstanceRamRole")


def test_describe_missing_region(sdk: Sdk) -> None:
    response = sdk.raw().v1("DescribeInstanceRamRole", {"RamRoleName": "x"})
    _error(response, 400, "MissingParameter", "DescribeInstanceRamRole")


@pytest.mark.parametrize(
    "instance_ids",
    [
        "i-notjson",
        '{"i-1": true}',
        '"i-1"',
        "[1, 2]",
        '["i-1", null]',
        "[]",
        json.dumps([f"i-{n:020d}" for n in range(101)]),
    ],
    ids=["not-json", "object", "string", "numbers", "null-item", "empty", "101-ids"],
)
@pytest.mark.parametrize("action", ["AttachInstanceRamRole", "DetachInstanceRamRole", "DescribeInstanceRamRole"])
def test_malformed_instance_ids(sdk: Sdk, role: str, action: str, instance_ids: str) -> None:
    params = {"RegionId": REGION, "RamRoleName": role, "InstanceIds": instance_ids}
    _error(sdk.raw().v1(action, params), 400, "InvalidInstanceIds.Malformed", action)


def test_unknown_region(sdk: Sdk, role: str) -> None:
    ids = run_instances(sdk, 1)
    for action in ("AttachInstanceRamRole", "DetachInstanceRamRole", "DescribeInstanceRamRole"):
        params = {"RegionId": "mars-north-1", "RamRoleName": role, "InstanceIds": json.dumps(ids)}
        _error(sdk.raw().v1(action, params), 404, "InvalidRegionId.NotFound", action)
    assert bindings(sdk, ids) == {}


def test_unknown_role(sdk: Sdk) -> None:
    ids = run_instances(sdk, 1)
    _error(_raw_attach(sdk, RamRoleName="no-such-role", InstanceIds=json.dumps(ids)), 404, "InvalidRamRole.NotFound")
    params = {"RegionId": REGION, "RamRoleName": "no-such-role", "InstanceIds": json.dumps(ids)}
    _error(sdk.raw().v1("DetachInstanceRamRole", params), 404, "InvalidRamRole.NotFound", "DetachInstanceRamRole")
    assert bindings(sdk, ids) == {}


def test_role_that_does_not_trust_ecs(sdk: Sdk) -> None:
    name = role_name()
    create_role(sdk, name, trust=account_trust(sdk.account_id))
    ids = run_instances(sdk, 1)
    _error(_raw_attach(sdk, RamRoleName=name, InstanceIds=json.dumps(ids)), 404, "InvalidRamRole.NotEcsRole")
    assert bindings(sdk, ids) == {}


def test_trust_with_an_explicit_deny_for_ecs_is_not_an_ecs_role(sdk: Sdk) -> None:
    name = role_name()
    deny = ECS_TRUST.replace('"Effect":"Allow"', '"Effect":"Deny"')
    create_role(sdk, name, trust=deny)
    _error(
        _raw_attach(sdk, RamRoleName=name, InstanceIds=json.dumps(run_instances(sdk, 1))),
        404,
        "InvalidRamRole.NotEcsRole",
    )


@pytest.mark.parametrize("position", ["alone", "in-batch"])
def test_unknown_instance_binds_nothing(sdk: Sdk, role: str, position: str) -> None:
    ids = run_instances(sdk, 3)
    wanted = ["i-doesnotexist000000000"] if position == "alone" else [ids[0], "i-doesnotexist000000000", ids[1]]
    body = _error(_raw_attach(sdk, RamRoleName=role, InstanceIds=json.dumps(wanted)), 404, "InvalidInstanceId.NotFound")
    assert "i-doesnotexist000000000" in body["Message"]
    assert bindings(sdk, ids) == {}


def test_instance_of_another_account(sdk: Sdk, role: str) -> None:
    other = sdk.other_account()
    theirs = run_instances(other, 1)
    mine = run_instances(sdk, 1)
    _error(
        _raw_attach(sdk, RamRoleName=role, InstanceIds=json.dumps([*mine, *theirs])), 404, "InvalidInstanceId.NotFound"
    )
    assert bindings(sdk, mine) == {}
    assert bindings(other, theirs) == {}
    params = {"RegionId": REGION, "InstanceIds": json.dumps(theirs)}
    _error(
        sdk.raw().v1("DescribeInstanceRamRole", params), 404, "InvalidInstanceId.NotFound", "DescribeInstanceRamRole"
    )
    _error(sdk.raw().v1("DetachInstanceRamRole", params), 404, "InvalidInstanceId.NotFound", "DetachInstanceRamRole")


def test_role_of_another_account_is_unknown(sdk: Sdk) -> None:
    other = sdk.other_account()
    theirs = role_name()
    create_role(other, theirs)
    _error(
        _raw_attach(sdk, RamRoleName=theirs, InstanceIds=json.dumps(run_instances(sdk, 1))),
        404,
        "InvalidRamRole.NotFound",
    )


def test_instance_of_another_region(sdk: Sdk, role: str) -> None:
    elsewhere = run_instances(sdk, 1, region="cn-beijing")
    _error(_raw_attach(sdk, RamRoleName=role, InstanceIds=json.dumps(elsewhere)), 404, "InvalidInstanceId.NotFound")
    assert bindings(sdk, elsewhere, region="cn-beijing") == {}


def test_classic_network_instance(sdk: Sdk, role: str) -> None:
    vpc = run_instances(sdk, 1)
    classic = run_instances(sdk, 1, vpc=False)
    response = _raw_attach(sdk, RamRoleName=role, InstanceIds=json.dumps([*vpc, *classic]))
    _error(response, 403, "InvalidNetworkType.MismatchRamRole")
    assert bindings(sdk, [*vpc, *classic]) == {}


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        ("", "JSON"),
        ('{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"' + "x" * 1100 + '"}]}', "1024"),
        ("not json at all", "JSON"),
        ('{"Version":"1","Statement":[]}', "Statement"),
        ('{"Version":"2","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*"}]}', "Version"),
        ('{"Version":"1","Statement":[{"Effect":"Maybe","Action":"ecs:*","Resource":"*"}]}', "Effect"),
    ],
    ids=["empty", "1025-plus", "not-json", "empty-statement", "bad-version", "bad-effect"],
)
def test_bad_policy(sdk: Sdk, role: str, policy: str, fragment: str) -> None:
    ids = run_instances(sdk, 1)
    body = _error(
        _raw_attach(sdk, RamRoleName=role, InstanceIds=json.dumps(ids), Policy=policy), 400, "InvalidParameter"
    )
    assert '"Policy"' in body["Message"]
    assert fragment in body["Message"]
    assert bindings(sdk, ids) == {}


def test_policy_of_exactly_1024_characters_is_accepted(sdk: Sdk, role: str) -> None:
    base = '{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"acs:ecs:*:*:instance/"}]}'
    policy = base.replace("instance/", "instance/" + "x" * (1024 - len(base)))
    assert len(policy) == 1024
    ids = run_instances(sdk, 1)
    assert attach(sdk, role, ids, policy=policy)["FailCount"] == 0


def test_describe_with_neither_filter(sdk: Sdk) -> None:
    response = sdk.raw().v1("DescribeInstanceRamRole", {"RegionId": REGION})
    _error(response, 403, "InvalidParameter.AllEmpty", "DescribeInstanceRamRole")


@pytest.mark.parametrize("page_size", ["0", "51", "-1", "ten"])
def test_describe_page_size_out_of_range(sdk: Sdk, role: str, page_size: str) -> None:
    response = sdk.raw().v1("DescribeInstanceRamRole", {"RegionId": REGION, "RamRoleName": role, "PageSize": page_size})
    body = _error(response, 400, "InvalidParameter", "DescribeInstanceRamRole")
    assert '"PageSize"' in body["Message"]


def test_describe_page_number_zero(sdk: Sdk, role: str) -> None:
    response = sdk.raw().v1("DescribeInstanceRamRole", {"RegionId": REGION, "RamRoleName": role, "PageNumber": "0"})
    _error(response, 400, "InvalidParameter", "DescribeInstanceRamRole")


# --- describe: filters, order, paging ---------------------------------------------------------


def test_describe_paging_is_stable_and_complete(sdk: Sdk, role: str) -> None:
    ids = run_instances(sdk, 23)
    attach(sdk, role, ids)
    seen: list[str] = []
    for page in (1, 2, 3):
        request = ecs_models.DescribeInstanceRamRoleRequest(
            region_id=REGION, ram_role_name=role, page_size=10, page_number=page
        )
        body = sdk.tea_ecs().describe_instance_ram_role(request).body.to_map()
        assert body["TotalCount"] == 23
        seen.extend(item["InstanceId"] for item in body["InstanceRamRoleSets"]["InstanceRamRoleSet"])
    assert seen == sorted(ids)
    request = ecs_models.DescribeInstanceRamRoleRequest(
        region_id=REGION, ram_role_name=role, page_size=10, page_number=4
    )
    body = sdk.tea_ecs().describe_instance_ram_role(request).body.to_map()
    assert body["InstanceRamRoleSets"]["InstanceRamRoleSet"] == [] and body["TotalCount"] == 23


def test_describe_by_ids_and_role_intersects(sdk: Sdk, role: str) -> None:
    other = role_name()
    create_role(sdk, other)
    ids = run_instances(sdk, 4)
    attach(sdk, role, ids[:2])
    attach(sdk, other, ids[2:3])
    request = ecs_models.DescribeInstanceRamRoleRequest(
        region_id=REGION, instance_ids=json.dumps(ids), ram_role_name=role
    )
    body = sdk.tea_ecs().describe_instance_ram_role(request).body.to_map()
    assert body["TotalCount"] == 2
    assert [i["InstanceId"] for i in body["InstanceRamRoleSets"]["InstanceRamRoleSet"]] == sorted(ids[:2])


@pytest.mark.parametrize("with_ids", [False, True])
def test_describe_unknown_role_is_not_found(sdk: Sdk, with_ids: bool) -> None:
    # Terraform's read of alicloud_ecs_ram_role_attachment (DescribeEcsRamRoleAttachment) sends
    # InstanceIds and RamRoleName and treats InvalidRamRole.NotFound as "the attachment is gone".
    request = ecs_models.DescribeInstanceRamRoleRequest(region_id=REGION, ram_role_name="never-created")
    if with_ids:
        request.instance_ids = json.dumps(run_instances(sdk, 1))
    with pytest.raises(ClientException) as caught:
        sdk.tea_ecs().describe_instance_ram_role(request)
    assert (caught.value.code, caught.value.status_code) == ("InvalidRamRole.NotFound", 404)


def test_describe_as_the_instances_data_source_sends_it(sdk: Sdk, role: str) -> None:
    # data "alicloud_instances" sends PageSize=50 and an empty RamRoleName with the InstanceIds.
    ids = run_instances(sdk, 2)
    attach(sdk, role, ids[:1])
    params = {"RegionId": REGION, "InstanceIds": json.dumps(ids), "RamRoleName": "", "PageSize": "50"}
    response = sdk.raw().v1("DescribeInstanceRamRole", params)
    assert response.status == 200, response.body
    assert response.json["InstanceRamRoleSets"]["InstanceRamRoleSet"] == [{"InstanceId": ids[0], "RamRoleName": role}]
    assert response.json["TotalCount"] == 1


def test_accounts_do_not_see_each_others_bindings(sdk: Sdk, role: str) -> None:
    ids = run_instances(sdk, 1)
    attach(sdk, role, ids)
    other = sdk.other_account()
    create_role(other, role)
    assert bound_to(other, role) == []


def test_hidden_owner_parameters_are_accepted_and_ignored(sdk: Sdk, role: str) -> None:
    ids = run_instances(sdk, 1)
    response = _raw_attach(
        sdk,
        RamRoleName=role,
        InstanceIds=json.dumps(ids),
        OwnerId="123",
        ResourceOwnerAccount="x",
        ResourceOwnerId="456",
    )
    assert response.status == 200 and response.json["FailCount"] == 0
