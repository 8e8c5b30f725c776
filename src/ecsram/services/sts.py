"""STS (2015-04-01): AssumeRole and GetCallerIdentity."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ecsram.contract.access import request_context
from ecsram.contract.call import Call
from ecsram.contract.catalogue import vendor
from ecsram.contract.catalogue.params import Checked, Integer
from ecsram.contract.errors import ApiError
from ecsram.contract.operation import Operation, operation
from ecsram.iam.arns import role_arn
from ecsram.iam.cache import parsed
from ecsram.iam.evaluate import trust_allows
from ecsram.iam.policy import MalformedPolicy, PolicyKind, parse_policy
from ecsram.iam.principal import PrincipalKind
from ecsram.store import roles
from ecsram.store.times import iso

MIN_DURATION = 900
MAX_POLICY_LENGTH = 2048
_ROLE_ARN = re.compile(r"acs:ram::([0-9]{16}):role/([A-Za-z0-9.\-]{1,64})")
_SESSION_NAME = re.compile(r"[A-Za-z0-9.@_\-]{2,64}")


def _error(code: str) -> ApiError:
    return vendor.api_error("sts", "AssumeRole", code)


def _role_arn(raw: str) -> tuple[str, str]:
    match = _ROLE_ARN.fullmatch(raw)
    if match is None:
        raise _error("InvalidParameter.RoleArn")
    return match.group(1), match.group(2)


def _session_name(raw: str) -> str:
    if not _SESSION_NAME.fullmatch(raw):
        raise _error("InvalidParameter.RoleSessionName")
    return raw


def _duration(raw: str) -> int:
    value = Integer("DurationSeconds").parse(raw)
    if value < MIN_DURATION:
        raise _error("InvalidParameter.DurationSeconds")
    return int(value)


def _policy(raw: str) -> str:
    if len(raw.encode()) > MAX_POLICY_LENGTH:
        raise _error("InvalidParameter.PolicySize")
    try:
        parse_policy(raw, PolicyKind.SESSION)
    except MalformedPolicy as exc:
        err = _error("InvalidParameter.PolicyGrammar")
        raise ApiError(err.code, err.status, f"{err.message} {exc}") from None
    return raw


def assume_role(call: Call) -> dict[str, Any]:
    args = call.args
    account_id, role_name = args["RoleArn"]
    caller = call.caller
    role = roles.find(call.store, account_id, role_name)
    if role is None:
        raise _error("EntityNotExist.Role")
    duration = args["DurationSeconds"] or 3600
    if duration > role.max_session_duration:
        err = _error("InvalidParameter.DurationSeconds")
        raise ApiError(
            err.code,
            err.status,
            f"DurationSeconds must be between {MIN_DURATION} and the role's MaxSessionDuration "
            f"({role.max_session_duration}).",
        )
    trust = parsed(role.assume_role_policy, PolicyKind.TRUST)
    if not trust_allows(trust, {"RAM": caller.arn}, request_context(call)):
        raise ApiError(
            "NoPermission",
            403,
            f"You are not authorized to do this action: the trust policy of role {role.role_name} "
            f"does not allow {caller.arn} to assume it.",
        )
    credentials = call.tokens.issue_session(
        account_id=role.account_id,
        role_id=role.role_id,
        role_name=role.role_name,
        session_name=args["RoleSessionName"],
        expires_at=int(call.now) + duration,
        policy=args["Policy"],
    )
    return {
        "Credentials": {
            "AccessKeyId": credentials.access_key_id,
            "AccessKeySecret": credentials.access_key_secret,
            "SecurityToken": credentials.security_token,
            "Expiration": iso(credentials.expires_at),
        },
        "AssumedRoleUser": {
            "Arn": f"{role_arn(role.account_id, role.role_name)}/{args['RoleSessionName']}",
            "AssumedRoleId": f"{role.role_id}:{args['RoleSessionName']}",
        },
    }


def get_caller_identity(call: Call) -> dict[str, Any]:
    caller = call.caller
    identity: dict[str, Any] = {"AccountId": caller.account_id, "Arn": caller.arn, "IdentityType": caller.type_name}
    if caller.kind is PrincipalKind.ROOT:
        identity.update(UserId=caller.account_id, PrincipalId=caller.account_id)
    elif caller.kind is PrincipalKind.USER:
        identity.update(UserId=caller.user_id, PrincipalId=caller.user_id)
    else:
        identity.update(RoleId=caller.role_id, PrincipalId=f"{caller.role_id}:{caller.session_name}")
    return identity


def _role_resource(call: Call) -> Sequence[str]:
    account_id, role_name = call.args["RoleArn"]
    return (role_arn(account_id, role_name),)


OPERATIONS: tuple[Operation, ...] = (
    operation(
        "sts",
        "AssumeRole",
        assume_role,
        params=(
            Checked("RoleArn", required=True, check=_role_arn),
            Checked("RoleSessionName", required=True, check=_session_name),
            Checked("DurationSeconds", check=_duration),
            Checked("Policy", check=_policy),
        ),
        resources=_role_resource,
    ),
    # Anyone may ask who they are; RAM does not govern it.
    operation("sts", "GetCallerIdentity", get_caller_identity, governed=False),
)
