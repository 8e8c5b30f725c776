"""The RAM API through the official clients: users, AccessKeys, policies and versions,
attachments, groups, with the vendor's error codes."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from alibabacloud_ram20150501 import models as ram
from alibabacloud_tea_openapi.exceptions import ClientException
from aliyunsdkram.request.v20150501.CreatePolicyRequest import CreatePolicyRequest
from aliyunsdkram.request.v20150501.CreateUserRequest import CreateUserRequest
from aliyunsdkram.request.v20150501.ListPoliciesRequest import ListPoliciesRequest

from tests.conftest import Sdk
from tests.support.ecs import allow, create_role
from tests.support.raw import RAM, RawResponse

SYSTEM_NAMES = {
    "AdministratorAccess",
    "AliyunECSFullAccess",
    "AliyunECSReadOnlyAccess",
    "AliyunRAMFullAccess",
    "AliyunRAMReadOnlyAccess",
    "AliyunSTSAssumeRoleAccess",
}


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _raw(sdk: Sdk, action: str, **params: str) -> RawResponse:
    return sdk.raw().v1(action, params, version=RAM)


def _error(response: RawResponse, status: int, code: str) -> dict[str, Any]:
    assert (response.status, response.code) == (status, code), response.body
    body: dict[str, Any] = response.json
    return body


# --- users --------------------------------------------------------------------------------------


def test_user_lifecycle(sdk: Sdk) -> None:
    client = sdk.tea_ram()
    name = _name("alice")
    created = client.create_user(
        ram.CreateUserRequest(
            user_name=name, display_name="Alice", email="alice@example.com", mobile_phone="86-18600008888"
        )
    ).body.to_map()["User"]
    assert created["UserName"] == name and created["DisplayName"] == "Alice" and created["UserId"]
    fetched = client.get_user(ram.GetUserRequest(user_name=name.upper())).body.to_map()["User"]
    assert fetched["UserId"] == created["UserId"] and fetched["Email"] == "alice@example.com"

    renamed = _name("bob")
    updated = client.update_user(ram.UpdateUserRequest(user_name=name, new_user_name=renamed, new_comments="moved"))
    assert updated.body.user.user_name == renamed and updated.body.user.comments == "moved"
    _error(_raw(sdk, "GetUser", UserName=name), 404, "EntityNotExist.User")
    listed = client.list_users(ram.ListUsersRequest()).body.to_map()["Users"]["User"]
    assert [u["UserName"] for u in listed] == [renamed]
    client.delete_user(ram.DeleteUserRequest(user_name=renamed))
    assert client.list_users(ram.ListUsersRequest()).body.to_map()["Users"]["User"] == []


def test_create_user_with_the_v1_sdk(sdk: Sdk) -> None:
    request = CreateUserRequest()
    request.set_UserName("v1-user")
    assert sdk.v1_call(request)["User"]["UserName"] == "v1-user"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"UserName": "bad name"}, "InvalidParameter.UserName.InvalidChars"),
        ({"UserName": "u" * 65}, "InvalidParameter.UserName.Length"),
        ({"UserName": "ok", "DisplayName": "d" * 129}, "InvalidParameter.DisplayName.Length"),
        ({"UserName": "ok", "DisplayName": "bad name!"}, "InvalidParameter.DisplayName.InvalidChars"),
        ({"UserName": "ok", "Email": "not-an-email"}, "InvalidParameter.Email.Format"),
        ({"UserName": "ok", "MobilePhone": "12"}, "InvalidParameter.MobilePhone.Format"),
        ({"UserName": "ok", "Comments": "c" * 129}, "InvalidParameter.Comments.Length"),
    ],
)
def test_create_user_errors(sdk: Sdk, params: dict[str, str], code: str) -> None:
    _error(_raw(sdk, "CreateUser", **params), 400, code)
    assert sdk.tea_ram().list_users(ram.ListUsersRequest()).body.to_map()["Users"]["User"] == []


def test_duplicate_user_and_missing_name(sdk: Sdk) -> None:
    sdk.tea_ram().create_user(ram.CreateUserRequest(user_name="carol"))
    _error(_raw(sdk, "CreateUser", UserName="CAROL"), 409, "EntityAlreadyExists.User")
    _error(_raw(sdk, "CreateUser"), 400, "MissingParameter")
    sdk.tea_ram().create_user(ram.CreateUserRequest(user_name="dave"))
    _error(_raw(sdk, "UpdateUser", UserName="dave", NewUserName="Carol"), 409, "EntityAlreadyExists.User")


def test_delete_user_conflicts(sdk: Sdk) -> None:
    user = sdk.new_user("AliyunECSReadOnlyAccess")
    assert user.user_name is not None
    body = _error(_raw(sdk, "DeleteUser", UserName=user.user_name), 409, "DeleteConflict.User.AccessKey")
    assert body["Message"]
    client = sdk.tea_ram()
    client.delete_access_key(
        ram.DeleteAccessKeyRequest(user_name=user.user_name, user_access_key_id=user.key.access_key_id)
    )
    _error(_raw(sdk, "DeleteUser", UserName=user.user_name), 409, "DeleteConflict.User.Policy")
    detach = ram.DetachPolicyFromUserRequest(
        policy_type="System", policy_name="AliyunECSReadOnlyAccess", user_name=user.user_name
    )
    client.detach_policy_from_user(detach)
    client.delete_user(ram.DeleteUserRequest(user_name=user.user_name))
    _error(_raw(sdk, "GetUser", UserName=user.user_name), 404, "EntityNotExist.User")


def test_list_users_pages(sdk: Sdk) -> None:
    names = sorted(_name("u") for _ in range(5))
    for name in names:
        sdk.tea_ram().create_user(ram.CreateUserRequest(user_name=name))
    seen: list[str] = []
    marker = None
    while True:
        body = sdk.tea_ram().list_users(ram.ListUsersRequest(max_items=2, marker=marker)).body.to_map()
        seen.extend(u["UserName"] for u in body["Users"]["User"])
        if not body["IsTruncated"]:
            break
        marker = body["Marker"]
    assert seen == names


# --- access keys ----------------------------------------------------------------------------------


def test_access_keys(sdk: Sdk) -> None:
    client = sdk.tea_ram()
    client.create_user(ram.CreateUserRequest(user_name="keyed"))
    first = client.create_access_key(ram.CreateAccessKeyRequest(user_name="keyed")).body.to_map()["AccessKey"]
    assert (
        first["AccessKeyId"].startswith("LTAI") and len(first["AccessKeySecret"]) == 30 and first["Status"] == "Active"
    )
    client.create_access_key(ram.CreateAccessKeyRequest(user_name="keyed"))
    _error(_raw(sdk, "CreateAccessKey", UserName="keyed"), 409, "LimitExceeded.User.AccessKey")
    listed = client.list_access_keys(ram.ListAccessKeysRequest(user_name="keyed")).body.to_map()["AccessKeys"][
        "AccessKey"
    ]
    assert len(listed) == 2 and "AccessKeySecret" not in json.dumps(listed)
    _error(
        _raw(sdk, "UpdateAccessKey", UserName="keyed", UserAccessKeyId=first["AccessKeyId"], Status="Paused"),
        400,
        "InvalidParameter.Status",
    )
    _error(
        _raw(sdk, "UpdateAccessKey", UserName="keyed", UserAccessKeyId="LTAInope", Status="Inactive"),
        404,
        "EntityNotExist.User.AccessKey",
    )
    _error(
        _raw(sdk, "DeleteAccessKey", UserName="ghost", UserAccessKeyId=first["AccessKeyId"]), 404, "EntityNotExist.User"
    )


def test_root_key_management_without_user_name(sdk: Sdk) -> None:
    listed = sdk.tea_ram().list_access_keys(ram.ListAccessKeysRequest()).body.to_map()["AccessKeys"]["AccessKey"]
    assert [k["AccessKeyId"] for k in listed] == [sdk.key.access_key_id]


# --- policies ---------------------------------------------------------------------------------


def test_custom_policy_lifecycle(sdk: Sdk) -> None:
    client = sdk.tea_ram()
    name = _name("Policy")
    created = client.create_policy(
        ram.CreatePolicyRequest(policy_name=name, policy_document=allow("ecs:Describe*"), description="read")
    ).body.to_map()["Policy"]
    assert created == {
        **created,
        "PolicyName": name,
        "PolicyType": "Custom",
        "DefaultVersion": "v1",
        "Description": "read",
    }
    got = client.get_policy(ram.GetPolicyRequest(policy_type="Custom", policy_name=name)).body.to_map()
    assert got["Policy"]["AttachmentCount"] == 0
    assert got["DefaultPolicyVersion"]["VersionId"] == "v1" and got["DefaultPolicyVersion"]["IsDefaultVersion"] is True
    assert json.loads(got["DefaultPolicyVersion"]["PolicyDocument"])["Statement"][0]["Action"] == "ecs:Describe*"

    v2 = client.create_policy_version(
        ram.CreatePolicyVersionRequest(policy_name=name, policy_document=allow("ecs:*"), set_as_default=True)
    ).body.to_map()["PolicyVersion"]
    assert (v2["VersionId"], v2["IsDefaultVersion"]) == ("v2", True)
    versions = client.list_policy_versions(ram.ListPolicyVersionsRequest(policy_type="Custom", policy_name=name))
    assert [(v.version_id, v.is_default_version) for v in versions.body.policy_versions.policy_version] == [
        ("v1", False),
        ("v2", True),
    ]
    _error(
        _raw(sdk, "DeletePolicyVersion", PolicyName=name, VersionId="v2"), 409, "DeleteConflict.Policy.DefaultVersion"
    )
    _error(_raw(sdk, "DeletePolicy", PolicyName=name), 409, "DeleteConflict.Policy.Version")
    client.delete_policy_version(ram.DeletePolicyVersionRequest(policy_name=name, version_id="v1"))
    _error(_raw(sdk, "SetDefaultPolicyVersion", PolicyName=name, VersionId="v1"), 404, "EntityNotExist.Policy.Version")
    client.delete_policy(ram.DeletePolicyRequest(policy_name=name))
    _error(_raw(sdk, "GetPolicy", PolicyType="Custom", PolicyName=name), 404, "EntityNotExist.Policy")


def test_policy_versions_limit_and_rotation(sdk: Sdk) -> None:
    client = sdk.tea_ram()
    name = _name("Rotating")
    client.create_policy(ram.CreatePolicyRequest(policy_name=name, policy_document=allow("ecs:A")))
    for n in range(2, 6):
        client.create_policy_version(
            ram.CreatePolicyVersionRequest(policy_name=name, policy_document=allow(f"ecs:V{n}"))
        )
    _error(
        _raw(sdk, "CreatePolicyVersion", PolicyName=name, PolicyDocument=allow("ecs:V6")),
        409,
        "LimitExceeded.Policy.Version",
    )
    client.create_policy_version(
        ram.CreatePolicyVersionRequest(
            policy_name=name,
            policy_document=allow("ecs:V6"),
            rotate_strategy="DeleteOldestNonDefaultVersionWhenLimitExceeded",
        )
    )
    versions = client.list_policy_versions(ram.ListPolicyVersionsRequest(policy_type="Custom", policy_name=name))
    assert [v.version_id for v in versions.body.policy_versions.policy_version] == ["v1", "v3", "v4", "v5", "v6"]


def test_system_policies(sdk: Sdk) -> None:
    client = sdk.tea_ram()
    listed = client.list_policies(ram.ListPoliciesRequest(policy_type="System")).body.to_map()["Policies"]["Policy"]
    assert {p["PolicyName"] for p in listed} == SYSTEM_NAMES
    got = client.get_policy(ram.GetPolicyRequest(policy_type="System", policy_name="AliyunECSReadOnlyAccess")).body
    document = json.loads(got.default_policy_version.policy_document)
    assert "ecs:Describe*" in json.dumps(document)
    _error(_raw(sdk, "DeletePolicy", PolicyName="AdministratorAccess"), 404, "EntityNotExist.Policy")
    _error(
        _raw(sdk, "GetPolicy", PolicyType="Managed", PolicyName="AdministratorAccess"),
        400,
        "InvalidParameter.PolicyType",
    )


def test_list_policies_mixes_system_and_custom_with_paging(sdk: Sdk) -> None:
    client = sdk.tea_ram()
    customs = sorted(_name("P") for _ in range(3))
    for name in customs:
        client.create_policy(ram.CreatePolicyRequest(policy_name=name, policy_document=allow("ecs:X")))
    seen: list[tuple[str, str]] = []
    marker = None
    while True:
        body = client.list_policies(ram.ListPoliciesRequest(max_items=4, marker=marker)).body.to_map()
        seen.extend((p["PolicyType"], p["PolicyName"]) for p in body["Policies"]["Policy"])
        if not body["IsTruncated"]:
            break
        marker = body["Marker"]
    assert {n for t, n in seen if t == "System"} == SYSTEM_NAMES
    assert [n for t, n in seen if t == "Custom"] == customs
    assert len(seen) == len(set(seen))
    request = ListPoliciesRequest()
    request.set_PolicyType("Custom")
    assert [p["PolicyName"] for p in sdk.v1_call(request)["Policies"]["Policy"]] == customs


@pytest.mark.parametrize(
    ("document", "code", "fragment"),
    [
        ("{not json", "MalformedPolicyDocument", "JSON"),
        (
            '{"Version":"2","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*"}]}',
            "MalformedPolicyDocument",
            "Version",
        ),
        (
            '{"Version":"1","Statement":[{"Effect":"Permit","Action":"ecs:*","Resource":"*"}]}',
            "MalformedPolicyDocument",
            "Effect",
        ),
        ('{"Version":"1","Statement":[]}', "MalformedPolicyDocument", "Statement"),
        (
            '{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*",'
            '"Condition":{"StringAlmostEquals":{"acs:SourceIp":"x"}}}]}',
            "MalformedPolicyDocument",
            "StringAlmostEquals",
        ),
        (allow("ecs:*", ["acs:ecs:*:*:instance/" + "i" * 40] * 160), "InvalidParameter.PolicyDocument.Length", "6144"),
    ],
    ids=["bad-json", "wrong-version", "unknown-effect", "empty-statement", "unknown-operator", "over-6144"],
)
def test_malformed_policy_documents(sdk: Sdk, document: str, code: str, fragment: str) -> None:
    name = _name("Bad")
    body = _error(_raw(sdk, "CreatePolicy", PolicyName=name, PolicyDocument=document), 400, code)
    assert fragment in body["Message"]
    _error(_raw(sdk, "GetPolicy", PolicyType="Custom", PolicyName=name), 404, "EntityNotExist.Policy")


def test_policy_name_rules(sdk: Sdk) -> None:
    _error(
        _raw(sdk, "CreatePolicy", PolicyName="bad_name", PolicyDocument=allow("ecs:*")),
        400,
        "InvalidParameter.PolicyName.InvalidChars",
    )
    _error(
        _raw(sdk, "CreatePolicy", PolicyName="p" * 129, PolicyDocument=allow("ecs:*")),
        400,
        "InvalidParameter.PolicyName.Length",
    )
    sdk.tea_ram().create_policy(ram.CreatePolicyRequest(policy_name="Twice", policy_document=allow("ecs:*")))
    _error(
        _raw(sdk, "CreatePolicy", PolicyName="twice", PolicyDocument=allow("ecs:*")), 409, "EntityAlreadyExists.Policy"
    )


def test_create_policy_with_the_v1_sdk(sdk: Sdk) -> None:
    request = CreatePolicyRequest()
    request.set_PolicyName("FromV1")
    request.set_PolicyDocument(allow("ecs:*"))
    assert sdk.v1_call(request)["Policy"]["PolicyName"] == "FromV1"


# --- attachments ------------------------------------------------------------------------------


def test_attachments_and_entities(sdk: Sdk) -> None:
    client = sdk.tea_ram()
    policy = _name("Shared")
    client.create_policy(ram.CreatePolicyRequest(policy_name=policy, policy_document=allow("ecs:*")))
    client.create_user(ram.CreateUserRequest(user_name="attached-user"))
    role = _name("role")
    create_role(sdk, role)
    client.create_group(ram.CreateGroupRequest(group_name="attached-group"))

    client.attach_policy_to_user(
        ram.AttachPolicyToUserRequest(policy_type="Custom", policy_name=policy, user_name="attached-user")
    )
    client.attach_policy_to_role(
        ram.AttachPolicyToRoleRequest(policy_type="Custom", policy_name=policy, role_name=role)
    )
    client.attach_policy_to_group(
        ram.AttachPolicyToGroupRequest(policy_type="Custom", policy_name=policy, group_name="attached-group")
    )
    client.attach_policy_to_role(
        ram.AttachPolicyToRoleRequest(policy_type="System", policy_name="AliyunECSReadOnlyAccess", role_name=role)
    )
    _error(
        _raw(sdk, "AttachPolicyToUser", PolicyType="Custom", PolicyName=policy, UserName="attached-user"),
        409,
        "EntityAlreadyExists.User.Policy",
    )

    entities = client.list_entities_for_policy(
        ram.ListEntitiesForPolicyRequest(policy_type="Custom", policy_name=policy)
    ).body.to_map()
    assert [u["UserName"] for u in entities["Users"]["User"]] == ["attached-user"]
    assert [r["RoleName"] for r in entities["Roles"]["Role"]] == [role]
    assert [g["GroupName"] for g in entities["Groups"]["Group"]] == ["attached-group"]
    for_role = client.list_policies_for_role(ram.ListPoliciesForRoleRequest(role_name=role)).body.to_map()["Policies"][
        "Policy"
    ]
    assert {(p["PolicyType"], p["PolicyName"]) for p in for_role} == {
        ("Custom", policy),
        ("System", "AliyunECSReadOnlyAccess"),
    }
    got = client.get_policy(ram.GetPolicyRequest(policy_type="Custom", policy_name=policy)).body
    assert got.policy.attachment_count == 3

    _error(_raw(sdk, "DeletePolicy", PolicyName=policy), 409, "DeleteConflict.Policy.User")
    _error(_raw(sdk, "DeleteRole", RoleName=role), 409, "DeleteConflict.Role.Policy")
    client.detach_policy_from_user(
        ram.DetachPolicyFromUserRequest(policy_type="Custom", policy_name=policy, user_name="attached-user")
    )
    _error(
        _raw(sdk, "DetachPolicyFromUser", PolicyType="Custom", PolicyName=policy, UserName="attached-user"),
        404,
        "EntityNotExist.User.Policy",
    )
    for_user = client.list_policies_for_user(ram.ListPoliciesForUserRequest(user_name="attached-user")).body.to_map()
    assert for_user["Policies"]["Policy"] == []


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"PolicyType": "Custom", "PolicyName": "Nope", "UserName": "u1"}, 404, "EntityNotExist.Policy"),
        (
            {"PolicyType": "System", "PolicyName": "AdministratorAccess", "UserName": "nobody"},
            404,
            "EntityNotExist.User",
        ),
        (
            {"PolicyType": "Other", "PolicyName": "AdministratorAccess", "UserName": "u1"},
            400,
            "InvalidParameter.PolicyType",
        ),
        ({"PolicyName": "AdministratorAccess", "UserName": "u1"}, 400, "MissingParameter"),
    ],
)
def test_attach_errors(sdk: Sdk, params: dict[str, str], status: int, code: str) -> None:
    sdk.tea_ram().create_user(ram.CreateUserRequest(user_name="u1"))
    _error(_raw(sdk, "AttachPolicyToUser", **params), status, code)


# --- groups ---------------------------------------------------------------------------------


def test_groups(sdk: Sdk) -> None:
    client = sdk.tea_ram()
    client.create_group(ram.CreateGroupRequest(group_name="devs", comments="developers"))
    _error(_raw(sdk, "CreateGroup", GroupName="DEVS"), 409, "EntityAlreadyExists.Group")
    client.create_user(ram.CreateUserRequest(user_name="erin"))
    client.add_user_to_group(ram.AddUserToGroupRequest(group_name="devs", user_name="erin"))
    _error(_raw(sdk, "AddUserToGroup", GroupName="devs", UserName="erin"), 409, "EntityAlreadyExists.User.Group")
    members = client.list_users_for_group(ram.ListUsersForGroupRequest(group_name="devs")).body.to_map()["Users"][
        "User"
    ]
    assert [m["UserName"] for m in members] == ["erin"]
    of_user = client.list_groups_for_user(ram.ListGroupsForUserRequest(user_name="erin")).body.to_map()["Groups"][
        "Group"
    ]
    assert [g["GroupName"] for g in of_user] == ["devs"]
    _error(_raw(sdk, "DeleteGroup", GroupName="devs"), 409, "DeleteConflict.Group.User")
    _error(_raw(sdk, "DeleteUser", UserName="erin"), 409, "DeleteConflict.User.Group")
    renamed = client.update_group(ram.UpdateGroupRequest(group_name="devs", new_group_name="engineers")).body.group
    assert renamed.group_name == "engineers" and renamed.comments == "developers"
    client.remove_user_from_group(ram.RemoveUserFromGroupRequest(group_name="engineers", user_name="erin"))
    _error(_raw(sdk, "RemoveUserFromGroup", GroupName="engineers", UserName="erin"), 404, "EntityNotExist.User.Group")
    client.delete_group(ram.DeleteGroupRequest(group_name="engineers"))
    assert client.list_groups(ram.ListGroupsRequest()).body.to_map()["Groups"]["Group"] == []
    _error(_raw(sdk, "GetGroup", GroupName="engineers"), 404, "EntityNotExist.Group")


def test_tea_client_error_shape(sdk: Sdk) -> None:
    with pytest.raises(ClientException) as caught:
        sdk.tea_ram().get_user(ram.GetUserRequest(user_name="ghost"))
    assert (caught.value.code, caught.value.status_code) == ("EntityNotExist.User", 404)
    assert caught.value.data["HostId"] == "ram.aliyuncs.com"
