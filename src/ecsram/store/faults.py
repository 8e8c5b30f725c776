"""Fault injection rules and the token buckets of emulated throttling (see docs/faults.md).

A rule's "next N calls" count is taken with one conditional UPDATE, so that across worker
processes (and hosts sharing a PostgreSQL store) no more than N calls are faulted. A throttling
token is taken with one INSERT ... ON CONFLICT DO UPDATE ... WHERE, which the database runs
atomically: a bucket's row is the only state, refilled from the time of its last update.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Float, bindparam, case, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.sql import ClauseElement

from ecsram.store.schema import fault_rules, throttle_buckets
from ecsram.store.sql import Statement, Tx, insert_if_absent, params


@dataclass(frozen=True, slots=True)
class StoredRule:
    rule_id: str
    account_id: str | None
    action: str
    product: str | None
    instance_id: str | None
    effect: str
    code: str | None
    status: int | None
    message: str | None
    latency_ms: int | None
    probability: float | None
    remaining: int | None
    expires_at: float | None
    created_at: float


_COLUMNS = tuple(column.name for column in fault_rules.columns)

_INSERT = Statement("insert_fault_rule", insert(fault_rules).values(**params(*_COLUMNS)))
_INSERT_IF_ABSENT = insert_if_absent("insert_fault_rule_if_absent", fault_rules, params(*_COLUMNS))
_LIVE = Statement(
    "live_fault_rules",
    select(*fault_rules.columns)
    .where(or_(fault_rules.c.expires_at.is_(None), fault_rules.c.expires_at > bindparam("now")))
    .order_by(fault_rules.c.created_at, fault_rules.c.rule_id),
)
_PRUNE = Statement("prune_fault_rules", delete(fault_rules).where(fault_rules.c.expires_at <= bindparam("now")))
_DELETE_ONE = Statement("delete_fault_rule", delete(fault_rules).where(fault_rules.c.rule_id == bindparam("rule_id")))
_DELETE_ONE_OF = Statement(
    "delete_fault_rule_of_account",
    delete(fault_rules).where(
        fault_rules.c.rule_id == bindparam("rule_id"), fault_rules.c.account_id == bindparam("account_id")
    ),
)
_DELETE_ALL = Statement("delete_fault_rules", delete(fault_rules))
_DELETE_ALL_OF = Statement(
    "delete_fault_rules_of_account", delete(fault_rules).where(fault_rules.c.account_id == bindparam("account_id"))
)
_CLAIM = Statement(
    "claim_fault_rule",
    update(fault_rules)
    .where(fault_rules.c.rule_id == bindparam("rule_id"), fault_rules.c.remaining > 0)
    .values(remaining=fault_rules.c.remaining - 1),
)


def insert_rule(tx: Tx, rule: StoredRule) -> None:
    tx.run(_INSERT, {name: getattr(rule, name) for name in _COLUMNS})


def insert_rule_if_absent(tx: Tx, rule: StoredRule) -> bool:
    return tx.run(_INSERT_IF_ABSENT, {name: getattr(rule, name) for name in _COLUMNS}) == 1


def live_rules(tx: Tx, now: float) -> list[StoredRule]:
    """The rules that have not expired, oldest first (used-up counted rules included)."""
    return [StoredRule(*row) for row in tx.all(_LIVE, {"now": now})]


def prune(tx: Tx, now: float) -> int:
    return tx.run(_PRUNE, {"now": now})


def delete_rule(tx: Tx, rule_id: str, account_id: str | None = None) -> bool:
    if account_id is None:
        return tx.run(_DELETE_ONE, {"rule_id": rule_id}) == 1
    return tx.run(_DELETE_ONE_OF, {"rule_id": rule_id, "account_id": account_id}) == 1


def delete_all(tx: Tx, account_id: str | None = None) -> int:
    if account_id is None:
        return tx.run(_DELETE_ALL)
    return tx.run(_DELETE_ALL_OF, {"account_id": account_id})


def claim(tx: Tx, rule_id: str) -> bool:
    """Take one of a counted rule's remaining calls; False when none is left."""
    return tx.run(_CLAIM, {"rule_id": rule_id}) == 1


def _take_token(dialect_name: str) -> ClauseElement:
    now = bindparam("now", type_=Float)
    rate = bindparam("rate", type_=Float)
    capacity = bindparam("capacity", type_=Float)
    construct = sqlite_dialect.insert if dialect_name == "sqlite" else postgresql_dialect.insert
    statement = construct(throttle_buckets).values(
        access_key_id=bindparam("access_key_id"), action=bindparam("action"), tokens=capacity - 1, updated_at=now
    )
    refilled = throttle_buckets.c.tokens + (now - throttle_buckets.c.updated_at) * rate
    available = case((refilled > capacity, capacity), else_=refilled)
    return statement.on_conflict_do_update(
        index_elements=[throttle_buckets.c.access_key_id, throttle_buckets.c.action],
        set_={"tokens": available - 1, "updated_at": now},
        where=available >= 1,
    )


_TAKE_TOKEN = Statement.per_dialect("take_throttle_token", _take_token)


def take_token(tx: Tx, access_key_id: str, action: str, now: float, rate: float, capacity: float) -> bool:
    """Take one token from the bucket of (AccessKey, action); False when it is empty."""
    bound = {"access_key_id": access_key_id, "action": action, "now": now, "rate": rate, "capacity": capacity}
    return tx.run(_TAKE_TOKEN, bound) == 1
