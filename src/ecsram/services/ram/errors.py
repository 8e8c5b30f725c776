"""RAM errors (the vendor's codes; RAM's published metadata carries no messages, so these are ours)."""

from __future__ import annotations

from ecsram.contract.errors import ApiError


def entity_not_exist(kind: str, name: str) -> ApiError:
    return ApiError(f"EntityNotExist.{kind}", 404, f"The {kind.lower()} does not exist: {name[:128]}.")


def entity_already_exists(kind: str, name: str) -> ApiError:
    return ApiError(f"EntityAlreadyExists.{kind}", 409, f"The {kind.lower()} already exists: {name[:128]}.")


def invalid_length(parameter: str, maximum: int) -> ApiError:
    return ApiError(
        f"InvalidParameter.{parameter}.Length", 400, f"The length of {parameter} must not exceed {maximum} characters."
    )


def malformed_policy(reason: str) -> ApiError:
    return ApiError("MalformedPolicyDocument", 400, f"The policy document is malformed: {reason}")


def limit_exceeded(kind: str, limit: int) -> ApiError:
    return ApiError(
        f"LimitExceeded.{kind}", 409, f"The count of {kind.lower()}s in this account exceeds the limit of {limit}."
    )


def delete_conflict(code_suffix: str, message: str) -> ApiError:
    return ApiError(f"DeleteConflict.{code_suffix}", 409, message)
