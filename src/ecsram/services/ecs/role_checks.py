"""The checks every operation that gives an instance a role makes of that role, in the cloud's order:
the role exists in the caller's account, trusts ECS, and the caller may pass it."""

from __future__ import annotations

from ecsram.contract.access import may_pass_role
from ecsram.contract.call import Call
from ecsram.iam.arns import role_arn
from ecsram.iam.trust import trusts_ecs
from ecsram.services.ecs import errors
from ecsram.store import roles
from ecsram.store.roles import Role


def checked_role_for_instances(call: Call, action: str, role_name: str) -> Role:
    role = roles.find(call.store, call.caller.account_id, role_name)
    if role is None:
        raise errors.role_not_found(action)
    if not trusts_ecs(role.assume_role_policy):
        raise errors.not_ecs_role(action)
    if not may_pass_role(call, role_arn(role.account_id, role.role_name)):
        raise errors.pass_role_forbidden(action)
    return role
