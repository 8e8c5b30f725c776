"""ecsram's own operations (Version 2026-11-01): what the emulator needs beyond the cloud's API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ecsram.gateway.context import Call
from ecsram.gateway.dispatch import Operation, operation
from ecsram.gateway.errors import ApiError
from ecsram.services.ecs import errors
from ecsram.services.ecs.arns import instance_arn
from ecsram.spec.params import Boolean, String
from ecsram.store import instances


def get_instance_metadata_secret(call: Call) -> dict[str, Any]:
    """The secret a metadata request for this instance must present when ecsram listens beyond
    loopback (as the proxy password). Only the instance's account can read it."""
    instance = instances.get(call.store, call.caller.account_id, call.args["InstanceId"])
    if instance is None:
        raise errors.instance_not_found("DescribeInstanceAttribute", call.args["InstanceId"])
    return {
        "InstanceId": instance.instance_id,
        "MetadataSecret": call.token_authority.instance_secret(instance.instance_id),
    }


def _root_only(call: Call, action: str) -> str:
    if not call.caller.is_root:
        raise ApiError(
            "Forbidden.RootAccessKeyRequired",
            403,
            f"{action} acts on the whole account: sign it with the account's root AccessKey.",
        )
    return call.caller.account_id


def reset_account(call: Call) -> dict[str, Any]:
    """Delete every resource of the caller's account and restore what seeds declared for it:
    ``POST /_ecsram/reset?account=ID`` for callers beyond loopback (see admin/http.py)."""
    from ecsram.admin import world
    from ecsram.admin.seedfile import SeedError

    account_id = _root_only(call, "ResetAccount")
    try:
        result = world.reset(call.store, call.now, account_id, forget_seed=call.args["ForgetSeed"])
    except SeedError as exc:
        raise ApiError("SeedFailed", 409, f"The reset was undone: {exc}") from None
    return {"AccountId": account_id, "SeedRestored": result["seedRestored"]}


def describe_account_state(call: Call) -> dict[str, Any]:
    """The caller's account as ``GET /_ecsram/state?account=ID`` shows it (no secrets)."""
    from ecsram.admin import world

    account_id = _root_only(call, "DescribeAccountState")
    return {"State": world.account_state(call.store, account_id)}


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
    operation("ecsram", "ResetAccount", reset_account, params=(Boolean("ForgetSeed", default=False),)),
    operation("ecsram", "DescribeAccountState", describe_account_state),
)
