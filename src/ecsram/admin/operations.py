"""ecsram's own account-wide operations (Version 2026-11-01), for callers beyond loopback: the
signed forms of ``POST /_ecsram/reset`` and ``GET /_ecsram/state`` (see admin/http.py), and of
``/_ecsram/faults`` for the caller's own account (see admin/faults.py).

They live here, not in ``services``, because a reset re-applies seeds, and a seed runs the
services' operations: this package stands on the services, never the other way round.
"""

from __future__ import annotations

import re
import time
from typing import Any

import orjson

from ecsram.admin import world
from ecsram.admin.seedfile import SeedError
from ecsram.contract.call import Call
from ecsram.contract.catalogue.params import Boolean, String
from ecsram.contract.errors import ApiError
from ecsram.contract.operation import Operation, operation
from ecsram.faults import rules
from ecsram.services import all_operations
from ecsram.store import faults as stored_faults


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


RULE_ID = re.compile(r"fr-[0-9a-f]{16}")


def _bad_rule(message: str) -> ApiError:
    return ApiError("InvalidParameter.Rule", 400, message)


def add_fault_rule(call: Call) -> dict[str, Any]:
    """``POST /_ecsram/faults`` for the caller's account: ``Rule`` is the rule as a JSON object;
    its ``account`` is the caller's (another account is refused). In force within 0.1 s."""
    account_id = _root_only(call, "AddFaultRule")
    try:
        declared = orjson.loads(call.args["Rule"])
    except orjson.JSONDecodeError:
        raise _bad_rule("Rule is not a JSON object of rule fields (see docs/faults.md).") from None
    if not isinstance(declared, dict):
        raise _bad_rule("Rule is not a JSON object of rule fields (see docs/faults.md).")
    if declared.get("account", account_id) != account_id:
        raise _bad_rule("account: a signed call sets rules for its own account only.")
    try:
        rule = rules.parse({**declared, "account": account_id}, time.time())
    except rules.RuleError as exc:
        raise _bad_rule(str(exc)) from None
    stored_faults.insert_rule(call.store, rule)
    return {"Rule": rules.document(rule)}


def list_fault_rules(call: Call) -> dict[str, Any]:
    account_id = _root_only(call, "ListFaultRules")
    found = stored_faults.live_rules(call.store, time.time())
    return {"Rules": [rules.document(rule) for rule in found if rule.account_id == account_id]}


def remove_fault_rules(call: Call) -> dict[str, Any]:
    """Remove one of the caller's rules (``RuleId``), or all of them."""
    account_id = _root_only(call, "RemoveFaultRules")
    rule_id = call.args.get("RuleId")
    if rule_id is None:
        return {"Removed": stored_faults.delete_all(call.store, account_id)}
    if not stored_faults.delete_rule(call.store, rule_id, account_id):
        raise ApiError("EntityNotExist.FaultRule", 404, f"The fault rule {rule_id} does not exist.")
    return {"Removed": 1}


OPERATIONS: tuple[Operation, ...] = (
    operation("ecsram", "ResetAccount", reset_account, params=(Boolean("ForgetSeed", default=False),)),
    operation("ecsram", "DescribeAccountState", describe_account_state),
    operation("ecsram", "AddFaultRule", add_fault_rule, params=(String("Rule", required=True, max_length=4096),)),
    operation("ecsram", "ListFaultRules", list_fault_rules),
    operation(
        "ecsram",
        "RemoveFaultRules",
        remove_fault_rules,
        params=(String("RuleId", pattern=RULE_ID, pattern_hint="It must be a rule ID (fr-...)."),),
    ),
)


def served_operations() -> list[Operation]:
    """Every operation the API answers: the services' and these."""
    return [*all_operations(), *OPERATIONS]
