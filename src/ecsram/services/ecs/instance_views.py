"""How ECS responses show an instance, its system disk and its primary network interface."""

from __future__ import annotations

import calendar
import time
from typing import Any

import orjson

from ecsram.store.instances import VPC, Instance
from ecsram.store.times import ISO_SECONDS, iso

_NO_EXPIRY = "2099-12-31T15:59Z"


_PREPAID_SECONDS = 30 * 24 * 3600  # PrePaid instances are bought for one month (Period is not emulated).


def _minute(timestamp: str) -> str:
    return timestamp[:16] + "Z"  # DescribeInstances reports times to the minute: 2026-01-01T12:00Z


def _expired_time(instance: Instance) -> str:
    if instance.instance_charge_type != "PrePaid":
        return _NO_EXPIRY
    created = calendar.timegm(time.strptime(instance.created_at, ISO_SECONDS))
    return _minute(iso(created + _PREPAID_SECONDS))


def security_group_ids(instance: Instance) -> list[str]:
    ids: list[str] = orjson.loads(instance.security_group_ids)
    return ids


def _addresses(instance: Instance) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(VPC private addresses, classic inner addresses)."""
    ips = {"IpAddress": [instance.private_ip]}
    empty: dict[str, list[str]] = {"IpAddress": []}
    return (ips, empty) if instance.network_type == VPC else (empty, ips)


def _network_interfaces(instance: Instance) -> list[dict[str, Any]]:
    if instance.network_type != VPC:
        return []  # classic instances have no elastic network interface
    return [
        {
            "Type": "Primary",
            "NetworkInterfaceId": instance.network_interface_id,
            "MacAddress": instance.mac_address,
            "PrimaryIpAddress": instance.private_ip,
            "PrivateIpSets": {"PrivateIpSet": [{"PrivateIpAddress": instance.private_ip, "Primary": True}]},
            "Ipv6Sets": {"Ipv6Set": []},
            "Ipv4PrefixSets": {"Ipv4PrefixSet": []},
            "Ipv6PrefixSets": {"Ipv6PrefixSet": []},
        }
    ]


def _common_view(instance: Instance) -> dict[str, Any]:
    """What DescribeInstances and DescribeInstanceAttribute both show."""
    private, inner = _addresses(instance)
    return {
        "InstanceId": instance.instance_id,
        "InstanceName": instance.instance_name,
        "Description": instance.description,
        "HostName": instance.host_name,
        "RegionId": instance.region_id,
        "ZoneId": instance.zone_id,
        "Status": instance.status,
        "InstanceType": instance.instance_type,
        "Cpu": instance.cpu,
        "Memory": instance.memory,
        "ImageId": instance.image_id,
        "InstanceNetworkType": instance.network_type,
        "VpcAttributes": {
            "VpcId": instance.vpc_id or "",
            "VSwitchId": instance.vswitch_id or "",
            "PrivateIpAddress": private,
            "NatIpAddress": "",
        },
        "InnerIpAddress": inner,
        "PublicIpAddress": {"IpAddress": []},
        "EipAddress": {"AllocationId": "", "IpAddress": "", "Bandwidth": 0, "InternetChargeType": ""},
        "SecurityGroupIds": {"SecurityGroupId": security_group_ids(instance)},
        "SerialNumber": instance.serial_number,
        "CreationTime": _minute(instance.created_at),
        "ExpiredTime": _expired_time(instance),
        "InstanceChargeType": instance.instance_charge_type,
        "InternetChargeType": "PayByTraffic",
        "InternetMaxBandwidthIn": 0,
        "InternetMaxBandwidthOut": 0,
        "StoppedMode": "Not-applicable",
        "OperationLocks": {"LockReason": []},
        "DedicatedHostAttribute": {"DedicatedHostId": "", "DedicatedHostName": ""},
        "CreditSpecification": "",
        "ClusterId": "",
        "VlanId": "",
    }


def instance_view(instance: Instance) -> dict[str, Any]:
    """One instance as DescribeInstances shows it."""
    return {
        **_common_view(instance),
        "InstanceTypeFamily": ".".join(instance.instance_type.split(".")[:2]),
        "OSName": instance.os_name,
        "OSNameEn": instance.os_name,
        "OSType": instance.os_type,
        "StartTime": _minute(instance.started_at) if instance.started_at else "",
        "ResourceGroupId": instance.resource_group_id,
        "KeyPairName": instance.key_pair_name or "",
        "NetworkInterfaces": {"NetworkInterface": _network_interfaces(instance)},
        "MetadataOptions": {
            "HttpEndpoint": instance.http_endpoint,
            "HttpTokens": instance.http_tokens,
            "HttpPutResponseHopLimit": instance.http_put_response_hop_limit,
        },
        "CpuOptions": {"CoreCount": max(1, instance.cpu // 2), "ThreadsPerCore": 2, "Numa": "", "TopologyType": ""},
        "IoOptimized": True,
        "DeletionProtection": bool(instance.deletion_protection),
        "DeviceAvailable": True,
        "Recyclable": False,
        "GPUAmount": 0,
        "GPUSpec": "",
        "LocalStorageAmount": 0,
        "LocalStorageCapacity": 0,
        "SpotStrategy": "NoSpot",
        "SpotPriceLimit": 0.0,
        "SpotDuration": 0,
        "SaleCycle": "",
        "AutoReleaseTime": "",
        "DeploymentSetId": "",
        "HpcClusterId": "",
        "RdmaIpAddress": {"IpAddress": []},
        "HibernationOptions": {"Configured": False},
        "ImageOptions": {"LoginAsNonRoot": False},
        "Tags": {"Tag": []},
    }


def attribute_view(instance: Instance) -> dict[str, Any]:
    """One instance as DescribeInstanceAttribute shows it."""
    return {**_common_view(instance), "IoOptimized": "optimized", "EnableJumboFrame": False}


def disk_view(instance: Instance) -> dict[str, Any]:
    """An instance's system disk, as DescribeDisks shows it."""
    attached = instance.created_at
    return {
        "DiskId": instance.system_disk_id,
        "DiskName": "",
        "Description": "",
        "Type": "system",
        "Category": instance.system_disk_category,
        "Size": instance.system_disk_size,
        "PerformanceLevel": "PL0" if instance.system_disk_category == "cloud_essd" else "",
        "ImageId": instance.image_id,
        "SourceSnapshotId": "",
        "AutoSnapshotPolicyId": "",
        "ProductCode": "",
        "Portable": False,
        "InstanceId": instance.instance_id,
        "Device": "/dev/xvda",
        "Status": "In_use",
        "RegionId": instance.region_id,
        "ZoneId": instance.zone_id,
        "ResourceGroupId": instance.resource_group_id,
        "SerialNumber": instance.system_disk_id[2:],
        "CreationTime": instance.created_at,
        "AttachedTime": attached,
        "DetachedTime": "",
        "ExpiredTime": _expired_time(instance),
        "DiskChargeType": instance.instance_charge_type,
        "DeleteWithInstance": True,
        "DeleteAutoSnapshot": True,
        "EnableAutoSnapshot": False,
        "EnableAutomatedSnapshotPolicy": False,
        "Encrypted": False,
        "KMSKeyId": "",
        "BurstingEnabled": False,
        "IOPS": 0,
        "IOPSRead": 0,
        "IOPSWrite": 0,
        "ProvisionedIops": 0,
        "Throughput": 0,
        "MultiAttach": "Disabled",
        "MountInstanceNum": 0,
        "MountInstances": {"MountInstance": []},
        "Attachments": {
            "Attachment": [{"InstanceId": instance.instance_id, "Device": "/dev/xvda", "AttachedTime": attached}]
        },
        "OperationLocks": {"OperationLock": []},
        "Tags": {"Tag": []},
    }


def network_interface_view(instance: Instance) -> dict[str, Any]:
    """An instance's primary network interface, as DescribeNetworkInterfaces shows it."""
    no_public_ip = {"PublicIpAddress": "", "AllocationId": ""}
    return {
        "NetworkInterfaceId": instance.network_interface_id,
        "NetworkInterfaceName": "",
        "Description": "",
        "Type": "Primary",
        "Status": "InUse",
        "MacAddress": instance.mac_address,
        "PrivateIpAddress": instance.private_ip,
        "PrivateIpSets": {
            "PrivateIpSet": [
                {"PrivateIpAddress": instance.private_ip, "Primary": True, "AssociatedPublicIp": no_public_ip}
            ]
        },
        "Ipv6Sets": {"Ipv6Set": []},
        "Ipv4PrefixSets": {"Ipv4PrefixSet": []},
        "Ipv6PrefixSets": {"Ipv6PrefixSet": []},
        "AssociatedPublicIp": no_public_ip,
        "VpcId": instance.vpc_id or "",
        "VSwitchId": instance.vswitch_id or "",
        "ZoneId": instance.zone_id,
        "InstanceId": instance.instance_id,
        "Attachment": {
            "InstanceId": instance.instance_id,
            "DeviceIndex": 0,
            "NetworkCardIndex": 0,
            "TrunkNetworkInterfaceId": "",
        },
        "SecurityGroupIds": {"SecurityGroupId": security_group_ids(instance)},
        "ResourceGroupId": instance.resource_group_id,
        "CreationTime": instance.created_at,
        "OwnerId": instance.account_id,
        "ServiceManaged": False,
        "ServiceID": 0,
        "QueueNumber": 1,
        "QueuePairNumber": 0,
        "DeleteOnRelease": True,
        "NetworkInterfaceTrafficMode": "Standard",
        "Tags": {"Tag": []},
    }
