"""AttachInstanceRamRole, DetachInstanceRamRole, DescribeInstanceRamRole.

Order of checks (each failure is a top-level error and changes nothing): parameters; the role
exists, trusts ECS and may be passed by the caller; every instance exists in this region and
account; none is on the classic network. Then each distinct instance, in request order, gets
its own result item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ecsram.contract.call import Call
from ecsram.contract.catalogue.params import Checked, JsonStringList, String
from ecsram.contract.errors import ApiError
from ecsram.contract.operation import Operation, operation
from ecsram.services.ecs import errors
from ecsram.services.ecs.arns import instance_arn
from ecsram.services.ecs.listing import paging_params
from ecsram.services.ecs.regions import region_param
from ecsram.services.ecs.role_checks import checked_role_for_instances
from ecsram.services.ram.documents import session_policy
from ecsram.store import instances, roles
from ecsram.store.instances import CLASSIC, BindingState
from ecsram.store.named import name_key
from ecsram.store.times import iso

MAX_ATTACH_POLICY_LENGTH = 1024


def _ok(instance_id: str, message: str) -> dict[str, Any]:
    return {"InstanceId": instance_id, "Code": "200", "Message": message, "Success": True}


def _failed(instance_id: str, code: str, message: str) -> dict[str, Any]:
    return {"InstanceId": instance_id, "Code": code, "Message": message, "Success": False}


def _locked_instances(call: Call, action: str, ids: Sequence[str]) -> dict[str, BindingState]:
    """The instance checks, after the role's: every instance exists here and none is classic; the
    rows stay locked until commit."""
    found = instances.lock_for_binding(call.store, call.caller.account_id, call.args["RegionId"], ids)
    for instance_id in ids:
        if instance_id not in found:
            raise errors.instance_not_found(action, instance_id)
    for instance_id in ids:
        if found[instance_id].network_type == CLASSIC:
            raise errors.classic_network(action)
    return found


def attach(call: Call) -> dict[str, Any]:
    args = call.args
    ids: tuple[str, ...] = args["InstanceIds"]
    role = checked_role_for_instances(call, "AttachInstanceRamRole", args["RamRoleName"])
    found = _locked_instances(call, "AttachInstanceRamRole", ids)

    unbound = [i for i in ids if found[i].ram_role_name is None]
    bound_now = instances.bind(
        call.store, call.caller.account_id, args["RegionId"], unbound, role.role_name, args["Policy"], iso(call.now)
    )
    results = []
    for instance_id in ids:
        current = found[instance_id].ram_role_name
        if instance_id in bound_now or (current is not None and name_key(current) == name_key(role.role_name)):
            results.append(_ok(instance_id, "success"))
        else:
            results.append(
                _failed(
                    instance_id,
                    "InvalidInstance.RamRoleAttached",
                    f"The instance is already attached to the RAM role {current}; detach it first.",
                )
            )
    return {
        "TotalCount": len(ids),
        "FailCount": sum(1 for r in results if not r["Success"]),
        "RamRoleName": role.role_name,
        "AttachInstanceRamRoleResults": {"AttachInstanceRamRoleResult": results},
    }


def detach(call: Call) -> dict[str, Any]:
    args = call.args
    ids: tuple[str, ...] = args["InstanceIds"]
    wanted = args["RamRoleName"]
    if wanted is not None:
        role = roles.find(call.store, call.caller.account_id, wanted)
        if role is None:
            raise errors.role_not_found("DetachInstanceRamRole")
        wanted = role.role_name
    found = _locked_instances(call, "DetachInstanceRamRole", ids)

    results = []
    to_unbind = []
    for instance_id in ids:
        current = found[instance_id].ram_role_name
        if current is None:
            results.append(_failed(instance_id, "InvalidInstance.NoRamRole", "The instance has no RAM role attached."))
        elif wanted is not None and name_key(current) != name_key(wanted):
            results.append(
                _failed(
                    instance_id,
                    "InvalidRamRole.NotMatch",
                    f"The instance is attached to the RAM role {current}, not {wanted}.",
                )
            )
        else:
            to_unbind.append(instance_id)
            item = _ok(instance_id, "Success")
            item["InstanceRamRoleSets"] = {"InstanceRamRoleSet": [{"InstanceId": instance_id, "RamRoleName": current}]}
            results.append(item)
    instances.unbind(call.store, call.caller.account_id, args["RegionId"], to_unbind)
    response: dict[str, Any] = {
        "TotalCount": len(ids),
        "FailCount": sum(1 for r in results if not r["Success"]),
        "DetachInstanceRamRoleResults": {"DetachInstanceRamRoleResult": results},
    }
    if wanted is not None:
        response["RamRoleName"] = wanted
    return response


def describe(call: Call) -> dict[str, Any]:
    args = call.args
    ids: tuple[str, ...] | None = args["InstanceIds"]
    wanted: str | None = args["RamRoleName"]
    if ids is None and wanted is None:
        raise ApiError("InvalidParameter.AllEmpty", 403, "Specify at least one of InstanceIds and RamRoleName.")
    account_id, region_id = call.caller.account_id, args["RegionId"]
    size = args["PageSize"]
    offset = (args["PageNumber"] - 1) * size
    if wanted is not None:
        # A role name nobody has is an error, not an empty list: Terraform's read of an
        # alicloud_ecs_ram_role_attachment expects InvalidRamRole.NotFound then.
        role = roles.find(call.store, account_id, wanted)
        if role is None:
            raise errors.role_not_found("DescribeInstanceRamRole")
        wanted = role.role_name
    if ids is None:
        assert wanted is not None
        total, page = instances.bound_to_role(call.store, account_id, region_id, wanted, offset=offset, limit=size)
    else:
        current = instances.roles_of(call.store, account_id, region_id, ids)
        for instance_id in ids:
            if instance_id not in current:
                raise errors.instance_not_found("DescribeInstanceRamRole", instance_id)
        matching = sorted(
            (i, role_name)
            for i, role_name in current.items()
            if role_name is not None and (wanted is None or name_key(role_name) == name_key(wanted))
        )
        total, page = len(matching), matching[offset : offset + size]
    return {
        "RegionId": region_id,
        "TotalCount": total,
        "InstanceRamRoleSets": {"InstanceRamRoleSet": [{"InstanceId": i, "RamRoleName": r} for i, r in page]},
    }


# --- parameters and resources ---------------------------------------------------------------


def _instance_ids(required: bool) -> JsonStringList:
    return JsonStringList("InstanceIds", required=required, max_items=100, error=errors.instance_ids_malformed)


def _attach_policy(raw: str) -> str:
    return session_policy(raw, "Policy", MAX_ATTACH_POLICY_LENGTH)


def _listed_instances(call: Call) -> Sequence[str]:
    region, account = call.args["RegionId"], call.caller.account_id
    ids = call.args["InstanceIds"] or ("*",)
    return tuple(instance_arn(region, account, i) for i in ids)


OPERATIONS: tuple[Operation, ...] = (
    operation(
        "ecs",
        "AttachInstanceRamRole",
        attach,
        params=(
            region_param(),
            String("RamRoleName", required=True),
            _instance_ids(required=True),
            Checked("Policy", blank_is_absent=False, check=_attach_policy),
        ),
        resources=_listed_instances,
    ),
    operation(
        "ecs",
        "DetachInstanceRamRole",
        detach,
        params=(region_param(), String("RamRoleName"), _instance_ids(required=True)),
        resources=_listed_instances,
    ),
    operation(
        "ecs",
        "DescribeInstanceRamRole",
        describe,
        params=(
            region_param(),
            _instance_ids(required=False),
            String("RamRoleName"),
            *paging_params(max_size=50),
        ),
        resources=_listed_instances,
    ),
)
