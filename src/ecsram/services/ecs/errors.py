"""ECS errors: the vendor's published code, status and message wherever it publishes one."""

from __future__ import annotations

from ecsram.contract.catalogue import vendor
from ecsram.contract.errors import ApiError


def instance_ids_malformed() -> ApiError:
    return vendor.api_error("ecs", "AttachInstanceRamRole", "InvalidInstanceIds.Malformed")


def instance_not_found(action: str, instance_id: str | None = None) -> ApiError:
    err = vendor.api_error(
        "ecs", action, "InvalidInstanceId.NotFound", fallback=(404, "The specified InstanceId does not exist.")
    )
    if instance_id is None:
        return err
    return ApiError(err.code, err.status, f"{err.message.rstrip('.')}: {instance_id[:64]}.")


def role_not_found(action: str) -> ApiError:
    return vendor.api_error(
        "ecs", action, "InvalidRamRole.NotFound", fallback=(404, "The specified RAMRoleName does not exist.")
    )


def not_ecs_role(action: str) -> ApiError:
    # 404 on AttachInstanceRamRole, 401 on RunInstances / CreateInstance: the vendor publishes both.
    return vendor.api_error("ecs", action, "InvalidRamRole.NotEcsRole")


def classic_network(action: str) -> ApiError:
    return vendor.api_error(
        "ecs",
        action,
        "InvalidNetworkType.MismatchRamRole",
        fallback=(403, "Ram role cannot be applied to instances of Classic network type."),
    )


def pass_role_forbidden(action: str) -> ApiError:
    return vendor.api_error(
        "ecs",
        action,
        "InvalidUser.PassRoleForbidden",
        fallback=(403, "The RAM user does not have the privilege to pass a RAM role."),
    )


def incorrect_instance_status(action: str, reason: str) -> ApiError:
    err = vendor.api_error("ecs", action, "IncorrectInstanceStatus", detail=reason)
    # Where the vendor publishes a bare placeholder the reason is the message; else it follows it.
    return err if err.message == reason else ApiError(err.code, err.status, f"{err.message} {reason}")


def deletion_protected(action: str, instance_id: str) -> ApiError:
    reason = f"Instance {instance_id} has deletion protection: turn it off with ModifyInstanceAttribute first."
    err = vendor.api_error(
        "ecs",
        action,
        "InvalidOperation.DeletionProtection",
        fallback=(403, "The operation is not allowed due to deletion protection."),
        detail=reason,
    )
    return err if err.message == reason else ApiError(err.code, err.status, f"{err.message} {reason}")


def dry_run_passed() -> ApiError:
    return ApiError("DryRunOperation", 400, "Request validation has been passed with DryRun flag set.")
