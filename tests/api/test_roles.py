"""RAM roles: create, get, list, update, delete, with the vendor's errors."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_tea_openapi.exceptions import ClientException
from aliyunsdkram.request.v20150501.CreateRoleRequest import CreateRoleRequest
from aliyunsdkram.request.v20150501.GetRoleRequest import GetRoleRequest

from tests.conftest import Sdk
from tests.support.ecs import ECS_TRUST, attach, bindings, create_role, run_instances
from tests.support.raw import RAM, RawResponse


def _name() -> str:
    return f"Role-{uuid.uuid4().hex[:8]}"


def _error(response: RawResponse, status: int, code: str) -> dict[str, Any]:
    assert (response.status, response.code) == (status, code), response.body
    body: dict[str, Any] = response.json
    return body


def _ram(sdk: Sdk, action: str, **params: str) -> RawResponse:
    return sdk.raw().v1(action, params, version=RAM)


def test_create_and_get(sdk: Sdk) -> None:
    name = _name()
    created = create_role(sdk, name, description="for instances", max_session_duration=7200)["Role"]
    assert created["RoleName"] == name
    assert created["Arn"] == f"acs:ram::{sdk.account_id}:role/{name}"
    assert created["AssumeRolePolicyDocument"] == ECS_TRUST
    assert created["MaxSessionDuration"] == 7200 and created["Description"] == "for instances"
    assert created["RoleId"].isdigit()
    fetched = sdk.tea_ram().get_role(ram_models.GetRoleRequest(role_name=name.lower())).body.to_map()["Role"]
    assert fetched["RoleId"] == created["RoleId"] and fetched["RoleName"] == name
    assert fetched["UpdateDate"] == fetched["CreateDate"]


def test_with_the_v1_sdk(sdk: Sdk) -> None:
    name = _name()
    request = CreateRoleRequest()
    request.set_RoleName(name)
    request.set_AssumeRolePolicyDocument(ECS_TRUST)
    assert sdk.v1_call(request)["Role"]["RoleName"] == name
    get = GetRoleRequest()
    get.set_RoleName(name)
    assert sdk.v1_call(get)["Role"]["MaxSessionDuration"] == 3600


def test_names_are_unique_regardless_of_case(sdk: Sdk) -> None:
    name = _name()
    create_role(sdk, name)
    with pytest.raises(ClientException) as caught:
        create_role(sdk, name.upper())
    assert (caught.value.code, caught.value.status_code) == ("EntityAlreadyExists.Role", 409)
    create_role(sdk.other_account(), name)  # another account may use the name


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"RoleName": "bad name"}, "InvalidParameter.RoleName.InvalidChars"),
        ({"RoleName": "x" * 65}, "InvalidParameter.RoleName.Length"),
        ({"RoleName": "ok", "AssumeRolePolicyDocument": "{"}, "MalformedPolicyDocument"),
        ({"RoleName": "ok", "AssumeRolePolicyDocument": '{"Version":"1","Statement":[]}'}, "MalformedPolicyDocument"),
        (
            {"RoleName": "ok", "AssumeRolePolicyDocument": ECS_TRUST.replace("Principal", "Resource")},
            "MalformedPolicyDocument",
        ),
        ({"RoleName": "ok", "MaxSessionDuration": "100"}, "InvalidParameter.MaxSessionDuration"),
        ({"RoleName": "ok", "MaxSessionDuration": "43201"}, "InvalidParameter.MaxSessionDuration"),
        ({"RoleName": "ok", "Description": "d" * 1025}, "InvalidParameter.Description.Length"),
    ],
)
def test_create_errors(sdk: Sdk, params: dict[str, str], code: str) -> None:
    params = {"AssumeRolePolicyDocument": ECS_TRUST, **params}
    _error(_ram(sdk, "CreateRole", **params), 400, code)
    assert sdk.tea_ram().list_roles(ram_models.ListRolesRequest()).body.to_map()["Roles"]["Role"] == []


@pytest.mark.parametrize("missing", ["RoleName", "AssumeRolePolicyDocument"])
def test_create_missing_parameter(sdk: Sdk, missing: str) -> None:
    params = {"RoleName": _name(), "AssumeRolePolicyDocument": ECS_TRUST}
    del params[missing]
    _error(_ram(sdk, "CreateRole", **params), 400, "MissingParameter")


def test_unknown_role(sdk: Sdk) -> None:
    for action in ("GetRole", "DeleteRole", "UpdateRole"):
        body = _error(_ram(sdk, action, RoleName="ghost"), 404, "EntityNotExist.Role")
        assert "ghost" in body["Message"]


def test_list_pages_with_marker(sdk: Sdk) -> None:
    names = sorted(_name() for _ in range(5))
    for name in names:
        create_role(sdk, name)
    listed: list[str] = []
    marker = None
    while True:
        body = sdk.tea_ram().list_roles(ram_models.ListRolesRequest(max_items=2, marker=marker)).body.to_map()
        listed.extend(r["RoleName"] for r in body["Roles"]["Role"])
        assert "AssumeRolePolicyDocument" not in json.dumps(body["Roles"])
        if not body["IsTruncated"]:
            break
        marker = body["Marker"]
    assert listed == sorted(names, key=str.lower)
    _error(_ram(sdk, "ListRoles", Marker="!!!"), 400, "InvalidParameter.Marker")
    _error(_ram(sdk, "ListRoles", MaxItems="1001"), 400, "InvalidParameter")


def test_update_role(sdk: Sdk) -> None:
    name = _name()
    create_role(sdk, name)
    request = ram_models.UpdateRoleRequest(role_name=name, new_description="changed", new_max_session_duration=10800)
    role = sdk.tea_ram().update_role(request).body.to_map()["Role"]
    assert (role["Description"], role["MaxSessionDuration"]) == ("changed", 10800)
    assert role["AssumeRolePolicyDocument"] == ECS_TRUST
    _error(_ram(sdk, "UpdateRole", RoleName=name, NewAssumeRolePolicyDocument="[]"), 400, "MalformedPolicyDocument")


def test_delete_role_and_dangling_binding(sdk: Sdk) -> None:
    name = _name()
    create_role(sdk, name)
    ids = run_instances(sdk, 1)
    attach(sdk, name, ids)
    sdk.tea_ram().delete_role(ram_models.DeleteRoleRequest(role_name=name))
    _error(_ram(sdk, "GetRole", RoleName=name), 404, "EntityNotExist.Role")
    # The binding names the role, as in the cloud: it outlives the role and can still be detached.
    # Asked by role name, DescribeInstanceRamRole reports the role unknown (Terraform's read relies on it).
    assert bindings(sdk, ids) == {ids[0]: name}
    _error(
        sdk.raw().v1("DescribeInstanceRamRole", {"RegionId": "cn-hangzhou", "RamRoleName": name}),
        404,
        "InvalidRamRole.NotFound",
    )
    assert (
        sdk.raw().v1("DetachInstanceRamRole", {"RegionId": "cn-hangzhou", "InstanceIds": json.dumps(ids)}).status == 200
    )
