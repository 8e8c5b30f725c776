"""ecsram's own operations (Version 2026-11-01): what the emulator needs beyond the cloud's API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ecsram.contract.call import Call
from ecsram.contract.catalogue.params import String
from ecsram.contract.operation import Operation, operation
from ecsram.services.ecs import errors
from ecsram.services.ecs.arns import instance_arn
from ecsram.store import instances


def get_instance_metadata_secret(call: Call) -> dict[str, Any]:
    """The secret a metadata request for this instance must present when ecsram listens beyond
    loopback (as the proxy password). Only the instance's account can read it."""
    instance = instances.get(call.store, call.caller.account_id, call.args["InstanceId"])
    if instance is None:
        raise errors.instance_not_found("DescribeInstanceAttribute", call.args["InstanceId"])
    return {
        "InstanceId": instance.instance_id,
        "MetadataSecret": call.tokens.instance_secret(instance.instance_id),
    }


def _instance(call: Call) -> Sequence[str]:
    return (instance_arn("*", call.caller.account_id, call.args["InstanceId"]),)


OPERATIONS: tuple[Operation, ...] = (
    operation(
        "ecsram",
        "GetInstanceMetadataSecret",
        get_instance_metadata_secret,
        params=(String("InstanceId", required=True, max_length=64),),
        resources=_instance,
    ),
)
