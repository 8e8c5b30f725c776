"""ECS instances: RunInstances, CreateInstance, DescribeInstances, DescribeInstanceAttribute,
ModifyInstanceAttribute, DescribeUserData, DescribeInstanceStatus, DescribeInstanceHistoryEvents,
Start/Stop/Delete, metadata options.

Instances are records, not machines: they carry what the RAM role operations act on and what
real tools read of an instance (the rules are in ``instance_model``, the response shapes in
``instance_views``). Decisions (see docs/fidelity.md): an instance created with a ``VSwitchId`` is on
the ``vpc`` network, without one on ``classic``; RunInstances instances are ``Running`` at once,
CreateInstance ones ``Stopped``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ecsram.contract.call import Call
from ecsram.contract.catalogue import vendor
from ecsram.contract.catalogue.params import Boolean, Checked, FlatList, Integer, JsonStringList, String, list_index
from ecsram.contract.errors import ApiError
from ecsram.contract.operation import Operation, operation
from ecsram.services.ecs import errors
from ecsram.services.ecs import instance_model as model
from ecsram.services.ecs import tags as instance_tags
from ecsram.services.ecs.arns import instance_arn
from ecsram.services.ecs.instance_views import attribute_view, instance_view
from ecsram.services.ecs.listing import choice_of, instance_page, keyset, next_token, paging_params
from ecsram.services.ecs.regions import region_param
from ecsram.services.ecs.role_checks import checked_role_for_instances
from ecsram.store import client_tokens, instances, tags
from ecsram.store.instances import CLASSIC, VPC, Instance
from ecsram.store.times import iso

RUNNING, STOPPED = "Running", "Stopped"
_ID_ALPHABET = string.ascii_lowercase + string.digits
_CLIENT_TOKEN = re.compile(r"[\x21-\x7e]{1,64}")
_INSTANCE_NAME = re.compile(r"[^\s\x00-\x1f]{2,128}")
_STATUSES = ("Pending", "Running", "Starting", "Stopping", "Stopped")


def new_instance_id() -> str:
    return "i-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))


def _vpc_of(vswitch_id: str) -> str:
    # The emulator has no VPC resources: a VSwitch stands for itself, in a VPC named after it.
    return "vpc-" + hashlib.sha256(vswitch_id.encode()).hexdigest()[:20]


# --- parameter checks ---------------------------------------------------------------------


def _client_token(raw: str) -> str:
    if not _CLIENT_TOKEN.fullmatch(raw):
        raise vendor.api_error("ecs", "RunInstances", "InvalidClientToken.ValueNotSupported")
    return raw


def _instance_name(raw: str) -> str:
    if not _INSTANCE_NAME.fullmatch(raw) or raw.startswith(("http://", "https://")):
        raise vendor.api_error("ecs", "RunInstances", "InvalidInstanceName.Malformed")
    return raw


def _hop_limit(action: str) -> Any:
    def check(raw: str) -> int:
        value = Integer("HttpPutResponseHopLimit").parse(raw)
        if not 1 <= value <= 64:
            raise vendor.api_error(
                "ecs",
                action,
                "InvalidHttpPutResponseHopLimit.NotSupported",
                fallback=(400, "The specified HttpPutResponseHopLimit is not supported: use 1 to 64."),
            )
        return int(value)

    return check


@dataclass(frozen=True, slots=True)
class SecurityGroupList(FlatList):
    """``SecurityGroupIds.N``: at most 16, each a well-formed ID, none repeated."""

    action: str = "RunInstances"

    def parse(self, raw: Any) -> Any:
        values: list[str] = raw
        for value in values:
            model.security_group_check(self.action)(value)
        if len(set(values)) != len(values):
            raise vendor.api_error(
                "ecs",
                self.action,
                "InvalidParameter.SecurityGroupIdRepeated",
                fallback=(400, "The specified security group ids has repeated."),
                detail="The specified SecurityGroupIds has repeated IDs.",
            )
        return tuple(values)


def _creation_params(action: str) -> tuple[Any, ...]:
    return (
        region_param(),
        String("ImageId", required=True, max_length=128),
        String("InstanceType", required=True, max_length=64),
        String("VSwitchId", max_length=64),
        String("ZoneId", max_length=32),
        Checked("InstanceName", check=_instance_name),
        Checked("Description", check=model.description_check(action)),
        Checked("HostName", check=model.host_name_check(action)),
        Checked("Password", check=model.password_check(action)),
        Checked("UserData", check=model.user_data_check(action)),
        Checked("SystemDisk.Category", check=model.disk_category_check(action)),
        Checked("SystemDisk.Size", check=model.disk_size_check(action)),
        Checked("InstanceChargeType", default="PostPaid", check=model.charge_type_check(action)),
        Checked("KeyPairName", check=model.key_pair_check(action)),
        Checked("ResourceGroupId", check=model.resource_group_check(action)),
        Checked("SecurityGroupId", check=model.security_group_check(action)),
        SecurityGroupList("SecurityGroupIds", max_items=16, action=action),
        Boolean("DeletionProtection", default=False),
        String("RamRoleName", max_length=64),
        Checked("ClientToken", check=_client_token),
        Checked(
            "HttpEndpoint",
            default="enabled",
            check=choice_of(action, "InvalidHttpEndpoint.NotSupported", ("enabled", "disabled")),
        ),
        Checked(
            "HttpTokens",
            default="optional",
            check=choice_of(action, "InvalidHttpTokens.NotSupported", ("optional", "required")),
        ),
        Checked("HttpPutResponseHopLimit", default=1, check=_hop_limit(action)),
        Boolean("DryRun", default=False),
        instance_tags.tag_param(action),
    )


# --- creation -----------------------------------------------------------------------------


def _fingerprint(args: dict[str, Any]) -> str:
    # The password is not part of it: nothing derived from a password is stored, not even a hash.
    ignored = ("ClientToken", "DryRun", "Password")
    significant = sorted((k, v) for k, v in args.items() if k not in ignored and v is not None)
    return hashlib.sha256(orjson.dumps(significant)).hexdigest()


def _security_groups(action: str, args: dict[str, Any]) -> list[str]:
    single, listed = args["SecurityGroupId"], args.get("SecurityGroupIds")
    if single and listed:
        raise vendor.api_error(
            "ecs",
            action,
            "InvalidSecurityGroupId.SingleIdAndMultiIdConflict",
            fallback=(400, "SecurityGroupId and SecurityGroupIds cannot both be given."),
            detail="SecurityGroupId and SecurityGroupIds cannot both be given.",
        )
    return [single] if single else list(listed or ())


def _build(
    call: Call, action: str, count: int, status: str, role_name: str | None, now: str, ids: Sequence[str] | None
) -> list[Instance]:
    args = call.args
    vswitch = args["VSwitchId"]
    network_type = VPC if vswitch else CLASSIC
    cpu, memory = model.instance_shape(action, args["InstanceType"])
    if args["UserData"] and network_type == CLASSIC:
        raise vendor.api_error("ecs", action, "InvalidUserData.NotSupported")
    category, size = model.system_disk(action, args["SystemDisk.Category"], args["SystemDisk.Size"])
    security_groups = orjson.dumps(_security_groups(action, args)).decode()
    os_name, os_type = model.operating_system(args["ImageId"])
    resource_group = args["ResourceGroupId"] or model.default_resource_group(call.caller.account_id)
    if args["DeletionProtection"] and args["InstanceChargeType"] != "PostPaid":
        raise vendor.api_error("ecs", action, "InvalidChargeType.ValueNotSupported")
    built = []
    for index in range(count):
        instance_id = ids[index] if ids else new_instance_id()
        net = model.network(instance_id, vswitch)
        built.append(
            Instance(
                instance_id=instance_id,
                account_id=call.caller.account_id,
                region_id=args["RegionId"],
                zone_id=args["ZoneId"] or f"{args['RegionId']}-a",
                instance_name=args["InstanceName"] or instance_id,
                description=args["Description"] or "",
                host_name=args["HostName"] or f"iZ{instance_id[2:]}Z",
                image_id=args["ImageId"],
                instance_type=args["InstanceType"],
                network_type=network_type,
                vpc_id=_vpc_of(vswitch) if vswitch else None,
                vswitch_id=vswitch,
                private_ip=net.private_ip,
                status=status,
                http_endpoint=args["HttpEndpoint"],
                http_tokens=args["HttpTokens"],
                http_put_response_hop_limit=args["HttpPutResponseHopLimit"],
                created_at=now,
                started_at=now if status == RUNNING else None,
                user_data=args["UserData"],
                mac_address=model.mac_address(instance_id),
                serial_number=model.serial_number(instance_id),
                network_interface_id=model.network_interface_id(instance_id),
                system_disk_id=model.system_disk_id(instance_id),
                system_disk_category=category,
                system_disk_size=size,
                vpc_cidr=net.vpc_cidr,
                vswitch_cidr=net.vswitch_cidr,
                resource_group_id=resource_group,
                key_pair_name=args["KeyPairName"],
                security_group_ids=security_groups,
                instance_charge_type=args["InstanceChargeType"],
                cpu=cpu,
                memory=memory,
                os_name=os_name,
                os_type=os_type,
                password_set=args["Password"] is not None,
                deletion_protection=args["DeletionProtection"],
                ram_role_name=role_name,
                ram_role_attached_at=now if role_name else None,
            )
        )
    return built


def create_instances(
    call: Call, action: str, count: int, status: str, instance_ids: Sequence[str] | None = None
) -> list[str]:
    """The shared body of RunInstances and CreateInstance: role checks, idempotency, insert.
    ``instance_ids`` (one per instance) are for seed files, which name their instances."""
    args = call.args
    # Checked here rather than with the parameters: a caller who may not create instances learns
    # nothing of the catalogue of types.
    model.instance_shape(action, args["InstanceType"])
    role_name = None
    if args["RamRoleName"]:
        role_name = checked_role_for_instances(call, action, args["RamRoleName"]).role_name
        if not args["VSwitchId"]:
            raise errors.classic_network(action)
    if args["DryRun"]:
        raise errors.dry_run_passed()

    account_id = call.caller.account_id
    now = iso(call.now)
    token = args["ClientToken"]
    if token:
        fingerprint = _fingerprint(args)
        if not client_tokens.claim(call.store, account_id, action, token, fingerprint, now):
            recorded_fingerprint, result = client_tokens.recorded(call.store, account_id, action, token)
            if recorded_fingerprint != fingerprint or result is None:
                raise ApiError(
                    "IdempotentParameterMismatch",
                    400,
                    "The specified ClientToken was used before with different parameters.",
                )
            ids: list[str] = orjson.loads(result)
            return ids
    created = _build(call, action, count, status, role_name, now, instance_ids)
    instances.insert_many(call.store, created)
    ids = [instance.instance_id for instance in created]
    if args["Tag"]:
        tags.put(call.store, account_id, tags.INSTANCE, ids, args["Tag"])
    if token:
        client_tokens.record_result(call.store, account_id, action, token, orjson.dumps(ids).decode())
    return ids


def run_instances(call: Call) -> dict[str, Any]:
    ids = create_instances(call, "RunInstances", call.args["Amount"], RUNNING)
    return {"InstanceIdSets": {"InstanceIdSet": ids}, "TradePrice": 0.0, "OrderId": ""}


def create_instance(call: Call) -> dict[str, Any]:
    (instance_id,) = create_instances(call, "CreateInstance", 1, STOPPED)
    return {"InstanceId": instance_id, "TradePrice": 0.0, "OrderId": ""}


# --- reading ------------------------------------------------------------------------------


def _views(call: Call, page: Sequence[Instance]) -> list[dict[str, Any]]:
    """DescribeInstances items, with each instance's tags."""
    carried = instance_tags.tags_by_instance(call, [i.instance_id for i in page])
    views = []
    for instance in page:
        view = instance_view(instance)
        view["Tags"] = instance_tags.tag_list(carried.get(instance.instance_id, []))
        views.append(view)
    return views


def describe_instances(call: Call) -> dict[str, Any]:
    args = call.args
    filters: dict[str, Any] = {}
    for arg, key in (
        ("InstanceIds", "ids"),
        ("InstanceNetworkType", "network_type"),
        ("Status", "status"),
        ("VpcId", "vpc_id"),
        ("VSwitchId", "vswitch_id"),
        ("ZoneId", "zone_id"),
        ("InstanceName", "instance_name"),
        ("ImageId", "image_id"),
        ("InstanceType", "instance_type"),
        ("ResourceGroupId", "resource_group_id"),
        ("KeyPairName", "key_pair_name"),
        ("InstanceChargeType", "instance_charge_type"),
    ):
        if args.get(arg) is not None:
            filters[key] = list(args[arg]) if key == "ids" else args[arg]
    if args["Tag"]:
        tagged = instance_tags.instances_with_tags(call, args["Tag"])
        filters["ids"] = sorted(tagged.intersection(filters["ids"]) if "ids" in filters else tagged)
    if args["SecurityGroupId"] is not None:
        if model.is_security_group_id(args["SecurityGroupId"]):
            filters["security_group"] = instances.security_group_pattern(args["SecurityGroupId"])
        else:
            filters["ids"] = []  # no instance can be in a group of that name
    fields, found = instance_page(call, filters, keyset=keyset(call))
    return {**fields, "Instances": {"Instance": _views(call, found)}}


def _instance_in_region(call: Call, action: str) -> Instance:
    """The caller's instance ``InstanceId``, in ``RegionId`` when the operation takes one."""
    instance = _own_instance(call, action)
    region = call.args.get("RegionId")
    if region is not None and instance.region_id != region:
        raise errors.instance_not_found(action, instance.instance_id)
    return instance


def describe_instance_attribute(call: Call) -> dict[str, Any]:
    return attribute_view(_instance_in_region(call, "DescribeInstanceAttribute"))


def describe_user_data(call: Call) -> dict[str, Any]:
    instance = _instance_in_region(call, "DescribeUserData")
    return {"InstanceId": instance.instance_id, "RegionId": instance.region_id, "UserData": instance.user_data or ""}


def modify_instance_attribute(call: Call) -> dict[str, Any]:
    args = call.args
    action = "ModifyInstanceAttribute"
    instance = _instance_in_region(call, action)
    if args["UserData"] is not None:
        if instance.network_type == CLASSIC:
            raise vendor.api_error("ecs", action, "InvalidUserData.NotSupported")
        if instance.status != STOPPED:
            raise errors.incorrect_instance_status(action, "Stop the instance to change its UserData.")
    protection = args["DeletionProtection"]
    if protection and instance.instance_charge_type != "PostPaid":
        raise vendor.api_error("ecs", action, "InvalidChargeType.ValueNotSupported")
    groups = args["SecurityGroupIds"]
    if groups is not None and instance.network_type == CLASSIC:
        raise vendor.api_error("ecs", action, "InvalidNetworkType.NotSupported")
    instances.modify_attributes(
        call.store,
        instance,
        instance_name=args["InstanceName"],
        description=args["Description"],
        host_name=args["HostName"],
        user_data=args["UserData"],
        password_set=True if args["Password"] is not None else None,
        security_group_ids=None if groups is None else orjson.dumps(list(groups)).decode(),
        deletion_protection=protection,
    )
    return {}


def describe_instance_status(call: Call) -> dict[str, Any]:
    args = call.args
    filters: dict[str, Any] = {}
    if args["InstanceId"] is not None:
        filters["ids"] = list(args["InstanceId"])
    if args["ZoneId"] is not None:
        filters["zone_id"] = args["ZoneId"]
    fields, found = instance_page(call, filters)
    statuses = [{"InstanceId": i.instance_id, "Status": i.status} for i in found]
    return {**fields, "InstanceStatuses": {"InstanceStatus": statuses}}


def describe_instance_history_events(call: Call) -> dict[str, Any]:
    # No instance has system events in the emulator: a well-formed empty page.
    return {
        "TotalCount": 0,
        "PageNumber": call.args["PageNumber"],
        "PageSize": call.args["PageSize"],
        "InstanceSystemEventSet": {"InstanceSystemEventType": []},
    }


# --- lifecycle ----------------------------------------------------------------------------


def _own_instance(call: Call, action: str) -> Instance:
    instance = instances.get(call.store, call.caller.account_id, call.args["InstanceId"])
    if instance is None:
        raise errors.instance_not_found(action, call.args["InstanceId"])
    return instance


def _transition(call: Call, action: str, expected: str, status: str) -> dict[str, Any]:
    instance = _own_instance(call, action)
    if instance.status != expected:
        raise errors.incorrect_instance_status(action, f"The instance is {instance.status}; it must be {expected}.")
    if call.args.get("DryRun"):
        raise errors.dry_run_passed()
    if status == RUNNING:
        instances.start(
            call.store, instance.account_id, instance.instance_id, expected=expected, status=status, now=iso(call.now)
        )
    else:
        instances.change_status(call.store, instance.account_id, instance.instance_id, expected=expected, status=status)
    return {}


def start_instance(call: Call) -> dict[str, Any]:
    return _transition(call, "StartInstance", STOPPED, RUNNING)


def stop_instance(call: Call) -> dict[str, Any]:
    return _transition(call, "StopInstance", RUNNING, STOPPED)


def delete_instance(call: Call) -> dict[str, Any]:
    instance = _own_instance(call, "DeleteInstance")
    if instance.deletion_protection:
        raise errors.deletion_protected("DeleteInstance", instance.instance_id)
    if instance.status != STOPPED and not call.args["Force"]:
        raise errors.incorrect_instance_status("DeleteInstance", "Stop the instance first, or set Force=true.")
    if call.args["DryRun"]:
        raise errors.dry_run_passed()
    instances.delete_many(call.store, instance.account_id, instance.region_id, [instance.instance_id])
    instance_tags.remove_all(call, [instance.instance_id])
    return {}


def delete_instances(call: Call) -> dict[str, Any]:
    args = call.args
    ids: Sequence[str] = args["InstanceId"]
    found = instances.find_in_region(call.store, call.caller.account_id, args["RegionId"], ids)
    missing = [i for i in ids if i not in found]
    if missing:
        # The code Terraform's alicloud_ecs_instance_set tolerates as "already gone".
        err = vendor.api_error("ecs", "DeleteInstances", "InvalidInstanceIds.NotFound")
        raise ApiError(err.code, err.status, f"{err.message.rstrip('.')}: {missing[0][:64]}.")
    protected = [i for i in ids if found[i].deletion_protection]
    if protected:
        raise errors.deletion_protected("DeleteInstances", protected[0])
    running = [i for i in ids if found[i].status != STOPPED]
    if running and not args["Force"]:
        raise errors.incorrect_instance_status(
            "DeleteInstances", f"Instance {running[0]} is not Stopped; set Force=true."
        )
    if args["DryRun"]:
        raise vendor.api_error("ecs", "DeleteInstances", "DRYRUN.SUCCESS")
    instances.delete_many(call.store, call.caller.account_id, args["RegionId"], ids)
    instance_tags.remove_all(call, ids)
    return {}


def modify_metadata_options(call: Call) -> dict[str, Any]:
    args = call.args
    if args["InstanceId"] is None:
        raise vendor.api_error(
            "ecs", "ModifyInstanceMetadataOptions", "InvalidInstanceId.NotFound", detail="InstanceId is required."
        )
    instance = _own_instance(call, "ModifyInstanceMetadataOptions")
    if instance.region_id != args["RegionId"]:
        raise errors.instance_not_found("ModifyInstanceMetadataOptions", instance.instance_id)
    instances.set_metadata_options(
        call.store,
        instance,
        http_endpoint=args["HttpEndpoint"],
        http_tokens=args["HttpTokens"] or instance.http_tokens,
        hop_limit=args["HttpPutResponseHopLimit"] or instance.http_put_response_hop_limit,
    )
    return {}


# --- authorization resources ----------------------------------------------------------------


def _one_instance(call: Call) -> Sequence[str]:
    region = call.args.get("RegionId") or "*"
    return (instance_arn(region, call.caller.account_id, call.args["InstanceId"] or "*"),)


def _listed_instances(call: Call) -> Sequence[str]:
    return tuple(instance_arn(call.args["RegionId"], call.caller.account_id, i) for i in call.args["InstanceId"])


def _region_instances(call: Call) -> Sequence[str]:
    """Any instance of the region: what creating or listing instances acts on."""
    return (instance_arn(call.args["RegionId"], call.caller.account_id, "*"),)


def _malformed_ids() -> ApiError:
    return errors.instance_ids_malformed()


def _located_instance(call: Call) -> Sequence[str]:
    """The instance's ARN, in its own region when the operation names none."""
    region = call.args.get("RegionId")
    instance_id = call.args["InstanceId"] or "*"
    if region is None:
        found = instances.get(call.store, call.caller.account_id, instance_id)
        region = found.region_id if found is not None else "*"
    return (instance_arn(region, call.caller.account_id, instance_id),)


@dataclass(frozen=True, slots=True)
class DeletedInstanceList(FlatList):
    """``InstanceId.N`` of DeleteInstances: more than 100 is the vendor's TooManyInstanceIds."""

    def read(self, raw: Mapping[str, str]) -> Any:
        prefix = f"{self.name}."
        indexes = [key[len(prefix) :] for key in raw if key.startswith(prefix)]
        numbers = [list_index(index) for index in indexes]
        if any(n is not None and n > self.max_items for n in numbers) or len(indexes) > self.max_items:
            raise vendor.api_error("ecs", "DeleteInstances", "InvalidParameter.TooManyInstanceIds")
        return FlatList.read(self, raw)


_ATTRIBUTE_CHANGES = (
    Checked("InstanceName", check=_instance_name),
    Checked("Description", check=model.description_check("ModifyInstanceAttribute")),
    Checked("HostName", check=model.host_name_check("ModifyInstanceAttribute")),
    Checked("Password", check=model.password_check("ModifyInstanceAttribute")),
    Checked("UserData", check=model.user_data_check("ModifyInstanceAttribute")),
    SecurityGroupList("SecurityGroupIds", max_items=16, action="ModifyInstanceAttribute"),
)


OPERATIONS: tuple[Operation, ...] = (
    operation(
        "ecs",
        "RunInstances",
        run_instances,
        params=(*_creation_params("RunInstances"), Integer("Amount", minimum=1, maximum=100, default=1)),
        resources=_region_instances,
    ),
    operation(
        "ecs", "CreateInstance", create_instance, params=_creation_params("CreateInstance"), resources=_region_instances
    ),
    operation(
        "ecs",
        "DescribeInstances",
        describe_instances,
        params=(
            region_param(),
            JsonStringList("InstanceIds", max_items=100, error=_malformed_ids),
            Checked(
                "InstanceNetworkType",
                check=choice_of("DescribeInstances", "InvalidNetworkType.NotFound", (VPC, CLASSIC)),
            ),
            Checked("Status", check=choice_of("DescribeInstances", "InvalidStatus.NotFound", _STATUSES)),
            *paging_params(100),
            Checked("NextToken", check=next_token),
            Checked(
                "InstanceChargeType",
                check=choice_of("DescribeInstances", "InvalidInstanceChargeType.NotFound", model.CHARGE_TYPES, 404),
            ),
            # Terraform asks for META_OPTIONS, DDH_CLUSTER, ...: every attribute is always shown.
            FlatList("AdditionalAttributes", max_items=5, max_item_length=64),
            instance_tags.tag_filter_param("DescribeInstances", too_many="InvalidTagCount"),
        ),
        resources=_region_instances,
    ),
    operation(
        "ecs",
        "DescribeInstanceAttribute",
        describe_instance_attribute,
        params=(String("InstanceId", required=True, max_length=128),),
        resources=_located_instance,
    ),
    operation(
        "ecs",
        "ModifyInstanceAttribute",
        modify_instance_attribute,
        params=(String("InstanceId", required=True, max_length=128), *_ATTRIBUTE_CHANGES),
        resources=_located_instance,
    ),
    operation(
        "ecs",
        "DescribeUserData",
        describe_user_data,
        params=(region_param(), String("InstanceId", required=True, max_length=128)),
        resources=_one_instance,
    ),
    operation(
        "ecs",
        "DescribeInstanceStatus",
        describe_instance_status,
        params=(region_param(), *paging_params(50), FlatList("InstanceId", max_items=100)),
        resources=_region_instances,
    ),
    operation(
        "ecs",
        "DescribeInstanceHistoryEvents",
        describe_instance_history_events,
        params=(region_param(), *paging_params(100)),
        resources=_region_instances,
    ),
    operation("ecs", "StartInstance", start_instance, resources=_one_instance),
    operation("ecs", "StopInstance", stop_instance, resources=_one_instance),
    operation(
        "ecs",
        "DeleteInstance",
        delete_instance,
        params=(Boolean("Force", default=False), Boolean("DryRun", default=False)),
        resources=_one_instance,
    ),
    operation(
        "ecs",
        "DeleteInstances",
        delete_instances,
        params=(
            region_param(),
            DeletedInstanceList("InstanceId", required=True, max_items=100),
            Boolean("Force", default=False),
            Boolean("DryRun", default=False),
        ),
        resources=_listed_instances,
    ),
    operation(
        "ecs",
        "ModifyInstanceMetadataOptions",
        modify_metadata_options,
        params=(
            region_param(),
            Checked(
                "HttpEndpoint",
                required=True,
                check=choice_of(
                    "ModifyInstanceMetadataOptions", "InvalidHttpEndpoint.NotSupported", ("enabled", "disabled")
                ),
            ),
            Checked(
                "HttpTokens",
                check=choice_of(
                    "ModifyInstanceMetadataOptions", "InvalidHttpTokens.NotSupported", ("optional", "required")
                ),
            ),
            Checked("HttpPutResponseHopLimit", check=_hop_limit("ModifyInstanceMetadataOptions")),
        ),
        resources=_one_instance,
    ),
)
