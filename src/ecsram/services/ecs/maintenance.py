"""DescribeInstanceMaintenanceAttributes: what newer releases of Terraform's ``alicloud_instance``
read after the instance's other details (``ActionOnMaintenance.Value``, ``MaintenanceWindows``,
``NotifyOnMaintenance``). Unemulated, that read failed on ``UnsupportedOperation``.

ecsram has no maintenance events, so every instance shows the vendor's default action and no
maintenance window; the attributes cannot be changed (ModifyInstanceMaintenanceAttributes stays
unemulated).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ecsram.contract.call import Call
from ecsram.contract.catalogue.params import FlatList
from ecsram.contract.operation import Operation, operation
from ecsram.services.ecs import errors
from ecsram.services.ecs.arns import instance_arn
from ecsram.services.ecs.listing import paging_params
from ecsram.services.ecs.regions import region_param
from ecsram.store import instances

ACTION = "DescribeInstanceMaintenanceAttributes"
DEFAULT_ACTION = "AutoRecover"
SUPPORTED_ACTIONS = ("Stop", "AutoRecover", "AutoRedeploy")


def _attributes(instance_id: str) -> dict[str, Any]:
    return {
        "InstanceId": instance_id,
        "ActionOnMaintenance": {
            "Value": DEFAULT_ACTION,
            "DefaultValue": DEFAULT_ACTION,
            "SupportedValues": {"SupportedValue": list(SUPPORTED_ACTIONS)},
        },
        "MaintenanceWindows": {"MaintenanceWindow": []},
        "NotifyOnMaintenance": False,
    }


def describe_instance_maintenance_attributes(call: Call) -> dict[str, Any]:
    args = call.args
    account_id, region_id = call.caller.account_id, args["RegionId"]
    ids: tuple[str, ...] | None = args["InstanceId"]
    filters: dict[str, Any] = {}
    if ids is not None:
        _, found = instances.list_page(call.store, account_id, region_id, {"ids": list(ids)}, limit=len(ids))
        known = {instance.instance_id for instance in found}
        missing = [instance_id for instance_id in ids if instance_id not in known]
        if missing:
            raise errors.instance_not_found(ACTION, missing[0])
        filters["ids"] = list(ids)
    number, size = args["PageNumber"], args["PageSize"]
    total, page = instances.list_page(
        call.store, account_id, region_id, filters, offset=(number - 1) * size, limit=size
    )
    return {
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
        "MaintenanceAttributes": {"MaintenanceAttribute": [_attributes(i.instance_id) for i in page]},
    }


def _listed_instances(call: Call) -> Sequence[str]:
    region, account = call.args["RegionId"], call.caller.account_id
    return tuple(instance_arn(region, account, i) for i in (call.args["InstanceId"] or ("*",)))


OPERATIONS: tuple[Operation, ...] = (
    operation(
        "ecs",
        ACTION,
        describe_instance_maintenance_attributes,
        params=(
            region_param(),
            FlatList("InstanceId", max_items=100),
            *paging_params(max_size=100),
        ),
        resources=_listed_instances,
    ),
)
