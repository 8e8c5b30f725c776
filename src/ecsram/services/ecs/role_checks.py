"""The checks every operation that gives an instance a role makes of that role, in the cloud's order:
the role exists in the caller's account, trusts ECS, and the caller may pass it."""

from __future__ import annotations

from ecsram.gateway.authz import require_pass_role
from ecsram.gateway.context import Call
from ecsram.services.ecs import errors
from ecsram.services.ram.documents import trusts_ecs
from ecsram.store import roles
from ecsram.store.roles import Role


def checked_role_for_instances(call: Call, action: str, role_name: str) -> Role:
    role = roles.find(call.store, call.caller.account_id, role_name)
    if role is None:
        raise errors.role_not_found(action)
    if not trusts_ecs(role.assume_role_policy):
        raise errors.not_ecs_role(action)
    if not require_pass_role(call, role.arn):
        raise errors.pass_role_forbidden(action)
    return role
