"""RAM enforcement on every call: PassRole for attaching a role, action and resource checks,
explicit denies, conditions, groups, key status, account isolation."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_tea_openapi.exceptions import ClientException

from tests.conftest import Sdk
from tests.support.ecs import REGION, allow, attach, bindings, bound_to, create_policy, create_role, run_instances
from tests.support.raw import RAM, RawResponse


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _role_arn(sdk: Sdk, role: str) -> str:
    return f"acs:ram::{sdk.account_id}:role/{role}"


def _instance_arn(sdk: Sdk, instance_id: str) -> str:
    return f"acs:ecs:{REGION}:{sdk.account_id}:instance/{instance_id}"


def _grant(owner: Sdk, user: Sdk, document: str) -> None:
    """Create a custom policy with ``document`` and attach it to ``user``."""
    policy = _name("policy")
    create_policy(owner, policy, document)
    request = ram_models.AttachPolicyToUserRequest(policy_type="Custom", policy_name=policy, user_name=user.user_name)
    owner.tea_ram().attach_policy_to_user(request)


def _raw_attach(sdk: Sdk, role: str, ids: list[str]) -> RawResponse:
    return sdk.raw().v1(
        "AttachInstanceRamRole", {"RegionId": REGION, "RamRoleName": role, "InstanceIds": json.dumps(ids)}
    )


# --- PassRole ---------------------------------------------------------------------------------


def test_pass_role_is_required_to_attach(sdk: Sdk) -> None:
    role, other_role = _name("role"), _name("role")
    create_role(sdk, role)
    create_role(sdk, other_role)
    ids = run_instances(sdk, 2)
    user = sdk.new_user("AliyunECSFullAccess")

    with pytest.raises(ClientException) as caught:
        attach(user, role, ids)
    assert (caught.value.code, caught.value.status_code) == ("InvalidUser.PassRoleForbidden", 403)
    assert bindings(sdk, ids) == {}

    _grant(sdk, user, allow("ram:PassRole", _role_arn(sdk, role)))
    assert attach(user, role, ids[:1])["FailCount"] == 0
    assert bindings(sdk, ids) == {ids[0]: role}

    response = _raw_attach(user, other_role, ids[1:])
    assert (response.status, response.code) == (403, "InvalidUser.PassRoleForbidden")
    assert bindings(sdk, ids) == {ids[0]: role}


def test_pass_role_also_guards_run_instances(sdk: Sdk) -> None:
    role = _name("role")
    create_role(sdk, role)
    user = sdk.new_user("AliyunECSFullAccess")
    with pytest.raises(ClientException) as caught:
        run_instances(user, 1, ram_role_name=role)
    assert caught.value.code == "InvalidUser.PassRoleForbidden"
    assert run_instances(user, 1)  # without a role, ECS access suffices
    _grant(sdk, user, allow("ram:PassRole", _role_arn(sdk, role)))
    ids = run_instances(user, 1, ram_role_name=role)
    assert bindings(sdk, ids) == {ids[0]: role}


def test_pass_role_condition_on_the_service(sdk: Sdk) -> None:
    role = _name("role")
    create_role(sdk, role)
    user = sdk.new_user("AliyunECSFullAccess")
    document = {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "ram:PassRole",
                "Resource": "*",
                "Condition": {"StringEquals": {"acs:Service": "ecs.aliyuncs.com"}},
            }
        ],
    }
    _grant(sdk, user, json.dumps(document))
    assert attach(user, role, run_instances(sdk, 1))["FailCount"] == 0


def test_explicit_deny_on_one_instance(sdk: Sdk) -> None:
    role = _name("role")
    create_role(sdk, role)
    denied, allowed = run_instances(sdk, 2)
    user = sdk.new_user("AliyunECSFullAccess")
    _grant(sdk, user, allow("ram:PassRole", _role_arn(sdk, role)))
    _grant(sdk, user, allow("ecs:AttachInstanceRamRole", _instance_arn(sdk, denied), effect="Deny"))

    response = _raw_attach(user, role, [denied])
    assert (response.status, response.code) == (403, "Forbidden.RAM")
    detail = response.json["AccessDeniedDetail"]
    assert detail["AuthAction"] == "ecs:AttachInstanceRamRole"
    assert detail["NoPermissionType"] == "ExplicitDeny"
    assert detail["AuthPrincipalType"] == "SubUser"
    assert detail["AuthPrincipalOwnerId"] == sdk.account_id
    assert detail["AuthPrincipalDisplayName"] == user.user_name
    # A batch that includes the denied instance is refused whole.
    assert _raw_attach(user, role, [allowed, denied]).code == "Forbidden.RAM"
    assert bindings(sdk, [denied, allowed]) == {}
    assert attach(user, role, [allowed])["FailCount"] == 0
    assert bindings(sdk, [denied, allowed]) == {allowed: role}


# --- read-only and missing permissions ----------------------------------------------------------


def test_read_only_user_can_describe_but_not_change(sdk: Sdk) -> None:
    role = _name("role")
    create_role(sdk, role)
    ids = run_instances(sdk, 2)
    attach(sdk, role, ids[:1])
    reader = sdk.new_user("AliyunECSReadOnlyAccess")

    assert bound_to(reader, role) == ids[:1]
    body = reader.tea_ecs().describe_instances(ecs_models.DescribeInstancesRequest(region_id=REGION)).body
    assert body.total_count == 2

    for action, params in (
        ("AttachInstanceRamRole", {"RamRoleName": role, "InstanceIds": json.dumps(ids[1:])}),
        ("DetachInstanceRamRole", {"InstanceIds": json.dumps(ids[:1])}),
    ):
        response = reader.raw().v1(action, {"RegionId": REGION, **params})
        assert (response.status, response.code) == (403, "Forbidden.RAM"), response.body
        assert response.json["AccessDeniedDetail"]["NoPermissionType"] == "ImplicitDeny"
    assert bindings(sdk, ids) == {ids[0]: role}


def test_denial_through_tea_carries_access_denied_detail(sdk: Sdk) -> None:
    reader = sdk.new_user("AliyunECSReadOnlyAccess")
    with pytest.raises(ClientException) as caught:
        run_instances(reader, 1)
    assert caught.value.code == "Forbidden.RAM"
    assert caught.value.access_denied_detail["AuthAction"] == "ecs:RunInstances"


def test_user_without_policies_is_denied_everything(sdk: Sdk) -> None:
    nobody = sdk.new_user()
    assert nobody.raw().v1("DescribeInstances", {"RegionId": REGION}).code == "Forbidden.RAM"
    response = nobody.raw().v1("ListRoles", version=RAM)
    assert (response.status, response.code) == (403, "NoPermission")
    assert response.json["AccessDeniedDetail"]["AuthAction"] == "ram:ListRoles"
    # DescribeRegions needs ecs:DescribeRegions too.
    assert nobody.raw().v1("DescribeRegions").code == "Forbidden.RAM"


def test_ram_read_only_user(sdk: Sdk) -> None:
    create_role(sdk, _name("role"))
    reader = sdk.new_user("AliyunRAMReadOnlyAccess")
    assert reader.tea_ram().list_roles(ram_models.ListRolesRequest()).body.roles.role
    trust = '{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":"ecs.aliyuncs.com"}}]}'
    response = reader.raw().v1("CreateRole", {"RoleName": "x", "AssumeRolePolicyDocument": trust}, version=RAM)
    assert (response.status, response.code) == (403, "NoPermission")
    assert response.json["AccessDeniedDetail"]["AuthAction"] == "ram:CreateRole"


def test_administrator_can_do_everything_in_its_account(sdk: Sdk) -> None:
    admin = sdk.new_user("AdministratorAccess")
    role = _name("role")
    create_role(admin, role)
    ids = run_instances(admin, 1)
    assert attach(admin, role, ids)["FailCount"] == 0  # AdministratorAccess includes ram:PassRole
    assert bindings(sdk, ids) == {ids[0]: role}


def test_group_policies_apply_to_members(sdk: Sdk) -> None:
    user = sdk.new_user()
    group = _name("group")
    ram = sdk.tea_ram()
    ram.create_group(ram_models.CreateGroupRequest(group_name=group))
    ram.add_user_to_group(ram_models.AddUserToGroupRequest(group_name=group, user_name=user.user_name))
    assert user.raw().v1("DescribeInstances", {"RegionId": REGION}).code == "Forbidden.RAM"
    request = ram_models.AttachPolicyToGroupRequest(
        policy_type="System", policy_name="AliyunECSReadOnlyAccess", group_name=group
    )
    ram.attach_policy_to_group(request)
    assert user.raw().v1("DescribeInstances", {"RegionId": REGION}).status == 200
    ram.remove_user_from_group(ram_models.RemoveUserFromGroupRequest(group_name=group, user_name=user.user_name))
    assert user.raw().v1("DescribeInstances", {"RegionId": REGION}).code == "Forbidden.RAM"


def test_source_ip_condition(sdk: Sdk) -> None:
    user = sdk.new_user()
    statement: dict[str, Any] = {"Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"}
    elsewhere = {**statement, "Condition": {"IpAddress": {"acs:SourceIp": "192.0.2.0/24"}}}
    _grant(sdk, user, json.dumps({"Version": "1", "Statement": [elsewhere]}))
    assert user.raw().v1("DescribeInstances", {"RegionId": REGION}).code == "Forbidden.RAM"
    # The source address is the connection's: a forwarded-for header cannot claim another.
    spoofed = user.raw(extra_headers={"X-Forwarded-For": "192.0.2.7", "X-Real-IP": "192.0.2.7"})
    assert spoofed.v1("DescribeInstances", {"RegionId": REGION}).code == "Forbidden.RAM"
    here = {**statement, "Condition": {"IpAddress": {"acs:SourceIp": ["127.0.0.0/8", "::1"]}}}
    _grant(sdk, user, json.dumps({"Version": "1", "Statement": [here]}))
    assert user.raw().v1("DescribeInstances", {"RegionId": REGION}).status == 200


def test_secure_transport_condition_denies_plain_http(sdk: Sdk) -> None:
    user = sdk.new_user("AliyunECSReadOnlyAccess")
    deny = {
        "Effect": "Deny",
        "Action": "ecs:*",
        "Resource": "*",
        "Condition": {"Bool": {"acs:SecureTransport": "false"}},
    }
    _grant(sdk, user, json.dumps({"Version": "1", "Statement": [deny]}))
    response = user.raw().v1("DescribeInstances", {"RegionId": REGION})
    assert response.code == "Forbidden.RAM"
    assert response.json["AccessDeniedDetail"]["NoPermissionType"] == "ExplicitDeny"


def test_policy_version_changes_take_effect_at_once(sdk: Sdk) -> None:
    user = sdk.new_user()
    policy = _name("policy")
    create_policy(sdk, policy, allow("ecs:DescribeInstances"))
    ram = sdk.tea_ram()
    request = ram_models.AttachPolicyToUserRequest(policy_type="Custom", policy_name=policy, user_name=user.user_name)
    ram.attach_policy_to_user(request)
    assert user.raw().v1("DescribeInstances", {"RegionId": REGION}).status == 200
    version = ram_models.CreatePolicyVersionRequest(
        policy_name=policy, policy_document=allow("ecs:RunInstances"), set_as_default=True
    )
    ram.create_policy_version(version)
    assert user.raw().v1("DescribeInstances", {"RegionId": REGION}).code == "Forbidden.RAM"
    ram.set_default_policy_version(ram_models.SetDefaultPolicyVersionRequest(policy_name=policy, version_id="v1"))
    assert user.raw().v1("DescribeInstances", {"RegionId": REGION}).status == 200


# --- keys -------------------------------------------------------------------------------------


def test_deactivated_and_deleted_user_keys(sdk: Sdk) -> None:
    user = sdk.new_user("AliyunECSReadOnlyAccess")
    ram = sdk.tea_ram()
    assert user.raw().v1("DescribeInstances", {"RegionId": REGION}).status == 200
    update = ram_models.UpdateAccessKeyRequest(
        user_name=user.user_name, user_access_key_id=user.key.access_key_id, status="Inactive"
    )
    ram.update_access_key(update)
    response = user.raw().v1("DescribeInstances", {"RegionId": REGION})
    assert (response.status, response.code) == (400, "InvalidAccessKeyId.Inactive")
    update.status = "Active"
    ram.update_access_key(update)
    assert user.raw().v1("DescribeInstances", {"RegionId": REGION}).status == 200
    ram.delete_access_key(
        ram_models.DeleteAccessKeyRequest(user_name=user.user_name, user_access_key_id=user.key.access_key_id)
    )
    response = user.raw().v1("DescribeInstances", {"RegionId": REGION})
    assert (response.status, response.code) == (404, "InvalidAccessKeyId.NotFound")


def test_user_manages_its_own_keys_without_user_name(sdk: Sdk) -> None:
    user = sdk.new_user("AliyunRAMFullAccess")
    listed = (
        user.tea_ram().list_access_keys(ram_models.ListAccessKeysRequest()).body.to_map()["AccessKeys"]["AccessKey"]
    )
    assert [k["AccessKeyId"] for k in listed] == [user.key.access_key_id]
    second = user.tea_ram().create_access_key(ram_models.CreateAccessKeyRequest()).body.access_key
    assert second.access_key_secret and second.status == "Active"
    with pytest.raises(ClientException) as caught:
        user.tea_ram().create_access_key(ram_models.CreateAccessKeyRequest())
    assert caught.value.code == "LimitExceeded.User.AccessKey"


# --- account isolation ----------------------------------------------------------------------------


def test_administrator_of_another_account_sees_and_touches_nothing(sdk: Sdk) -> None:
    role = _name("role")
    create_role(sdk, role)
    ids = run_instances(sdk, 1)
    attach(sdk, role, ids)
    intruder = sdk.other_account().new_user("AdministratorAccess")

    assert intruder.tea_ram().list_roles(ram_models.ListRolesRequest()).body.roles.role == []
    assert intruder.raw().v1("GetRole", {"RoleName": role}, version=RAM).code == "EntityNotExist.Role"
    body = intruder.tea_ecs().describe_instances(ecs_models.DescribeInstancesRequest(region_id=REGION)).body
    assert body.total_count == 0
    for action, params in (
        ("DescribeInstanceRamRole", {"InstanceIds": json.dumps(ids)}),
        ("DetachInstanceRamRole", {"InstanceIds": json.dumps(ids)}),
        ("AttachInstanceRamRole", {"InstanceIds": json.dumps(ids), "RamRoleName": role}),
    ):
        response = intruder.raw().v1(action, {"RegionId": REGION, **params})
        assert response.status == 404, response.body
    assert (
        intruder.raw().v1("DeleteInstance", {"InstanceId": ids[0], "Force": "true"}).code
        == "InvalidInstanceId.NotFound"
    )
    assert bindings(sdk, ids) == {ids[0]: role}


def test_users_of_another_account_are_invisible(sdk: Sdk) -> None:
    user = sdk.new_user()
    other = sdk.other_account()
    response = other.raw().v1("GetUser", {"UserName": user.user_name}, version=RAM)
    assert response.code == "EntityNotExist.User"
    response = other.raw().v1(
        "UpdateAccessKey",
        {"UserName": user.user_name, "UserAccessKeyId": user.key.access_key_id, "Status": "Inactive"},
        version=RAM,
    )
    assert response.code == "EntityNotExist.User"
    assert user.raw().v1("DescribeRegions").code == "Forbidden.RAM"  # still a valid, active key
