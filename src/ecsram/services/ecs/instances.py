"""ECS instances: RunInstances, CreateInstance, DescribeInstances, Start/Stop/Delete, metadata options.

Instances exist so that the RAM role operations have something to act on; they are records,
not machines. Decisions (see docs/fidelity.md): an instance created with a ``VSwitchId`` is on
the ``vpc`` network, without one on ``classic``; RunInstances instances are ``Running`` at once,
CreateInstance ones ``Stopped``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from collections.abc import Sequence
from typing import Any

import orjson

from ecsram.contract import paging
from ecsram.contract.call import Call
from ecsram.contract.catalogue import vendor
from ecsram.contract.catalogue.params import Boolean, Checked, FlatList, Integer, JsonStringList, String
from ecsram.contract.errors import ApiError
from ecsram.contract.operation import Operation, operation
from ecsram.services.ecs import errors
from ecsram.services.ecs import tags as instance_tags
from ecsram.services.ecs.arns import instance_arn
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


def _private_ip(network_type: str) -> str:
    a, b, c = secrets.randbelow(256), secrets.randbelow(254) + 1, secrets.randbelow(16)
    return f"172.{16 + c}.{a}.{b}" if network_type == VPC else f"10.{c}.{a}.{b}"


def _vpc_of(vswitch_id: str) -> str:
    # The emulator has no VPC resources: a VSwitch stands for itself, in a VPC named after it.
    return "vpc-" + hashlib.sha256(vswitch_id.encode()).hexdigest()[:20]


# --- parameter checks ---------------------------------------------------------------------


def _choice(action: str, code: str, choices: tuple[str, ...]) -> Any:
    def check(raw: str) -> str:
        if raw not in choices:
            raise vendor.api_error(
                "ecs", action, code, fallback=(400, f"The specified value must be one of {', '.join(choices)}.")
            )
        return raw

    return check


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


def _creation_params(action: str) -> tuple[Any, ...]:
    return (
        region_param(),
        String("ImageId", required=True, max_length=128),
        String("InstanceType", required=True, max_length=64),
        String("VSwitchId", max_length=64),
        String("ZoneId", max_length=32),
        Checked("InstanceName", check=_instance_name),
        String("Description", max_length=256),
        String("HostName", max_length=64),
        String("RamRoleName", max_length=64),
        Checked("ClientToken", check=_client_token),
        Checked(
            "HttpEndpoint",
            default="enabled",
            check=_choice(action, "InvalidHttpEndpoint.NotSupported", ("enabled", "disabled")),
        ),
        Checked(
            "HttpTokens",
            default="optional",
            check=_choice(action, "InvalidHttpTokens.NotSupported", ("optional", "required")),
        ),
        Checked("HttpPutResponseHopLimit", default=1, check=_hop_limit(action)),
        Boolean("DryRun", default=False),
        instance_tags.tag_param(action),
    )


# --- creation -----------------------------------------------------------------------------


def _fingerprint(args: dict[str, Any]) -> str:
    significant = sorted((k, v) for k, v in args.items() if k not in ("ClientToken", "DryRun") and v is not None)
    return hashlib.sha256(orjson.dumps(significant)).hexdigest()


def _build(
    call: Call, count: int, status: str, role_name: str | None, now: str, ids: Sequence[str] | None
) -> list[Instance]:
    args = call.args
    vswitch = args["VSwitchId"]
    network_type = VPC if vswitch else CLASSIC
    built = []
    for index in range(count):
        instance_id = ids[index] if ids else new_instance_id()
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
                private_ip=_private_ip(network_type),
                status=status,
                http_endpoint=args["HttpEndpoint"],
                http_tokens=args["HttpTokens"],
                http_put_response_hop_limit=args["HttpPutResponseHopLimit"],
                created_at=now,
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
    created = _build(call, count, status, role_name, now, instance_ids)
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


def _cpu_memory(instance_type: str) -> tuple[int, int]:
    """vCPUs and memory (MiB) from the type's size and family, e.g. ecs.g7.large -> 2, 8192."""
    parts = instance_type.split(".")
    size = parts[-1] if parts else ""
    match = re.fullmatch(r"(\d*)xlarge", size)
    cpu = (int(match.group(1) or 1) * 4) if match else {"small": 1, "medium": 1, "large": 2}.get(size, 2)
    family = parts[1] if len(parts) > 2 else ""
    per_cpu = {"c": 2, "g": 4, "r": 8, "t": 2}.get(family[:1], 4)
    return cpu, cpu * per_cpu * 1024


def _minute(timestamp: str) -> str:
    return timestamp[:16] + "Z"  # DescribeInstances reports times to the minute: 2026-01-01T12:00Z


def instance_view(instance: Instance) -> dict[str, Any]:
    cpu, memory = _cpu_memory(instance.instance_type)
    ips = {"IpAddress": [instance.private_ip]}
    return {
        "InstanceId": instance.instance_id,
        "InstanceName": instance.instance_name,
        "Description": instance.description,
        "HostName": instance.host_name,
        "RegionId": instance.region_id,
        "ZoneId": instance.zone_id,
        "Status": instance.status,
        "InstanceType": instance.instance_type,
        "InstanceTypeFamily": ".".join(instance.instance_type.split(".")[:2]),
        "Cpu": cpu,
        "Memory": memory,
        "ImageId": instance.image_id,
        "OSType": "linux",
        "InstanceNetworkType": instance.network_type,
        "VpcAttributes": {
            "VpcId": instance.vpc_id or "",
            "VSwitchId": instance.vswitch_id or "",
            "PrivateIpAddress": ips if instance.network_type == VPC else {"IpAddress": []},
            "NatIpAddress": "",
        },
        "InnerIpAddress": ips if instance.network_type == CLASSIC else {"IpAddress": []},
        "PublicIpAddress": {"IpAddress": []},
        "SecurityGroupIds": {"SecurityGroupId": []},
        "MetadataOptions": {
            "HttpEndpoint": instance.http_endpoint,
            "HttpTokens": instance.http_tokens,
            "HttpPutResponseHopLimit": instance.http_put_response_hop_limit,
        },
        "CreationTime": _minute(instance.created_at),
        "InstanceChargeType": "PostPaid",
        "InternetChargeType": "PayByTraffic",
        "ExpiredTime": "2099-12-31T15:59Z",
        "IoOptimized": True,
        "DeletionProtection": False,
        "SpotStrategy": "NoSpot",
        "StoppedMode": "Not-applicable",
        "Tags": {"Tag": []},
    }


def _next_token(raw: str) -> str:
    try:
        return paging.decode(raw)
    except ValueError:
        raise ApiError("InvalidParameter", 400, 'The specified parameter "NextToken" is not valid.') from None


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
    ):
        if args.get(arg) is not None:
            filters[key] = list(args[arg]) if key == "ids" else args[arg]
    if args["Tag"]:
        tagged = instance_tags.instances_with_tags(call, args["Tag"])
        filters["ids"] = sorted(tagged.intersection(filters["ids"]) if "ids" in filters else tagged)
    keyset = args["NextToken"] is not None or args["MaxResults"] is not None
    if keyset:
        size = args["MaxResults"] or 10
        total, page = instances.list_page(
            call.store, call.caller.account_id, args["RegionId"], filters, after=args["NextToken"] or "", limit=size + 1
        )
        more = len(page) > size
        page = page[:size]
        token = paging.encode(page[-1].instance_id) if more else ""
        return {
            "TotalCount": total,
            "NextToken": token,
            "PageSize": size,
            "PageNumber": 1,
            "Instances": {"Instance": _views(call, page)},
        }
    number, size = args["PageNumber"], args["PageSize"]
    total, page = instances.list_page(
        call.store, call.caller.account_id, args["RegionId"], filters, offset=(number - 1) * size, limit=size
    )
    return {
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
        "Instances": {"Instance": _views(call, page)},
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
    instances.change_status(call.store, instance.account_id, instance.instance_id, expected=expected, status=status)
    return {}


def start_instance(call: Call) -> dict[str, Any]:
    return _transition(call, "StartInstance", STOPPED, RUNNING)


def stop_instance(call: Call) -> dict[str, Any]:
    return _transition(call, "StopInstance", RUNNING, STOPPED)


def delete_instance(call: Call) -> dict[str, Any]:
    instance = _own_instance(call, "DeleteInstance")
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
        raise errors.instance_not_found("DeleteInstances", missing[0])
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
                check=_choice("DescribeInstances", "InvalidNetworkType.NotFound", (VPC, CLASSIC)),
            ),
            Checked("Status", check=_choice("DescribeInstances", "InvalidStatus.NotFound", _STATUSES)),
            Integer("PageNumber", minimum=1, default=1),
            Integer("PageSize", minimum=1, maximum=100, default=10),
            Checked("NextToken", check=_next_token),
            instance_tags.tag_filter_param("DescribeInstances", too_many="InvalidTagCount"),
        ),
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
            FlatList("InstanceId", required=True, max_items=100),
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
                check=_choice(
                    "ModifyInstanceMetadataOptions", "InvalidHttpEndpoint.NotSupported", ("enabled", "disabled")
                ),
            ),
            Checked(
                "HttpTokens",
                check=_choice(
                    "ModifyInstanceMetadataOptions", "InvalidHttpTokens.NotSupported", ("optional", "required")
                ),
            ),
            Checked("HttpPutResponseHopLimit", check=_hop_limit("ModifyInstanceMetadataOptions")),
        ),
        resources=_one_instance,
    ),
)
