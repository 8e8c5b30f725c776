"""Replays of what `aliyun/terraform-provider-alicloud` sends for the resources of the instance
RAM role feature: create, read, update, import (a read from the ID alone), destroy, and the read
after destroy that must come back as the tool's "not found".

Every call goes out as the provider sends it (``tests/compat/wire.py``: tea-rpc for ``RpcPost``
and ``conn.DoRequest``, alibaba-cloud-sdk-go for ``WithEcsClient``/``WithRamClient``), and the
assertions are on the fields the provider reads (its jsonpath or struct field) and on the error
codes it special-cases. No Terraform binary runs here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ecsram.testing.plugin import ECS_TRUST_POLICY, IMAGE, INSTANCE_TYPE, REGION
from ecsram.testing.server import ServerProcess
from tests.compat.conftest import metadata_get, unique
from tests.compat.wire import ECS, RAM, GoSdkRpc, TeaRpc, ToolResponse, terraform_trust_document
from tests.conftest import Sdk
from tests.support.ecs import create_role

READ_ONLY = '{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:Describe*","Resource":"*"}]}'


def ok(response: ToolResponse) -> dict[str, Any]:
    assert response.ok, (response.status, response.body)
    return response.body


def jsonpath_first(document: dict[str, Any], *path: str) -> Any:
    """``jsonpath.Get("$.A.B[0].C")`` as the provider evaluates it: a missing key is an error."""
    value: Any = document
    for step in path:
        value = value[int(step)] if step.isdigit() else value[step]
    return value


# --- alicloud_ram_role ---------------------------------------------------------------------


def _describe_ram_role(tf: TeaRpc, role_id: str) -> dict[str, Any] | None:
    """service_alicloud_ram_v2.go ``DescribeRamRole``: GetRole; ``EntityNotExist.Role`` (or a 404)
    is "not found" (None), any other error fails the read."""
    response = tf.ram("GetRole", {"RoleName": role_id})
    if response.terraform_not_found("EntityNotExist.Role"):
        return None
    role: dict[str, Any] = ok(response)["Role"]
    return role


def _ram_role_read(tf: TeaRpc, role_id: str) -> dict[str, Any] | None:
    """resource_alicloud_ram_role.go ``resourceAliCloudRamRoleRead``: the attributes it sets."""
    role = _describe_ram_role(tf, role_id)
    if role is None:
        return None
    document = json.loads(role["AssumeRolePolicyDocument"])
    principal = document["Statement"][0]["Principal"]
    tags = ok(tf.ram("ListTagResources", {"ResourceType": "role", "ResourceNames": json.dumps([role_id])}))
    return {
        "arn": role["Arn"],
        "assume_role_policy_document": role["AssumeRolePolicyDocument"],
        "create_time": role["CreateDate"],
        "description": role.get("Description"),
        "max_session_duration": role["MaxSessionDuration"],
        "role_id": role["RoleId"],
        "role_name": role["RoleName"],
        "version": document["Version"],
        "ram_users": principal.get("RAM"),
        "services": principal.get("Service"),
        "tags": {item["TagKey"]: item["TagValue"] for item in tags["TagResources"]},
    }


def _ram_role_delete(tf: TeaRpc, role_id: str, *, force: bool) -> ToolResponse:
    """resource_alicloud_ram_role.go ``resourceAliCloudRamRoleDelete``: with ``force``,
    ListPoliciesForRole then DetachPolicyFromRole for each, then DeleteRole."""
    if force:
        listed = tf.ram("ListPoliciesForRole", {"RoleName": role_id})
        if listed.terraform_not_found("EntityNotExist.Role"):
            return listed
        for policy in jsonpath_first(ok(listed), "Policies", "Policy"):
            detach = {"RoleName": role_id, "PolicyName": policy["PolicyName"], "PolicyType": policy["PolicyType"]}
            ok(tf.ram("DetachPolicyFromRole", detach))
    return tf.ram("DeleteRole", {"RoleName": role_id})


def test_ram_role_lifecycle(terraform: TeaRpc) -> None:
    """resource_alicloud_ram_role.go (Create, Read, Update, Delete with and without ``force``) and
    service_alicloud_ram_v2.go ``DescribeRamRole``: the document built from ``services`` with an
    empty ``ram_users`` (``"RAM":[]``), ``tags`` as the JSON ``Tag`` parameter."""
    name = unique("tf-role")
    document = terraform_trust_document(["ecs.aliyuncs.com"], [])
    assert '"RAM":[]' in document
    created = ok(
        terraform.ram(
            "CreateRole",
            {
                "RoleName": name,
                "Description": "made by terraform",
                "MaxSessionDuration": 3600,
                "Tag": json.dumps([{"Key": "env", "Value": "test"}]),
                "AssumeRolePolicyDocument": document,
            },
        )
    )
    role_id = str(created["Role"]["RoleName"])  # d.SetId(fmt.Sprint(responseRole["RoleName"]))
    assert role_id == name

    state = _ram_role_read(terraform, role_id)
    assert state is not None
    assert state["arn"].endswith(f":role/{name}") and state["arn"].startswith("acs:ram::")
    assert state["role_id"] and state["create_time"].endswith("Z")
    assert (state["description"], state["max_session_duration"]) == ("made by terraform", 3600)
    assert (state["ram_users"], state["services"], state["version"]) == ([], ["ecs.aliyuncs.com"], "1")
    assert state["tags"] == {"env": "test"}

    # Update: UpdateRole with the New* parameters, then the tags (SetResourceTags, ResourceType=role).
    new_document = terraform_trust_document(["ecs.aliyuncs.com", "oos.aliyuncs.com"], [])
    ok(
        terraform.ram(
            "UpdateRole",
            {
                "RoleName": role_id,
                "NewDescription": "changed",
                "NewMaxSessionDuration": 7200,
                "NewAssumeRolePolicyDocument": new_document,
            },
        )
    )
    names = json.dumps([role_id])
    ok(terraform.ram("UntagResources", {"ResourceType": "role", "ResourceNames": names, "TagKeys": '["env"]'}))
    ok(
        terraform.ram(
            "TagResources",
            {"ResourceType": "role", "ResourceNames": names, "Tag": json.dumps([{"Key": "team", "Value": "ops"}])},
        )
    )

    # Import: `terraform import alicloud_ram_role.x <name>` reads with the ID alone.
    imported = _ram_role_read(terraform, role_id)
    assert imported is not None
    assert (imported["description"], imported["max_session_duration"]) == ("changed", 7200)
    assert sorted(imported["services"]) == ["ecs.aliyuncs.com", "oos.aliyuncs.com"]
    assert imported["tags"] == {"team": "ops"}
    assert (imported["arn"], imported["role_id"], imported["create_time"]) == (
        state["arn"],
        state["role_id"],
        state["create_time"],
    )

    # A policy attached: without force the delete is DeleteConflict.Role.Policy (409), which the
    # provider retries until its timeout; with force it detaches first.
    ok(
        terraform.ram(
            "AttachPolicyToRole", {"PolicyType": "System", "PolicyName": "AliyunECSReadOnlyAccess", "RoleName": role_id}
        )
    )
    refused = _ram_role_delete(terraform, role_id, force=False)
    assert (refused.status, refused.code) == (409, "DeleteConflict.Role.Policy")
    ok(_ram_role_delete(terraform, role_id, force=True))

    assert _ram_role_read(terraform, role_id) is None
    gone = terraform.ram("GetRole", {"RoleName": role_id})
    assert (gone.status, gone.code) == (404, "EntityNotExist.Role")
    # A destroy of what is already gone: EntityNotExist.Role counts as done, on both paths.
    assert _ram_role_delete(terraform, role_id, force=True).terraform_not_found("EntityNotExist.Role")
    assert _ram_role_delete(terraform, role_id, force=False).terraform_not_found("EntityNotExist.Role")


# --- alicloud_ram_role_policy_attachment ---------------------------------------------------


def _policy_attachment_read(go: GoSdkRpc, attachment_id: str) -> dict[str, str] | None:
    """resource_alicloud_ram_role_policy_attachment.go ``...Read`` (RamService
    ``DescribeRamRolePolicyAttachment``): ListPoliciesForRole, the entry with the ID's name and type."""
    _, policy_name, policy_type, role_name = attachment_id.split(":")
    response = go.call(RAM, "ListPoliciesForRole", {"RoleName": role_name})
    if response.terraform_not_found("EntityNotExist.Role"):
        return None
    for policy in jsonpath_first(ok(response), "Policies", "Policy"):
        if (policy["PolicyName"], policy["PolicyType"]) == (policy_name, policy_type):
            return {"role_name": role_name, "policy_name": policy["PolicyName"], "policy_type": policy["PolicyType"]}
    return None


def test_ram_role_policy_attachment(sdk: Sdk, terraform_go_sdk: GoSdkRpc) -> None:
    """resource_alicloud_ram_role_policy_attachment.go (Create: AttachPolicyToRole, ID
    ``role:<policy_name>:<policy_type>:<role_name>``; Read; Delete: DetachPolicyFromRole,
    tolerating EntityNotExist*), sent by alibaba-cloud-sdk-go's ``ram`` client."""
    role = unique("tf-attach")
    create_role(sdk, role)
    go = terraform_go_sdk
    for policy_name, policy_type in (("AliyunECSReadOnlyAccess", "System"), (unique("custom"), "Custom")):
        if policy_type == "Custom":
            ok(go.call(RAM, "CreatePolicy", {"PolicyName": policy_name, "PolicyDocument": READ_ONLY}))
        ok(go.call(RAM, "AttachPolicyToRole", {"PolicyType": policy_type, "PolicyName": policy_name, "RoleName": role}))
        attachment_id = ":".join(["role", policy_name, policy_type, role])
        assert _policy_attachment_read(go, attachment_id) == {
            "role_name": role,
            "policy_name": policy_name,
            "policy_type": policy_type,
        }
        # Import reads the same ID; a second attach is refused, not duplicated.
        again = go.call(
            RAM, "AttachPolicyToRole", {"PolicyType": policy_type, "PolicyName": policy_name, "RoleName": role}
        )
        assert again.code == "EntityAlreadyExists.Role.Policy", again.body
        ok(
            go.call(
                RAM, "DetachPolicyFromRole", {"PolicyType": policy_type, "PolicyName": policy_name, "RoleName": role}
            )
        )
        assert _policy_attachment_read(go, attachment_id) is None
        twice = go.call(
            RAM, "DetachPolicyFromRole", {"PolicyType": policy_type, "PolicyName": policy_name, "RoleName": role}
        )
        assert not twice.ok and str(twice.code).startswith("EntityNotExist"), twice.body
    ok(go.call(RAM, "DeleteRole", {"RoleName": role}))
    assert _policy_attachment_read(go, ":".join(["role", "AliyunECSReadOnlyAccess", "System", role])) is None


# --- alicloud_ecs_ram_role_attachment ------------------------------------------------------


def _run_instance(tf: TeaRpc, **extra: object) -> str:
    body: dict[str, object] = {
        "RegionId": REGION,
        "ImageId": IMAGE,
        "InstanceType": INSTANCE_TYPE,
        "SecurityGroupIds.1": "sg-tf000001",
        "VSwitchId": "vsw-tf000001",
        "IoOptimized": "optimized",
        "ClientToken": unique("TF-RunInstances"),
        **extra,
    }
    created = ok(tf.ecs("RunInstances", body))
    instance_id: str = created["InstanceIdSets"]["InstanceIdSet"][0]
    return instance_id


def _describe_ecs_ram_role_attachment(tf: TeaRpc, attachment_id: str) -> dict[str, Any] | None:
    """service_alicloud_ecs_v2.go ``DescribeEcsRamRoleAttachment``: DescribeInstanceRamRole with
    ``InstanceIds`` (one) and ``RamRoleName``; ``InvalidRamRole.NotFound``, an empty set or a nil
    ``RamRoleName`` are "not found"."""
    instance_id, role_name = attachment_id.split(":")
    response = tf.ecs(
        "DescribeInstanceRamRole",
        {"InstanceIds": json.dumps([instance_id]), "RamRoleName": role_name, "RegionId": REGION},
    )
    if response.terraform_not_found("InvalidRamRole.NotFound"):
        return None
    items = jsonpath_first(ok(response), "InstanceRamRoleSets", "InstanceRamRoleSet")
    if not items or items[0].get("RamRoleName") is None:
        return None
    item: dict[str, Any] = items[0]
    return item


def test_ecs_ram_role_attachment(sdk: Sdk, terraform: TeaRpc) -> None:
    """resource_alicloud_ecs_ram_role_attachment.go (Create: AttachInstanceRamRole, ID
    ``$.AttachInstanceRamRoleResults.AttachInstanceRamRoleResult[0].InstanceId`` + ``:`` + the
    top-level ``RamRoleName``; Read; Delete: DetachInstanceRamRole, a 404 counts as done)."""
    role = unique("tf-ecs-role")
    create_role(sdk, role)
    instance = _run_instance(terraform)
    attached = ok(
        terraform.ecs(
            "AttachInstanceRamRole",
            {"RamRoleName": role, "InstanceIds": json.dumps([instance]), "RegionId": REGION, "Policy": READ_ONLY},
        )
    )
    first = jsonpath_first(attached, "AttachInstanceRamRoleResults", "AttachInstanceRamRoleResult", "0", "InstanceId")
    attachment_id = f"{first}:{attached['RamRoleName']}"
    assert attachment_id == f"{instance}:{role}"

    state = _describe_ecs_ram_role_attachment(terraform, attachment_id)
    assert state is not None and (state["InstanceId"], state["RamRoleName"]) == (instance, role)
    # Import: the same read from the ID alone (terraform import ... <instance>:<role>).
    assert _describe_ecs_ram_role_attachment(terraform, attachment_id) == state

    instance_id, role_name = attachment_id.split(":")
    detach = {"RamRoleName": role_name, "InstanceIds": json.dumps([instance_id]), "RegionId": REGION}
    ok(terraform.ecs("DetachInstanceRamRole", detach))
    # After destroy: the instance has no role, the set is empty, the resource is gone.
    assert _describe_ecs_ram_role_attachment(terraform, attachment_id) is None
    # The role itself gone: InvalidRamRole.NotFound, which the read special-cases.
    unknown = terraform.ecs(
        "DescribeInstanceRamRole",
        {"InstanceIds": json.dumps([instance]), "RamRoleName": unique("nobody"), "RegionId": REGION},
    )
    assert unknown.code == "InvalidRamRole.NotFound", unknown.body
    assert _describe_ecs_ram_role_attachment(terraform, f"{instance}:{unique('nobody')}") is None
    # Destroying twice: whatever ecsram answers is either success or a not-found, never a failure.
    again = terraform.ecs("DetachInstanceRamRole", detach)
    assert again.ok or again.terraform_not_found(), again.body


# --- alicloud_instance (role_name) ---------------------------------------------------------


def _instance_read(tf: TeaRpc, go: GoSdkRpc, instance_id: str) -> dict[str, Any] | None:
    """resource_alicloud_instance.go ``resourceAliCloudInstanceRead`` with service_alicloud_ecs.go
    ``DescribeInstance`` (an empty list is "not found"), ``DescribeInstanceSystemDisk``,
    ``DescribeInstanceAttribute``, the primary ENI, DescribeUserData, DescribeInstanceRamRole and
    (newer releases) DescribeInstanceMaintenanceAttributes."""
    described = ok(
        tf.ecs(
            "DescribeInstances",
            {
                "RegionId": REGION,
                "InstanceIds": json.dumps([instance_id]),
                "AdditionalAttributes.1": "META_OPTIONS",
                "AdditionalAttributes.2": "DDH_CLUSTER",
                "AdditionalAttributes.3": "NETWORK_PRIMARY_ENI_IP",
            },
        )
    )
    instances = described["Instances"]["Instance"]
    if len(instances) < 1:
        return None
    instance = instances[0]
    disks = ok(go.call(ECS, "DescribeDisks", {"InstanceId": instance_id, "DiskType": "system", "RegionId": REGION}))
    disk = disks["Disks"]["Disk"][0]
    assert disk["InstanceId"] == instance_id  # len(...) < 1 || Disk[0].InstanceId != id: not found
    attribute = ok(go.call(ECS, "DescribeInstanceAttribute", {"InstanceId": instance_id, "RegionId": REGION}))
    assert attribute["InstanceId"] == instance_id
    primary = [eni for eni in instance["NetworkInterfaces"]["NetworkInterface"] if eni["Type"] == "Primary"]
    eni = ok(
        tf.ecs(
            "DescribeNetworkInterfaces",
            {"RegionId": REGION, "NetworkInterfaceId.1": primary[0]["NetworkInterfaceId"]},
        )
    )["NetworkInterfaceSets"]["NetworkInterfaceSet"][0]
    user_data = ok(go.call(ECS, "DescribeUserData", {"InstanceId": instance_id, "RegionId": REGION}))
    roles = ok(go.call(ECS, "DescribeInstanceRamRole", {"InstanceIds": json.dumps([instance_id]), "RegionId": REGION}))
    role_set = roles["InstanceRamRoleSets"]["InstanceRamRoleSet"]
    maintenance = ok(tf.ecs("DescribeInstanceMaintenanceAttributes", {"RegionId": REGION, "InstanceId.1": instance_id}))
    attribute_set = maintenance["MaintenanceAttributes"]["MaintenanceAttribute"][0]
    return {
        "instance_name": instance["InstanceName"],
        "status": instance["Status"],
        "vswitch_id": instance["VpcAttributes"]["VSwitchId"],
        "security_groups": instance["SecurityGroupIds"]["SecurityGroupId"],
        "tags": {tag["TagKey"]: tag["TagValue"] for tag in instance["Tags"]["Tag"]},
        "http_endpoint": instance["MetadataOptions"]["HttpEndpoint"],
        "system_disk_category": disk["Category"],
        "system_disk_id": disk["DiskId"],
        "primary_ip_address": eni["PrivateIpAddress"],
        "queue_pair_number": eni["QueuePairNumber"],
        "enable_jumbo_frame": attribute["EnableJumboFrame"],
        "user_data": user_data["UserData"],
        # Only set when the set has an item: an unattached instance leaves role_name as it was.
        "role_name": role_set[0]["RamRoleName"] if role_set else None,
        "maintenance_time": attribute_set["MaintenanceWindows"]["MaintenanceWindow"],
        "maintenance_action": attribute_set["ActionOnMaintenance"]["Value"],
        "maintenance_notify": attribute_set["NotifyOnMaintenance"],
    }


def test_instance_with_role_name(sdk: Sdk, terraform: TeaRpc, terraform_go_sdk: GoSdkRpc) -> None:
    """resource_alicloud_instance.go: Create (RunInstances with ``RamRoleName``,
    ``SecurityGroupIds.N``, ``Tag.N.Key/Value``, a ``TF-`` ClientToken; the ID is
    ``InstanceIdSets.InstanceIdSet[0]``), Read, Update (``role_name``: Detach then Attach;
    ModifyInstanceAttribute; ModifyInstanceMetadataOptions always with ``HttpEndpoint``), Delete
    (DeleteInstance ``Force=true``; ``InvalidInstanceId.NotFound`` counts as gone)."""
    first_role, second_role = unique("tf-inst-a"), unique("tf-inst-b")
    create_role(sdk, first_role)
    create_role(sdk, second_role)
    instance = _run_instance(
        terraform,
        InstanceName="tf-web",
        RamRoleName=first_role,
        **{"Tag.1.Key": "owner", "Tag.1.Value": "terraform", "SystemDisk.Category": "cloud_essd"},
    )
    state = _instance_read(terraform, terraform_go_sdk, instance)
    assert state is not None
    assert state["role_name"] == first_role
    assert (state["status"], state["vswitch_id"], state["security_groups"]) == (
        "Running",
        "vsw-tf000001",
        ["sg-tf000001"],
    )
    assert state["tags"] == {"owner": "terraform"}
    assert state["system_disk_category"] == "cloud_essd" and state["system_disk_id"].startswith("d-")
    assert state["primary_ip_address"] and state["enable_jumbo_frame"] is False
    assert (state["maintenance_action"], state["maintenance_time"], state["maintenance_notify"]) == (
        "AutoRecover",
        [],
        False,
    )

    # Update role_name: DetachInstanceRamRole of the old, AttachInstanceRamRole of the new.
    ids = json.dumps([instance])
    ok(terraform.ecs("DetachInstanceRamRole", {"RegionId": REGION, "InstanceIds": ids, "RamRoleName": first_role}))
    ok(terraform.ecs("AttachInstanceRamRole", {"RegionId": REGION, "InstanceIds": ids, "RamRoleName": second_role}))
    ok(
        terraform.ecs(
            "ModifyInstanceAttribute", {"InstanceId": instance, "InstanceName": "tf-web-2", "Description": "web server"}
        )
    )
    ok(
        terraform.ecs(
            "ModifyInstanceMetadataOptions",
            {"RegionId": REGION, "InstanceId": instance, "HttpEndpoint": "enabled", "HttpTokens": "required"},
        )
    )
    imported = _instance_read(terraform, terraform_go_sdk, instance)
    assert imported is not None
    assert (imported["role_name"], imported["instance_name"], imported["http_endpoint"]) == (
        second_role,
        "tf-web-2",
        "enabled",
    )

    ok(terraform.ecs("DeleteInstance", {"InstanceId": instance, "Force": True}))
    assert _instance_read(terraform, terraform_go_sdk, instance) is None
    again = terraform.ecs("DeleteInstance", {"InstanceId": instance, "Force": True})
    assert (again.status, again.code) == (404, "InvalidInstanceId.NotFound")


# --- alicloud_ecs_instance_set -------------------------------------------------------------


def test_ecs_instance_set(sdk: Sdk, terraform: TeaRpc) -> None:
    """resource_alicloud_ecs_instance_set.go: Create (RunInstances with ``Amount``), Read
    (DescribeInstances by ID list, DescribeInstanceHistoryEvents), Delete (DeleteInstances with
    ``Force``, tolerating only ``InvalidInstanceIds.NotFound``)."""
    role = unique("tf-set")
    create_role(sdk, role)
    created = ok(
        terraform.ecs(
            "RunInstances",
            {
                "RegionId": REGION,
                "ImageId": IMAGE,
                "InstanceType": INSTANCE_TYPE,
                "SecurityGroupIds.1": "sg-tf000002",
                "VSwitchId": "vsw-tf000002",
                "Amount": 3,
                "RamRoleName": role,
                "ClientToken": unique("TF-InstanceSet"),
            },
        )
    )
    ids = created["InstanceIdSets"]["InstanceIdSet"]
    assert len(ids) == 3
    listed = ok(
        terraform.ecs("DescribeInstances", {"RegionId": REGION, "InstanceIds": json.dumps(ids), "PageSize": 100})
    )
    assert sorted(i["InstanceId"] for i in listed["Instances"]["Instance"]) == sorted(ids)
    events = ok(
        terraform.ecs(
            "DescribeInstanceHistoryEvents",
            {"RegionId": REGION, "InstanceId": ids[0], "InstanceEventCycleStatus.1": "Executing", "PageSize": 100},
        )
    )
    assert events["InstanceSystemEventSet"]["InstanceSystemEventType"] == []
    delete = {"RegionId": REGION, "Force": True, **{f"InstanceId.{n}": i for n, i in enumerate(ids, 1)}}
    ok(terraform.ecs("DeleteInstances", delete))
    gone = ok(terraform.ecs("DescribeInstances", {"RegionId": REGION, "InstanceIds": json.dumps(ids)}))
    assert gone["Instances"]["Instance"] == []
    again = terraform.ecs("DeleteInstances", delete)
    assert (again.status, again.code) == (404, "InvalidInstanceIds.NotFound")


# --- data "alicloud_instances" -------------------------------------------------------------


def test_instances_data_source(sdk: Sdk, terraform: TeaRpc) -> None:
    """data_source_alicloud_instances.go ``dataSourceAlicloudInstancesRead``: DescribeInstances
    (``PageSize=100``), DescribeInstanceRamRole (``PageSize=50``, ``RamRoleName=""``, the IDs
    found), and with ``enable_details`` DescribeUserData, DescribeDisks, DescribeNetworkInterfaces."""
    role = unique("tf-ds")
    create_role(sdk, role)
    with_role = _run_instance(terraform, RamRoleName=role, UserData="IyEvYmluL3NoCmVjaG8gaGk=")
    without_role = _run_instance(terraform)
    found = ok(terraform.ecs("DescribeInstances", {"RegionId": REGION, "PageSize": 100, "PageNumber": 1}))
    ids = sorted(i["InstanceId"] for i in found["Instances"]["Instance"])
    assert ids == sorted([with_role, without_role])
    roles = ok(
        terraform.ecs(
            "DescribeInstanceRamRole",
            {"RegionId": REGION, "InstanceIds": json.dumps(ids), "RamRoleName": "", "PageSize": 50},
        )
    )
    by_instance = {
        item["InstanceId"]: item["RamRoleName"] for item in roles["InstanceRamRoleSets"]["InstanceRamRoleSet"]
    }
    assert by_instance.get(with_role) == role
    assert by_instance.get(without_role, "") == ""
    user_data = ok(terraform.ecs("DescribeUserData", {"RegionId": REGION, "InstanceId": with_role}))
    assert user_data["UserData"] == "IyEvYmluL3NoCmVjaG8gaGk="
    disks = ok(terraform.ecs("DescribeDisks", {"RegionId": REGION, "InstanceId": with_role}))
    assert [d["Type"] for d in disks["Disks"]["Disk"]] == ["system"]
    enis = ok(terraform.ecs("DescribeNetworkInterfaces", {"RegionId": REGION, "InstanceId": with_role}))
    assert enis["NetworkInterfaceSets"]["NetworkInterfaceSet"][0]["InstanceId"] == with_role


# --- errors the provider reads -------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "action"),
    [(ECS, "DescribeInstanceAutoRenewAttribute"), (ECS, "DescribeSecurityGroups"), (RAM, "GetLoginProfile")],
)
def test_unemulated_action_is_never_a_404(terraform: TeaRpc, version: str, action: str) -> None:
    """alicloud/errors.go ``NotFoundError``: any 404 reads as "the resource is gone", so an action
    ecsram does not emulate must fail loudly (``UnsupportedOperation`` 400), never silently
    (resource_alicloud_instance.go reads ``DescribeInstanceAutoRenewAttribute`` for PrePaid
    instances; alicloud_ram_login_profile reads ``GetLoginProfile``)."""
    response = terraform.call(version, action, {"RegionId": REGION})
    assert (response.status, response.code) == (400, "UnsupportedOperation"), response.body
    assert not response.terraform_not_found()
    assert action in response.body["Message"]


# --- the provider's default protocol -------------------------------------------------------


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.support import databases

    directory: Path = tmp_path_factory.mktemp("tf-tls")
    url = databases.fresh_database(tmp_path_factory)
    with ServerProcess(url, tls=True, tls_dir=directory / "tls") as server:
        yield server
    databases.drop_all([url])


def test_terraform_over_https(tls_server: ServerProcess) -> None:
    """The provider's default ``protocol = "HTTPS"`` (tea-rpc client/client.go ``DoRequest``,
    ``request_.Protocol``) with resource_alicloud_ram_role.go Create/Read/Delete: the same
    calls over ``serve --tls``, the client trusting ecsram's CA (``SSL_CERT_FILE`` for Go)."""
    from ecsram.testing.accounts import create_account

    key = create_account(tls_server.database_url)
    tf = TeaRpc(
        tls_server.endpoint,
        protocol="https",
        ssl_context=tls_server.ssl_context(),
        access_key_id=key.access_key_id,
        secret=key.secret,
    )
    name = unique("tf-https")
    ok(tf.ram("CreateRole", {"RoleName": name, "AssumeRolePolicyDocument": ECS_TRUST_POLICY}))
    state = _ram_role_read(tf, name)
    assert state is not None and state["role_name"] == name
    ok(tf.ram("DeleteRole", {"RoleName": name}))
    assert _ram_role_read(tf, name) is None


# --- the provider's ecs_role_name ----------------------------------------------------------


def test_provider_ecs_role_name(instance_with_role: dict[str, Any], sdk: Sdk) -> None:
    """alicloud/connectivity/config.go ``getAuthCredentialByEcsRoleName`` (provider argument
    ``ecs_role_name``): a plain GET of ``http://100.100.100.200/latest/meta-data/ram/
    security-credentials/<role>`` (Go, no proxy: the listener stands for the redirected address),
    ``Code`` exactly ``Success``, then tea-rpc with the STS credential (``SecurityToken`` in the
    query)."""
    listener, role, instance = (
        instance_with_role["listener"],
        instance_with_role["role"],
        instance_with_role["instance"],
    )
    status, body = metadata_get(listener, f"/latest/meta-data/ram/security-credentials/{role}")
    assert status == 200
    document = json.loads(body)
    assert document["Code"] == "Success"
    tf = TeaRpc(
        sdk.endpoint,
        access_key_id=document["AccessKeyId"],
        secret=document["AccessKeySecret"],
        security_token=document["SecurityToken"],
    )
    listed = ok(tf.ecs("DescribeInstances", {"RegionId": REGION, "InstanceIds": json.dumps([instance])}))
    assert [i["InstanceId"] for i in listed["Instances"]["Instance"]] == [instance]
    # Creating a role is outside the instance role's policies: RAM refuses with NoPermission.
    denied = tf.ram("CreateRole", {"RoleName": unique("tf-denied"), "AssumeRolePolicyDocument": ECS_TRUST_POLICY})
    assert (denied.status, denied.code) == (403, "NoPermission"), denied.body
