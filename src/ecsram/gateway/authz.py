"""Authorization: may this principal perform the operation's RAM action on its resources?

Root (account) credentials are not subject to RAM policies. Everyone else is checked here,
before the handler runs, against the ARNs the operation declares.
"""

from __future__ import annotations

from ecsram.gateway.context import Call
from ecsram.gateway.errors import ApiError


def authorize(call: Call) -> None:
    principal = call.caller
    if principal.is_root:
        return
    raise ApiError("Forbidden.RAM", 403, "User not authorized to operate on the specified resource.")


def require_pass_role(call: Call, role_arn: str) -> bool:
    """Whether the caller may pass the role to a service (``ram:PassRole`` on its ARN)."""
    return call.caller.is_root
