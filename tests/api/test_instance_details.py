"""What real tools read of an instance (Terraform's alicloud_instance, alicloud_ecs_instance_set and
data source alicloud_instances): the instance model filled at creation, DescribeInstances and
DescribeInstanceAttribute, ModifyInstanceAttribute, DescribeUserData, DescribeDisks,
DescribeNetworkInterfaces, DescribeInstanceStatus, DescribeInstanceHistoryEvents."""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_tea_openapi.exceptions import ClientException
from aliyunsdkecs.request.v20140526.DescribeDisksRequest import DescribeDisksRequest
from aliyunsdkecs.request.v20140526.DescribeInstanceAttributeRequest import DescribeInstanceAttributeRequest
from aliyunsdkecs.request.v20140526.DescribeInstanceHistoryEventsRequest import (
    DescribeInstanceHistoryEventsRequest,
)
from aliyunsdkecs.request.v20140526.DescribeInstanceStatusRequest import DescribeInstanceStatusRequest
from aliyunsdkecs.request.v20140526.DescribeNetworkInterfacesRequest import DescribeNetworkInterfacesRequest
from aliyunsdkecs.request.v20140526.DescribeUserDataRequest import DescribeUserDataRequest
from aliyunsdkecs.request.v20140526.ModifyInstanceAttributeRequest import ModifyInstanceAttributeRequest

from ecsram.services.ecs import instance_model
from tests.conftest import Sdk
from tests.support.ecs import REGION, allow, run_instances
from tests.support.raw import RawResponse

USER_DATA = base64.b64encode(b"#cloud-config\nruncmd:\n  - echo hello > /tmp/hello\n").decode()
PASSWORD = "Ecsram-Pass1"
IMAGE = "ubuntu_22_04_x64_20G_alibase_20240101.vhd"


def _error(response: RawResponse, status: int, code: str) -> dict[str, Any]:
    assert (response.status, response.code) == (status, code), response.body
    body: dict[str, Any] = response.json
    return body


def _describe_one(sdk: Sdk, instance_id: str) -> dict[str, Any]:
    request = ecs_models.DescribeInstancesRequest(region_id=REGION, instance_ids=json.dumps([instance_id]))
    (instance,) = sdk.tea_ecs().describe_instances(request).body.to_map()["Instances"]["Instance"]
    assert isinstance(instance, dict)
    return instance


def _attribute(sdk: Sdk, instance_id: str) -> dict[str, Any]:
    request = ecs_models.DescribeInstanceAttributeRequest(instance_id=instance_id)
    body: dict[str, Any] = sdk.tea_ecs().describe_instance_attribute(request).body.to_map()
    return body


def _run_detailed(sdk: Sdk, **extra: Any) -> str:
    request = ecs_models.RunInstancesRequest(
        region_id=REGION,
        image_id=IMAGE,
        instance_type="ecs.g7.2xlarge",
        v_switch_id="vsw-details01",
        zone_id="cn-hangzhou-h",
        instance_name="web-1",
        description="the web server",
        host_name="web-1.internal",
        password=PASSWORD,
        user_data=USER_DATA,
        key_pair_name="deploy-key",
        resource_group_id="rg-aek2abcdefgh",
        security_group_ids=["sg-bp1aaaa", "sg-bp1bbbb"],
        instance_charge_type="PostPaid",
        system_disk=ecs_models.RunInstancesRequestSystemDisk(category="cloud_essd", size=80),
        **extra,
    )
    (instance_id,) = sdk.tea_ecs().run_instances(request).body.instance_id_sets.instance_id_set
    return str(instance_id)


def _raw_run(sdk: Sdk, action: str = "RunInstances", **params: str) -> RawResponse:
    base = {"RegionId": REGION, "ImageId": IMAGE, "InstanceType": "ecs.g7.large", "VSwitchId": "vsw-1", **params}
    return sdk.raw().v1(action, {k: v for k, v in base.items() if v is not None})


def _count(sdk: Sdk) -> int:
    total: int = (
        sdk.tea_ecs().describe_instances(ecs_models.DescribeInstancesRequest(region_id=REGION)).body.total_count
    )
    return total


# --- the model, as DescribeInstances and DescribeInstanceAttribute show it -------------------


def test_run_instances_stores_what_tools_read(sdk: Sdk) -> None:
    instance_id = _run_detailed(sdk)
    instance = _describe_one(sdk, instance_id)
    assert (instance["Cpu"], instance["Memory"]) == (8, 32768)
    assert instance["OSName"] == "Ubuntu 22.04 64 bit" and instance["OSType"] == "linux"
    assert instance["ImageId"] == IMAGE and instance["InstanceChargeType"] == "PostPaid"
    assert instance["ExpiredTime"] == "2099-12-31T15:59Z"
    assert (instance["HostName"], instance["InstanceName"], instance["Description"]) == (
        "web-1.internal",
        "web-1",
        "the web server",
    )
    assert instance["KeyPairName"] == "deploy-key" and instance["ResourceGroupId"] == "rg-aek2abcdefgh"
    assert instance["SecurityGroupIds"]["SecurityGroupId"] == ["sg-bp1aaaa", "sg-bp1bbbb"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", instance["SerialNumber"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ", instance["CreationTime"])
    assert instance["StartTime"] == instance["CreationTime"]  # RunInstances starts it at once
    private_ip = instance["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0]
    (interface,) = instance["NetworkInterfaces"]["NetworkInterface"]
    assert interface["Type"] == "Primary" and interface["PrimaryIpAddress"] == private_ip
    assert re.fullmatch(r"eni-[a-z0-9]{20}", interface["NetworkInterfaceId"])
    assert re.fullmatch(r"00:16:3e(:[0-9a-f]{2}){3}", interface["MacAddress"])
    assert interface["PrivateIpSets"]["PrivateIpSet"] == [{"PrivateIpAddress": private_ip, "Primary": True}]
    # The password is accepted and never shown, in any form.
    assert PASSWORD not in json.dumps(instance) and "Password" not in json.dumps(instance)
    # DescribeInstanceAttribute agrees on everything both show.
    attribute = _attribute(sdk, instance_id)
    for key in ("InstanceId", "Cpu", "Memory", "HostName", "SerialNumber", "CreationTime", "VpcAttributes"):
        assert attribute[key] == instance[key], key
    assert attribute["SecurityGroupIds"] == instance["SecurityGroupIds"]
    assert PASSWORD not in json.dumps(attribute)


def test_defaults_and_derived_values(sdk: Sdk) -> None:
    (instance_id,) = run_instances(sdk, 1)
    instance = _describe_one(sdk, instance_id)
    assert (instance["Cpu"], instance["Memory"]) == (2, 8192)
    assert instance["ResourceGroupId"].startswith("rg-acfm")  # the account's default resource group
    assert instance["KeyPairName"] == "" and instance["SecurityGroupIds"]["SecurityGroupId"] == []
    (other_id,) = run_instances(sdk, 1)
    other = _describe_one(sdk, other_id)
    assert other["ResourceGroupId"] == instance["ResourceGroupId"]
    assert other["SerialNumber"] != instance["SerialNumber"]
    # Values are stable from call to call.
    assert _describe_one(sdk, instance_id) == instance
    disks = _disks(sdk, instance_id=instance_id)["Disks"]["Disk"]
    assert [(d["Category"], d["Size"], d["Type"]) for d in disks] == [("cloud_efficiency", 40, "system")]


@pytest.mark.parametrize(
    ("instance_type", "cpu", "memory"),
    [
        ("ecs.c7.large", 2, 4096),
        ("ecs.r7.4xlarge", 16, 131072),
        ("ecs.t6-c1m2.large", 2, 4096),
        ("ecs.ebmg7.32xlarge", 128, 524288),
    ],
)
def test_cpu_and_memory_from_the_instance_type(sdk: Sdk, instance_type: str, cpu: int, memory: int) -> None:
    response = _raw_run(sdk, InstanceType=instance_type)
    assert response.status == 200, response.body
    (instance_id,) = response.json["InstanceIdSets"]["InstanceIdSet"]
    instance = _describe_one(sdk, instance_id)
    assert (instance["Cpu"], instance["Memory"]) == (cpu, memory)


@pytest.mark.parametrize(
    "instance_type",
    [
        "ecs.g7.99999999999999999999xlarge",
        "ecs.g7.129xlarge",
        "ecs.g7.0xlarge",
        "g7.large",
        "ecs.g7.huge",
        "ecs..large",
    ],
)
def test_absurd_instance_types_are_refused(sdk: Sdk, instance_type: str) -> None:
    _error(_raw_run(sdk, InstanceType=instance_type), 403, "InvalidInstanceType.ValueNotSupported")
    _error(_raw_run(sdk, "CreateInstance", InstanceType=instance_type), 404, "InvalidInstanceType.ValueNotSupported")
    assert _count(sdk) == 0


def test_create_instance_has_no_start_time_until_started(sdk: Sdk, server: Any) -> None:
    request = ecs_models.CreateInstanceRequest(
        region_id=REGION,
        image_id="centos_7_9_x64_20G_alibase_20240101.vhd",
        instance_type="ecs.c7.xlarge",
        v_switch_id="vsw-1",
        system_disk=ecs_models.CreateInstanceRequestSystemDisk(category="cloud_auto", size=100),
        instance_charge_type="PrePaid",
    )
    instance_id = sdk.tea_ecs().create_instance(request).body.instance_id
    instance = _describe_one(sdk, instance_id)
    assert instance["StartTime"] == "" and instance["OSName"] == "CentOS 7.9 64 bit"
    assert instance["InstanceChargeType"] == "PrePaid" and instance["ExpiredTime"] > instance["CreationTime"]
    assert instance["ExpiredTime"] != "2099-12-31T15:59Z"
    sdk.tea_ecs().start_instance(ecs_models.StartInstanceRequest(instance_id=instance_id))
    assert _describe_one(sdk, instance_id)["StartTime"] >= instance["CreationTime"]
    (disk,) = _disks(sdk, instance_id=instance_id)["Disks"]["Disk"]
    assert (disk["Category"], disk["Size"], disk["DiskChargeType"]) == ("cloud_auto", 100, "PrePaid")


def test_private_address_lies_in_the_vswitch_block(sdk: Sdk) -> None:
    ids = run_instances(sdk, 5)
    from tests.support.metadata import Metadata

    vswitch_block = Metadata(sdk.endpoint, ids[0]).get("/latest/meta-data/vswitch-cidr-block").text
    assert vswitch_block == instance_model.vswitch_cidrs("vsw-test0001")[1]
    for instance_id in ids:
        (interface,) = _interfaces(sdk, instance_id=instance_id)["NetworkInterfaceSets"]["NetworkInterfaceSet"]
        instance = _describe_one(sdk, instance_id)
        assert interface["PrivateIpAddress"] == instance["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0]
        # run_instances puts them on vsw-test0001: its block (the metadata service shows the same one).
        assert ipaddress.ip_address(interface["PrivateIpAddress"]) in ipaddress.ip_network(vswitch_block)


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"UserData": "not base64!"}, 400, "InvalidUserData.Base64FormatInvalid"),
        ({"UserData": "A" * 32772}, 400, "InvalidUserData.SizeExceeded"),
        ({"UserData": USER_DATA, "VSwitchId": None}, 400, "InvalidUserData.NotSupported"),
        ({"SystemDisk.Category": "floppy"}, 400, "InvalidSystemDiskCategory.ValueNotSupported"),
        ({"SystemDisk.Size": "10"}, 404, "InvalidSystemDiskSize.LessThanMinSize"),
        ({"SystemDisk.Size": "4096"}, 404, "InvalidSystemDiskSize.MoreThanMaxSize"),
        ({"SystemDisk.Size": "600", "SystemDisk.Category": "cloud"}, 404, "InvalidSystemDiskSize.MoreThanMaxSize"),
        ({"SystemDisk.Size": "forty"}, 400, "InvalidSystemDiskSize.ValueNotSupported"),
        ({"SystemDisk.Size": "9" * 30}, 400, "InvalidSystemDiskSize.ValueNotSupported"),
        ({"InstanceChargeType": "Free"}, 404, "InvalidInstanceChargeType.NotFound"),
        ({"KeyPairName": "1bad"}, 404, "InvalidKeyPairName.NotFound"),
        ({"ResourceGroupId": "group-1"}, 404, "InvalidResourceGroup.NotFound"),
        ({"SecurityGroupId": "'; DROP TABLE instances; --"}, 404, "InvalidSecurityGroupId.NotFound"),
        (
            {"SecurityGroupId": "sg-a", "SecurityGroupIds.1": "sg-b"},
            400,
            "InvalidSecurityGroupId.SingleIdAndMultiIdConflict",
        ),
        ({"SecurityGroupIds.1": "sg-a", "SecurityGroupIds.2": "sg-a"}, 400, "InvalidParameter.SecurityGroupIdRepeated"),
        ({"SecurityGroupIds.17": "sg-a"}, 400, "InvalidParameter"),
        ({"Password": "short1A"}, 400, "InvalidPassword.Malformed"),
        ({"Password": "onlylowercase1"}, 400, "InvalidPassword.Malformed"),
        ({"Password": "Has space 12A"}, 400, "InvalidPassword.Malformed"),
        ({"Password": "A1b!" * 8}, 400, "InvalidPassword.Malformed"),
        ({"HostName": "-web"}, 400, "InvalidHostName.Malformed"),
        ({"HostName": "web..1"}, 400, "InvalidHostName.Malformed"),
        ({"HostName": "h" * 65}, 400, "InvalidHostName.Malformed"),
        ({"Description": "https://example.com"}, 403, "InvalidDescription.Malformed"),
        ({"Description": "d" * 257}, 403, "InvalidDescription.Malformed"),
    ],
)
def test_creation_parameter_errors(sdk: Sdk, params: dict[str, str], status: int, code: str) -> None:
    _error(_raw_run(sdk, **params), status, code)
    assert _count(sdk) == 0


def test_create_instance_parameter_errors_use_its_own_statuses(sdk: Sdk) -> None:
    _error(_raw_run(sdk, "CreateInstance", UserData="%%%"), 403, "InvalidUserData.Base64FormatInvalid")
    _error(_raw_run(sdk, "CreateInstance", Description="x"), 403, "InvalidDescription.Malformed")
    assert _count(sdk) == 0


def test_creation_through_the_v1_sdk_with_details(sdk: Sdk) -> None:
    from aliyunsdkecs.request.v20140526.RunInstancesRequest import RunInstancesRequest

    request = RunInstancesRequest()
    request.set_ImageId(IMAGE)
    request.set_InstanceType("ecs.g7.large")
    request.set_VSwitchId("vsw-1")
    request.set_UserData(USER_DATA)
    request.set_SecurityGroupIdss(["sg-v1one"])
    request.set_SystemDiskCategory("cloud_ssd")
    request.set_SystemDiskSize("50")
    request.set_KeyPairName("v1-key")
    (instance_id,) = sdk.v1_call(request)["InstanceIdSets"]["InstanceIdSet"]
    instance = _describe_one(sdk, instance_id)
    assert instance["SecurityGroupIds"]["SecurityGroupId"] == ["sg-v1one"] and instance["KeyPairName"] == "v1-key"
    assert _user_data(sdk, instance_id) == USER_DATA


def test_additional_attributes_are_accepted(sdk: Sdk) -> None:
    (instance_id,) = run_instances(sdk, 1)
    params = {
        "RegionId": REGION,
        "InstanceIds": json.dumps([instance_id]),
        "PageSize": "100",
        "AdditionalAttributes.1": "META_OPTIONS",
        "AdditionalAttributes.2": "DDH_CLUSTER",
        "AdditionalAttributes.3": "NETWORK_PRIMARY_ENI_IP",
    }
    response = sdk.raw().v1("DescribeInstances", params, method="POST", form=True)
    assert response.status == 200 and response.json["TotalCount"] == 1
    _error(sdk.raw().v1("DescribeInstances", {**params, "AdditionalAttributes.6": "X"}), 400, "InvalidParameter")


def test_describe_instances_filters_on_the_new_attributes(sdk: Sdk) -> None:
    detailed = _run_detailed(sdk)
    plain = run_instances(sdk, 1)[0]

    def ids(**filters: str) -> set[str]:
        request = ecs_models.DescribeInstancesRequest(region_id=REGION, **filters)
        return {
            i["InstanceId"] for i in sdk.tea_ecs().describe_instances(request).body.to_map()["Instances"]["Instance"]
        }

    assert ids(resource_group_id="rg-aek2abcdefgh") == {detailed}
    assert ids(key_pair_name="deploy-key") == {detailed}
    assert ids(instance_charge_type="PostPaid") == {detailed, plain}
    assert ids(instance_charge_type="PrePaid") == set()
    assert ids(security_group_id="sg-bp1bbbb") == {detailed}
    assert ids(security_group_id="sg-bp1") == set()  # a whole ID, not a prefix
    assert ids(security_group_id="sg-BP1BBBB") == set()  # IDs are case-sensitive
    assert ids(security_group_id="%") == set()
    _error(
        sdk.raw().v1("DescribeInstances", {"RegionId": REGION, "InstanceChargeType": "X"}),
        404,
        "InvalidInstanceChargeType.NotFound",
    )


def test_describe_instance_attribute_errors(sdk: Sdk) -> None:
    theirs = run_instances(sdk.other_account(), 1)[0]
    body = _error(sdk.raw().v1("DescribeInstanceAttribute", {"InstanceId": theirs}), 404, "InvalidInstanceId.NotFound")
    assert theirs in body["Message"]
    _error(sdk.raw().v1("DescribeInstanceAttribute", {}), 400, "MissingParameter")
    (instance_id,) = run_instances(sdk, 1)
    request = DescribeInstanceAttributeRequest()
    request.set_InstanceId(instance_id)
    body = sdk.v1_call(request)
    assert body["InstanceId"] == instance_id and body["IoOptimized"] == "optimized"


# --- ModifyInstanceAttribute and DescribeUserData ----------------------------------------------


def _user_data(sdk: Sdk, instance_id: str) -> str:
    request = ecs_models.DescribeUserDataRequest(region_id=REGION, instance_id=instance_id)
    body = sdk.tea_ecs().describe_user_data(request).body.to_map()
    assert (body["InstanceId"], body["RegionId"]) == (instance_id, REGION)
    return str(body["UserData"])


def test_modify_instance_attribute(sdk: Sdk) -> None:
    instance_id = _run_detailed(sdk)
    before = _describe_one(sdk, instance_id)
    ecs = sdk.tea_ecs()
    ecs.modify_instance_attribute(
        ecs_models.ModifyInstanceAttributeRequest(
            instance_id=instance_id,
            instance_name="web-2",
            description="renamed",
            host_name="web-2",
            password="New-Pass99",
        )
    )
    after = _describe_one(sdk, instance_id)
    assert (after["InstanceName"], after["Description"], after["HostName"]) == ("web-2", "renamed", "web-2")
    assert {k: v for k, v in after.items() if k not in ("InstanceName", "Description", "HostName")} == {
        k: v for k, v in before.items() if k not in ("InstanceName", "Description", "HostName")
    }
    assert "New-Pass99" not in json.dumps(after) and "New-Pass99" not in json.dumps(_attribute(sdk, instance_id))
    # Only what is given changes.
    ecs.modify_instance_attribute(
        ecs_models.ModifyInstanceAttributeRequest(instance_id=instance_id, description="again")
    )
    assert _describe_one(sdk, instance_id)["InstanceName"] == "web-2"
    # With the v1 SDK.
    request = ModifyInstanceAttributeRequest()
    request.set_InstanceId(instance_id)
    request.set_InstanceName("web-3")
    sdk.v1_call(request)
    assert _attribute(sdk, instance_id)["InstanceName"] == "web-3"


def test_modify_security_groups(sdk: Sdk) -> None:
    instance_id = _run_detailed(sdk)
    params = {"InstanceId": instance_id, "SecurityGroupIds.1": "sg-new1", "SecurityGroupIds.2": "sg-new2"}
    assert sdk.raw().v1("ModifyInstanceAttribute", params).status == 200
    assert _describe_one(sdk, instance_id)["SecurityGroupIds"]["SecurityGroupId"] == ["sg-new1", "sg-new2"]
    (interface,) = _interfaces(sdk, instance_id=instance_id)["NetworkInterfaceSets"]["NetworkInterfaceSet"]
    assert interface["SecurityGroupIds"]["SecurityGroupId"] == ["sg-new1", "sg-new2"]
    repeated = {"InstanceId": instance_id, "SecurityGroupIds.1": "sg-a", "SecurityGroupIds.2": "sg-a"}
    _error(sdk.raw().v1("ModifyInstanceAttribute", repeated), 404, "InvalidParameter.SecurityGroupIdRepeated")
    (classic,) = run_instances(sdk, 1, vpc=False)
    _error(
        sdk.raw().v1("ModifyInstanceAttribute", {"InstanceId": classic, "SecurityGroupIds.1": "sg-a"}),
        400,
        "InvalidNetworkType.NotSupported",
    )


def test_deletion_protection(sdk: Sdk) -> None:
    instance_id = _run_detailed(sdk, deletion_protection=True)
    assert _describe_one(sdk, instance_id)["DeletionProtection"] is True
    ecs = sdk.tea_ecs()
    with pytest.raises(ClientException) as caught:
        ecs.delete_instance(ecs_models.DeleteInstanceRequest(instance_id=instance_id, force=True))
    assert (caught.value.code, caught.value.status_code) == ("InvalidOperation.DeletionProtection", 403)
    params = {"RegionId": REGION, "InstanceId.1": instance_id, "Force": "true"}
    body = _error(sdk.raw().v1("DeleteInstances", params), 403, "InvalidOperation.DeletionProtection")
    assert instance_id in body["Message"]
    ecs.modify_instance_attribute(
        ecs_models.ModifyInstanceAttributeRequest(instance_id=instance_id, deletion_protection=False)
    )
    assert _describe_one(sdk, instance_id)["DeletionProtection"] is False
    ecs.delete_instance(ecs_models.DeleteInstanceRequest(instance_id=instance_id, force=True))
    assert _count(sdk) == 0
    # Only PostPaid instances can be protected.
    _error(
        _raw_run(sdk, DeletionProtection="true", InstanceChargeType="PrePaid"),
        403,
        "InvalidChargeType.ValueNotSupported",
    )
    prepaid = _raw_run(sdk, InstanceChargeType="PrePaid").json["InstanceIdSets"]["InstanceIdSet"][0]
    protect = {"InstanceId": prepaid, "DeletionProtection": "true"}
    _error(sdk.raw().v1("ModifyInstanceAttribute", protect), 403, "InvalidChargeType.ValueNotSupported")


def test_user_data_changes_only_when_stopped(sdk: Sdk) -> None:
    instance_id = _run_detailed(sdk)
    assert _user_data(sdk, instance_id) == USER_DATA
    changed = base64.b64encode(b"#!/bin/sh\necho changed\n").decode()
    params = {"InstanceId": instance_id, "UserData": changed}
    _error(sdk.raw().v1("ModifyInstanceAttribute", params), 403, "IncorrectInstanceStatus")
    sdk.tea_ecs().stop_instance(ecs_models.StopInstanceRequest(instance_id=instance_id))
    assert sdk.raw().v1("ModifyInstanceAttribute", params).status == 200
    request = DescribeUserDataRequest()
    request.set_InstanceId(instance_id)
    assert sdk.v1_call(request)["UserData"] == changed


def test_user_data_is_empty_without_any(sdk: Sdk) -> None:
    (instance_id,) = run_instances(sdk, 1)
    assert _user_data(sdk, instance_id) == ""
    body = _error(
        sdk.raw().v1("DescribeUserData", {"RegionId": "cn-shanghai", "InstanceId": instance_id}),
        404,
        "InvalidInstanceId.NotFound",
    )
    assert instance_id in body["Message"]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"InstanceName": "x"}, 400, "InvalidInstanceName.Malformed"),
        ({"Description": "http://x"}, 400, "InvalidDescription.Malformed"),
        ({"HostName": "a_b"}, 400, "InvalidHostName.Malformed"),
        ({"Password": "password"}, 400, "InvalidPassword.Malformed"),
        ({"UserData": "***"}, 403, "InvalidUserData.Base64FormatInvalid"),
        ({"InstanceId": "i-missing0000000000000"}, 404, "InvalidInstanceId.NotFound"),
    ],
)
def test_modify_instance_attribute_errors(sdk: Sdk, params: dict[str, str], status: int, code: str) -> None:
    (instance_id,) = run_instances(sdk, 1)
    before = _describe_one(sdk, instance_id)
    _error(sdk.raw().v1("ModifyInstanceAttribute", {"InstanceId": instance_id, **params}), status, code)
    assert _describe_one(sdk, instance_id) == before


# --- DescribeDisks ------------------------------------------------------------------------


def _disks(sdk: Sdk, **kwargs: Any) -> dict[str, Any]:
    request = ecs_models.DescribeDisksRequest(region_id=REGION, **kwargs)
    body: dict[str, Any] = sdk.tea_ecs().describe_disks(request).body.to_map()
    return body


def test_each_instance_has_a_system_disk_created_and_deleted_with_it(sdk: Sdk) -> None:
    instance_id = _run_detailed(sdk)
    (disk,) = _disks(sdk, instance_id=instance_id)["Disks"]["Disk"]
    assert re.fullmatch(r"d-[a-z0-9]{20}", disk["DiskId"])
    assert (disk["Type"], disk["Category"], disk["Size"], disk["Status"]) == ("system", "cloud_essd", 80, "In_use")
    assert (disk["InstanceId"], disk["ImageId"], disk["ZoneId"]) == (instance_id, IMAGE, "cn-hangzhou-h")
    assert disk["DeleteWithInstance"] is True and disk["Portable"] is False
    assert disk["Attachments"]["Attachment"][0]["InstanceId"] == instance_id
    assert disk["ResourceGroupId"] == "rg-aek2abcdefgh"
    assert _disks(sdk, disk_ids=json.dumps([disk["DiskId"]]))["Disks"]["Disk"] == [disk]
    assert _disks(sdk, disk_type="data")["TotalCount"] == 0
    assert _disks(sdk, disk_type="system", category="cloud_essd")["TotalCount"] == 1
    assert _disks(sdk, category="cloud_ssd")["TotalCount"] == 0
    sdk.tea_ecs().delete_instance(ecs_models.DeleteInstanceRequest(instance_id=instance_id, force=True))
    assert _disks(sdk, disk_ids=json.dumps([disk["DiskId"]]))["TotalCount"] == 0


def test_describe_disks_paging(sdk: Sdk) -> None:
    ids = run_instances(sdk, 7)
    pages = [_disks(sdk, page_size=3, page_number=n) for n in (1, 2, 3)]
    assert [p["TotalCount"] for p in pages] == [7, 7, 7]
    listed = [d["InstanceId"] for p in pages for d in p["Disks"]["Disk"]]
    assert listed == sorted(ids)
    by_token: list[str] = []
    token = None
    for _ in range(10):
        body = _disks(sdk, max_results=4, next_token=token)
        by_token.extend(d["InstanceId"] for d in body["Disks"]["Disk"])
        token = body["NextToken"]
        if not token:
            break
    assert by_token == sorted(ids)
    request = DescribeDisksRequest()
    request.set_InstanceId(ids[0])
    assert [d["InstanceId"] for d in sdk.v1_call(request)["Disks"]["Disk"]] == [ids[0]]
    assert _disks(sdk.other_account())["TotalCount"] == 0


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"DiskType": "cdrom"}, 400, "InvalidDiskType.ValueNotSupported"),
        ({"Category": "tape"}, 403, "InvalidCategory.ValueNotSupported"),
        ({"Status": "Melted"}, 400, "InvalidStatus.ValueNotSupported"),
        ({"DiskChargeType": "Free"}, 404, "InvalidDiskChargeType.NotFound"),
        ({"DiskIds": "d-1"}, 400, "InvalidParameter.DiskIds"),
        ({"DiskIds": json.dumps([f"d-{n}" for n in range(101)])}, 400, "InvalidParameter.DiskIds"),
        ({"PageSize": "101"}, 400, "InvalidParameter"),
        ({"MaxResults": "501"}, 400, "InvalidParameter"),
        ({"NextToken": "?!"}, 400, "InvalidParameter"),
        ({"RegionId": "atlantis-1"}, 404, "InvalidRegionId.NotFound"),
    ],
)
def test_describe_disks_errors(sdk: Sdk, params: dict[str, str], status: int, code: str) -> None:
    _error(sdk.raw().v1("DescribeDisks", {"RegionId": REGION, **params}), status, code)


# --- DescribeNetworkInterfaces ------------------------------------------------------------------


def _interfaces(sdk: Sdk, **kwargs: Any) -> dict[str, Any]:
    request = ecs_models.DescribeNetworkInterfacesRequest(region_id=REGION, **kwargs)
    body: dict[str, Any] = sdk.tea_ecs().describe_network_interfaces(request).body.to_map()
    return body


def test_each_vpc_instance_has_a_primary_interface(sdk: Sdk) -> None:
    instance_id = _run_detailed(sdk)
    classic = run_instances(sdk, 1, vpc=False)[0]
    instance = _describe_one(sdk, instance_id)
    (interface,) = _interfaces(sdk)["NetworkInterfaceSets"]["NetworkInterfaceSet"]
    (primary,) = instance["NetworkInterfaces"]["NetworkInterface"]
    assert interface["NetworkInterfaceId"] == primary["NetworkInterfaceId"]
    assert interface["MacAddress"] == primary["MacAddress"]
    assert interface["PrivateIpAddress"] == primary["PrimaryIpAddress"]
    assert (interface["InstanceId"], interface["Type"], interface["Status"]) == (instance_id, "Primary", "InUse")
    assert interface["VSwitchId"] == "vsw-details01" and interface["VpcId"] == instance["VpcAttributes"]["VpcId"]
    assert interface["SecurityGroupIds"]["SecurityGroupId"] == ["sg-bp1aaaa", "sg-bp1bbbb"]
    assert interface["OwnerId"] == sdk.account_id
    by_id = _interfaces(sdk, network_interface_id=[primary["NetworkInterfaceId"]])
    assert by_id["NetworkInterfaceSets"]["NetworkInterfaceSet"] == [interface]
    assert _interfaces(sdk, instance_id=classic)["TotalCount"] == 0  # classic: no interface
    assert _describe_one(sdk, classic)["NetworkInterfaces"]["NetworkInterface"] == []
    assert _interfaces(sdk, type="Secondary")["TotalCount"] == 0
    request = DescribeNetworkInterfacesRequest()
    request.set_InstanceId(instance_id)
    assert sdk.v1_call(request)["NetworkInterfaceSets"]["NetworkInterfaceSet"][0]["MacAddress"] == primary["MacAddress"]


def test_describe_network_interfaces_paging(sdk: Sdk) -> None:
    ids = run_instances(sdk, 5)
    pages = [_interfaces(sdk, page_size=2, page_number=n) for n in (1, 2, 3)]
    listed = [i["InstanceId"] for p in pages for i in p["NetworkInterfaceSets"]["NetworkInterfaceSet"]]
    assert listed == sorted(ids) and pages[0]["TotalCount"] == 5
    body = _interfaces(sdk, max_results=3)
    assert len(body["NetworkInterfaceSets"]["NetworkInterfaceSet"]) == 3 and body["NextToken"]
    rest = _interfaces(sdk, max_results=3, next_token=body["NextToken"])
    assert len(rest["NetworkInterfaceSets"]["NetworkInterfaceSet"]) == 2 and rest["NextToken"] == ""
    _error(sdk.raw().v1("DescribeNetworkInterfaces", {"RegionId": REGION, "PageSize": "0"}), 400, "InvalidParameter")
    _error(
        sdk.raw().v1("DescribeNetworkInterfaces", {"RegionId": REGION, "NetworkInterfaceId.1001": "eni-1"}),
        400,
        "InvalidParameter",
    )


# --- DescribeInstanceStatus and DescribeInstanceHistoryEvents -------------------------------------


def test_describe_instance_status(sdk: Sdk) -> None:
    ids = run_instances(sdk, 3)
    sdk.tea_ecs().stop_instance(ecs_models.StopInstanceRequest(instance_id=ids[0]))
    request = ecs_models.DescribeInstanceStatusRequest(region_id=REGION, page_size=2)
    body = sdk.tea_ecs().describe_instance_status(request).body.to_map()
    assert (body["TotalCount"], body["PageNumber"], body["PageSize"]) == (3, 1, 2)
    statuses = {s["InstanceId"]: s["Status"] for s in body["InstanceStatuses"]["InstanceStatus"]}
    assert len(statuses) == 2
    v1 = DescribeInstanceStatusRequest()
    v1.set_InstanceIds([ids[0], ids[1]])
    listed = sdk.v1_call(v1)["InstanceStatuses"]["InstanceStatus"]
    assert {s["InstanceId"]: s["Status"] for s in listed} == {ids[0]: "Stopped", ids[1]: "Running"}
    _error(sdk.raw().v1("DescribeInstanceStatus", {"RegionId": REGION, "PageSize": "51"}), 400, "InvalidParameter")


def test_describe_instance_history_events_is_an_empty_page(sdk: Sdk) -> None:
    (instance_id,) = run_instances(sdk, 1)
    request = ecs_models.DescribeInstanceHistoryEventsRequest(region_id=REGION, instance_id=instance_id, page_size=20)
    body = sdk.tea_ecs().describe_instance_history_events(request).body.to_map()
    assert body["TotalCount"] == 0 and body["PageSize"] == 20 and body["PageNumber"] == 1
    assert body["InstanceSystemEventSet"] == {"InstanceSystemEventType": []}
    v1 = DescribeInstanceHistoryEventsRequest()
    assert sdk.v1_call(v1)["TotalCount"] == 0
    _error(
        sdk.raw().v1("DescribeInstanceHistoryEvents", {"RegionId": REGION, "PageNumber": "0"}), 400, "InvalidParameter"
    )


# --- authorization and other clients --------------------------------------------------------


def test_ram_users_need_the_new_actions(sdk: Sdk) -> None:
    (instance_id,) = run_instances(sdk, 1)
    reader = sdk.new_user("AliyunECSReadOnlyAccess")
    assert reader.raw().v1("DescribeDisks", {"RegionId": REGION}).json["TotalCount"] == 1
    assert reader.raw().v1("DescribeInstanceAttribute", {"InstanceId": instance_id}).status == 200
    body = _error(
        reader.raw().v1("ModifyInstanceAttribute", {"InstanceId": instance_id, "InstanceName": "nope"}),
        403,
        "Forbidden.RAM",
    )
    assert body["AccessDeniedDetail"]["AuthAction"] == "ecs:ModifyInstanceAttribute"
    # DescribeInstanceAttribute names no region: the instance's own region is in the ARN it acts on.
    from tests.support.ecs import attach_policy_to_user, create_policy

    scoped = sdk.new_user()
    name = f"p{instance_id[-8:]}"
    create_policy(
        sdk, name, allow("ecs:DescribeInstanceAttribute", f"acs:ecs:{REGION}:{sdk.account_id}:instance/{instance_id}")
    )
    assert scoped.user_name is not None
    attach_policy_to_user(sdk, scoped.user_name, name, "Custom")
    assert scoped.raw().v1("DescribeInstanceAttribute", {"InstanceId": instance_id}).status == 200
    _error(scoped.raw().v1("DescribeUserData", {"RegionId": REGION, "InstanceId": instance_id}), 403, "Forbidden.RAM")


def test_node_clients(sdk: Sdk, node: Callable[..., Any]) -> None:
    instance_id = _run_detailed(sdk)
    credentials = {"endpoint": sdk.endpoint, "accessKeyId": sdk.key.access_key_id, "accessKeySecret": sdk.key.secret}
    report = node(
        {
            **credentials,
            "client": "tea-ecs",
            "action": "DescribeInstanceAttribute",
            "params": {"InstanceId": instance_id},
        }
    )
    assert report["ok"], report
    assert report["body"]["InstanceId"] == instance_id and report["body"]["HostName"] == "web-1.internal"
    report = node(
        {
            **credentials,
            "client": "pop",
            "action": "DescribeDisks",
            "params": {"RegionId": REGION, "InstanceId": instance_id},
        }
    )
    assert report["ok"], report
    assert report["body"]["Disks"]["Disk"][0]["Size"] == 80
    report = node(
        {
            **credentials,
            "client": "pop",
            "action": "DescribeUserData",
            "params": {"RegionId": REGION, "InstanceId": instance_id},
        }
    )
    assert report["body"]["UserData"] == USER_DATA
