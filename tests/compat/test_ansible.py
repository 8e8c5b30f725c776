"""Replays of what the Ansible collection `alibaba/alibaba.alicloud` sends through `footmark`:
``ali_ram_role``, ``ali_instance`` with ``ram_role_name``, and the ``ecs_role_name`` credentials.

footmark sends every call with aliyun-python-sdk-core and the product's request classes
(``footmark/connection.py``: ``make_request_new``; ``build_request_params``,
``format_request_kwargs``); ``tests/compat/wire.py`` ``Footmark`` does the same with the same
libraries, adding only the endpoint (the modules offer no endpoint setting: docs/tools.md). No
Ansible runs here.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from ecsram.testing.clients import metadata_proxy_url
from ecsram.testing.plugin import IMAGE, INSTANCE_TYPE
from tests.compat.conftest import unique
from tests.compat.wire import Footmark, FootmarkError
from tests.conftest import Sdk
from tests.support.ecs import create_role

# As a playbook writes it (YAML block scalar): footmark strips blanks and newlines to compare.
PRETTY_TRUST = """{
  "Statement": [
    {
      "Action": "sts:AssumeRole",
      "Effect": "Allow",
      "Principal": {"Service": ["ecs.aliyuncs.com"]}
    }
  ],
  "Version": "1"
}
"""
OTHER_TRUST = '{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["ecs.aliyuncs.com","oos.aliyuncs.com"]}}],"Version":"1"}'


def _squeeze(document: str) -> str:
    return document.replace("\n", "").replace(" ", "")


# --- ali_ram_role --------------------------------------------------------------------------


def _role_exists(ram: Footmark, role_name: str) -> dict[str, Any] | None:
    """plugins/modules/ali_ram_role.py ``role_exists``: ``list_roles()`` (one ListRoles, no
    paging) and the entry whose name matches."""
    listed = ram.call("ListRoles")
    for role in listed["Roles"]["Role"]:
        if role["RoleName"] == role_name:
            found: dict[str, Any] = role
            return found
    return None


def _ali_ram_role(ram: Footmark, state: str, role_name: str, policy: str | None, description: str | None) -> bool:
    """plugins/modules/ali_ram_role.py ``main`` and footmark/ram/ram.py ``Role``: returns
    ``changed``. present: CreateRole if absent, else ``update_policy`` (GetRole, compare without
    blanks, UpdateRole only if different); absent: DeleteRole if present."""
    role = _role_exists(ram, role_name)
    if state == "absent":
        if role is None:
            return False
        ram.call("DeleteRole", role_name=role_name)
        return True
    if role is None:
        created = ram.call(
            "CreateRole", role_name=role_name, assume_role_policy_document=policy, description=description
        )
        assert created["Role"]["RoleName"] == role_name
        return True
    if policy:
        current = ram.call("GetRole", role_name=role_name)["Role"]["AssumeRolePolicyDocument"]
        if _squeeze(policy) != _squeeze(current):
            ram.call("UpdateRole", role_name=role_name, new_assume_role_policy_document=_squeeze(policy))
            return True
    return False


def test_ali_ram_role(footmark_ram: Footmark) -> None:
    """plugins/modules/ali_ram_role.py (present, present again, a new policy, absent, absent
    again) over footmark/ram/connection.py ``list_roles``, ``create_role``, ``get_role``,
    ``update_role``, ``delete_role``."""
    name = unique("ansible-role")
    assert _ali_ram_role(footmark_ram, "present", name, PRETTY_TRUST, "made by ansible") is True
    # The fields the module returns (role.read(): footmark's snake_case of the Role object).
    role = footmark_ram.call("GetRole", role_name=name)["Role"]
    assert role["RoleName"] == name and role["RoleId"] and role["Arn"].endswith(f":role/{name}")
    assert role["CreateDate"].endswith("Z") and role["Description"] == "made by ansible"
    # Stored as sent: the blank-insensitive comparison finds nothing to change on a second run.
    assert _squeeze(role["AssumeRolePolicyDocument"]) == _squeeze(PRETTY_TRUST)
    assert _ali_ram_role(footmark_ram, "present", name, PRETTY_TRUST, None) is False

    assert _ali_ram_role(footmark_ram, "present", name, OTHER_TRUST, None) is True
    assert footmark_ram.call("GetRole", role_name=name)["Role"]["AssumeRolePolicyDocument"] == OTHER_TRUST
    assert _ali_ram_role(footmark_ram, "present", name, OTHER_TRUST, None) is False

    assert _ali_ram_role(footmark_ram, "absent", name, None, None) is True
    assert _role_exists(footmark_ram, name) is None
    assert _ali_ram_role(footmark_ram, "absent", name, None, None) is False
    with pytest.raises(FootmarkError) as gone:
        footmark_ram.call("GetRole", role_name=name)
    assert (gone.value.code, gone.value.status) == ("EntityNotExist.Role", 404)


# --- ali_instance ----------------------------------------------------------------------------


def _describe_instances(ecs: Footmark, **filters: object) -> list[dict[str, Any]]:
    """footmark/ecs/connection.py ``describe_instances``: pages of ``page_size`` (default 10)
    until a short page."""
    page_size = int(str(filters.pop("page_size", 10)))
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        listed = ecs.call("DescribeInstances", page_size=page_size, page_number=page, **filters)
        found.extend(listed["Instances"]["Instance"])
        if len(listed["Instances"]["Instance"]) < page_size:
            return found
        page += 1


def _run_instance(ecs: Footmark, name: str, role: str, security_group: str = "sg-ansible01") -> list[str]:
    """plugins/modules/ali_instance.py ``run_instance`` → footmark ``run_instances``: the keyword
    arguments as the module passes them (defaults included), then DescribeInstances of the IDs."""
    created = ecs.call(
        "RunInstances",
        image_id=IMAGE,
        instance_type=INSTANCE_TYPE,
        security_group_id=security_group,
        zone_id=None,
        instance_name=name,
        description=None,
        internet_charge_type="PayByBandwidth",
        internet_max_bandwidth_out=0,
        internet_max_bandwidth_in=200,
        host_name=None,
        password=None,
        io_optimized="optimized",
        system_disk_category="cloud_efficiency",
        system_disk_size=40,
        system_disk_disk_name=None,
        system_disk_description=None,
        vswitch_id="vsw-ansible01",
        system_disk=None,
        data_disks=[],
        amount=1,
        instance_charge_type=None,
        period=1,
        period_unit="Month",
        auto_renew=False,
        auto_renew_period=None,
        key_pair_name=None,
        user_data=None,
        ram_role_name=role,
        spot_price_limit=None,
        spot_strategy="NoSpot",
        unique_suffix=False,
        tags={"managed-by": "ansible"},
    )
    ids: list[str] = created["InstanceIdSets"]["InstanceIdSet"]
    return ids


def test_ali_instance_with_ram_role_name(sdk: Sdk, footmark_ecs: Footmark) -> None:
    """plugins/modules/ali_instance.py ``main`` (state present: look up by ``instance_name``,
    ``run_instance`` with ``ram_role_name``, ``modify_instance``'s DescribeUserData; state absent:
    footmark ``delete_instances``, one DeleteInstance with ``Force`` per instance, then
    DescribeInstances until none is left)."""
    role = unique("ansible-inst")
    create_role(sdk, role)
    name = unique("ansible-web")
    assert _describe_instances(footmark_ecs, instance_name=name) == []
    ids = _run_instance(footmark_ecs, name, role)
    assert len(ids) == 1
    instances = _describe_instances(footmark_ecs, instance_ids=ids, page_size=100)
    assert [i["InstanceId"] for i in instances] == ids
    instance = instances[0]
    assert (instance["Status"], instance["InstanceName"]) == ("Running", name)
    assert instance["SecurityGroupIds"]["SecurityGroupId"] == ["sg-ansible01"]
    assert {t["TagKey"]: t["TagValue"] for t in instance["Tags"]["Tag"]} == {"managed-by": "ansible"}
    assert footmark_ecs.call("DescribeUserData", instance_id=ids[0])["UserData"] == ""
    # The role given at creation is bound (what the module's ram_role_name is for).
    roles = footmark_ecs.call("DescribeInstanceRamRole", instance_ids=ids)
    assert roles["InstanceRamRoleSets"]["InstanceRamRoleSet"] == [{"InstanceId": ids[0], "RamRoleName": role}]
    # A second run finds the instance by name and creates nothing.
    assert [i["InstanceId"] for i in _describe_instances(footmark_ecs, instance_name=name)] == ids

    for instance_id in ids:
        footmark_ecs.call("DeleteInstance", instance_ids=ids, instance_id=instance_id, force=True)
    assert _describe_instances(footmark_ecs, instance_ids=ids) == []
    with pytest.raises(FootmarkError) as gone:
        footmark_ecs.call("DeleteInstance", instance_id=ids[0], force=True)
    assert (gone.value.code, gone.value.status) == ("InvalidInstanceId.NotFound", 404)


# --- ecs_role_name -----------------------------------------------------------------------------


def test_ecs_role_name_credentials(sdk: Sdk, monkeypatch: pytest.MonkeyPatch) -> None:
    """plugins/module_utils/alicloud_ecs.py ``get_profile`` with ``ecs_role_name``:
    ``requests.get('http://100.100.100.200/latest/meta-data/Ram/security-credentials/' + role)``
    (capital R, no token, no proxy argument: ``requests`` takes ``HTTP_PROXY`` from the
    environment, here ecsram's proxy form), then footmark calls with those credentials."""
    role = unique("ansible-auth")
    create_role(sdk, role)
    from tests.support.ecs import run_instances

    (instance,) = run_instances(sdk, ram_role_name=role)
    sdk.v1_call(_attach_read_only(role))

    monkeypatch.setenv("HTTP_PROXY", metadata_proxy_url(sdk.endpoint, instance, "x"))
    monkeypatch.setenv("NO_PROXY", "")
    answer = requests.get("http://100.100.100.200/latest/meta-data/Ram/security-credentials/" + role, timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert body["Code"] == "Success" and body["AccessKeyId"].startswith("STS.")
    access_key_id, secret, token = body["AccessKeyId"], body["AccessKeySecret"], body["SecurityToken"]
    monkeypatch.delenv("HTTP_PROXY")

    # footmark with the token (make_request_new: StsTokenCredential): authorised by the role's policies.
    ecs = Footmark(sdk.endpoint, access_key_id, secret, "aliyunsdkecs.request.v20140526", security_token=token)
    assert [i["InstanceId"] for i in _describe_instances(ecs, instance_ids=[instance])] == [instance]
    with pytest.raises(FootmarkError) as denied:
        _run_instance(ecs, unique("denied"), role)
    assert (denied.value.code, denied.value.status) == ("Forbidden.RAM", 403)

    # get_profile stores the token as `alicloud_security_token` but get_acs_connection_info reads
    # `security_token`: footmark then signs with the STS AccessKeyId and no token, which the
    # cloud (and ecsram) refuses. The module's ecs_role_name path needs that fixed on its side.
    tokenless = Footmark(sdk.endpoint, access_key_id, secret, "aliyunsdkecs.request.v20140526")
    with pytest.raises(FootmarkError) as refused:
        _describe_instances(tokenless, instance_ids=[instance])
    assert refused.value.code.startswith("InvalidSecurityToken.") and refused.value.status == 400, refused.value


def _attach_read_only(role: str) -> Any:
    from aliyunsdkram.request.v20150501.AttachPolicyToRoleRequest import AttachPolicyToRoleRequest

    request = AttachPolicyToRoleRequest()
    request.set_PolicyType("System")
    request.set_PolicyName("AliyunECSReadOnlyAccess")
    request.set_RoleName(role)
    return request
