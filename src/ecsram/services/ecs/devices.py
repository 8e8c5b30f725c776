"""DescribeDisks and DescribeNetworkInterfaces: the system disk and the primary network interface
every instance carries, created and deleted with it (decisions, see docs/fidelity.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ecsram.contract.call import Call
from ecsram.contract.catalogue import vendor
from ecsram.contract.catalogue.params import Checked, FlatList, JsonStringList, String
from ecsram.contract.errors import ApiError
from ecsram.contract.operation import Operation, operation
from ecsram.services.ecs import instance_model as model
from ecsram.services.ecs.instance_views import disk_view, network_interface_view
from ecsram.services.ecs.listing import choice_of, instance_page, keyset, keyset_params, paging_params
from ecsram.services.ecs.regions import region_param
from ecsram.store.instances import VPC

_DISK_TYPES = ("all", "system", "data")


_DISK_STATUSES = ("In_use", "Available", "Attaching", "Detaching", "Creating", "ReIniting", "All")


def _disk_ids_malformed() -> ApiError:
    return vendor.api_error("ecs", "DescribeDisks", "InvalidParameter.DiskIds")


def describe_disks(call: Call) -> dict[str, Any]:
    args = call.args
    filters: dict[str, Any] = {}
    empty = args["DiskType"] == "data" or args["Status"] not in (None, "In_use", "All")
    if args["DiskIds"] is not None:
        filters["disk_ids"] = list(args["DiskIds"])
    if args["InstanceId"] is not None:
        filters["ids"] = [args["InstanceId"]]
    for arg, key in (
        ("ZoneId", "zone_id"),
        ("ResourceGroupId", "resource_group_id"),
        ("DiskChargeType", "instance_charge_type"),
    ):
        if args[arg] is not None:
            filters[key] = args[arg]
    if args["Category"] not in (None, "all"):
        filters["disk_category"] = args["Category"]
    if empty:
        filters["ids"] = []  # data disks (there are none) or a status no system disk is in
    fields, found = instance_page(call, filters, keyset=keyset(call))
    return {**fields, "Disks": {"Disk": [disk_view(i) for i in found]}}


def describe_network_interfaces(call: Call) -> dict[str, Any]:
    args = call.args
    filters: dict[str, Any] = {"network_type": VPC}  # classic instances have no network interface
    if args["NetworkInterfaceId"] is not None:
        filters["network_interface_ids"] = list(args["NetworkInterfaceId"])
    if args["InstanceId"] is not None:
        filters["ids"] = [args["InstanceId"]]
    for arg, key in (
        ("VpcId", "vpc_id"),
        ("VSwitchId", "vswitch_id"),
        ("PrimaryIpAddress", "private_ip"),
        ("ResourceGroupId", "resource_group_id"),
    ):
        if args[arg] is not None:
            filters[key] = args[arg]
    if args["Type"] not in (None, "Primary") or args["Status"] not in (None, "InUse"):
        filters["ids"] = []  # only primary interfaces, always in use
    fields, found = instance_page(call, filters, keyset=keyset(call))
    return {**fields, "NetworkInterfaceSets": {"NetworkInterfaceSet": [network_interface_view(i) for i in found]}}


def _region_disks(call: Call) -> Sequence[str]:
    return (f"acs:ecs:{call.args['RegionId']}:{call.caller.account_id}:disk/*",)


def _region_network_interfaces(call: Call) -> Sequence[str]:
    return (f"acs:ecs:{call.args['RegionId']}:{call.caller.account_id}:networkinterface/*",)


OPERATIONS: tuple[Operation, ...] = (
    operation(
        "ecs",
        "DescribeDisks",
        describe_disks,
        params=(
            region_param(),
            JsonStringList("DiskIds", min_items=0, max_items=100, error=_disk_ids_malformed),
            String("InstanceId", max_length=128),
            Checked("DiskType", check=choice_of("DescribeDisks", "InvalidDiskType.ValueNotSupported", _DISK_TYPES)),
            Checked(
                "Category",
                check=choice_of("DescribeDisks", "InvalidCategory.ValueNotSupported", ("all", *model.DISK_CATEGORIES)),
            ),
            Checked("Status", check=choice_of("DescribeDisks", "InvalidStatus.ValueNotSupported", _DISK_STATUSES)),
            Checked(
                "DiskChargeType",
                check=choice_of("DescribeDisks", "InvalidDiskChargeType.NotFound", model.CHARGE_TYPES),
            ),
            *paging_params(100),
            *keyset_params(500),
        ),
        resources=_region_disks,
    ),
    operation(
        "ecs",
        "DescribeNetworkInterfaces",
        describe_network_interfaces,
        params=(
            region_param(),
            FlatList("NetworkInterfaceId", max_items=1000),
            String("InstanceId", max_length=128),
            *paging_params(1000),
            *keyset_params(500),
        ),
        resources=_region_network_interfaces,
    ),
)
