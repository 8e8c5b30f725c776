"""ecsram's own account-wide operations (Version 2026-11-01), for callers beyond loopback: the
signed forms of ``POST /_ecsram/reset`` and ``GET /_ecsram/state`` (see admin/http.py).

They live here, not in ``services``, because a reset re-applies seeds, and a seed runs the
services' operations: this package stands on the services, never the other way round.
"""

from __future__ import annotations

from typing import Any

from ecsram.admin import world
from ecsram.admin.seedfile import SeedError
from ecsram.contract.call import Call
from ecsram.contract.catalogue.params import Boolean
from ecsram.contract.errors import ApiError
from ecsram.contract.operation import Operation, operation
from ecsram.services import all_operations


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
    account_id = _root_only(call, "ResetAccount")
    try:
        result = world.reset(call.store, call.now, account_id, forget_seed=call.args["ForgetSeed"])
    except SeedError as exc:
        raise ApiError("SeedFailed", 409, f"The reset was undone: {exc}") from None
    return {"AccountId": account_id, "SeedRestored": result["seedRestored"]}


def describe_account_state(call: Call) -> dict[str, Any]:
    """The caller's account as ``GET /_ecsram/state?account=ID`` shows it (no secrets)."""
    account_id = _root_only(call, "DescribeAccountState")
    return {"State": world.account_state(call.store, account_id)}


OPERATIONS: tuple[Operation, ...] = (
    operation("ecsram", "ResetAccount", reset_account, params=(Boolean("ForgetSeed", default=False),)),
    operation("ecsram", "DescribeAccountState", describe_account_state),
)


def served_operations() -> list[Operation]:
    """Every operation the API answers: the services' and these."""
    return [*all_operations(), *OPERATIONS]
