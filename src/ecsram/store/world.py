"""The whole world at once: list accounts, list an account's instances, wipe an account's resources.

Used by reset and state (``ecsram.admin``); the request path never calls these.
"""

from __future__ import annotations

from sqlalchemy import Table, bindparam, delete, select

from ecsram.store.instances import Instance
from ecsram.store.schema import (
    access_keys,
    accounts,
    client_tokens,
    group_members,
    groups,
    instances,
    policies,
    policy_attachments,
    policy_versions,
    roles,
    server_settings,
    users,
)
from ecsram.store.sql import Statement, Tx

_ACCOUNTS = Statement("all_accounts", select(accounts.c.account_id).order_by(accounts.c.account_id))
_INSTANCES = Statement(
    "instances_of_account",
    select(*(instances.c[name] for name in Instance.__dataclass_fields__))
    .where(instances.c.account_id == bindparam("account_id"))
    .order_by(instances.c.region_id, instances.c.instance_id),
)

# Everything an account owns except the account and its root keys, in an order that leaves no
# row pointing at a deleted one. Users' AccessKeys go; root keys (user_id NULL) stay.
_RESOURCE_TABLES: tuple[Table, ...] = (
    group_members,
    policy_attachments,
    policy_versions,
    policies,
    groups,
    users,
    roles,
    instances,
    client_tokens,
)
_WIPES = tuple(
    Statement(f"wipe_{table.name}", delete(table).where(table.c.account_id == bindparam("account_id")))
    for table in _RESOURCE_TABLES
)
_WIPE_USER_KEYS = Statement(
    "wipe_user_access_keys",
    delete(access_keys).where(access_keys.c.account_id == bindparam("account_id"), access_keys.c.user_id.isnot(None)),
)


def account_ids(tx: Tx) -> list[str]:
    return [row[0] for row in tx.all(_ACCOUNTS)]


def account_exists(tx: Tx, account_id: str) -> bool:
    return account_id in account_ids(tx)


def instances_of(tx: Tx, account_id: str) -> list[Instance]:
    return [Instance(*row) for row in tx.all(_INSTANCES, {"account_id": account_id})]


def wipe_account(tx: Tx, account_id: str) -> None:
    """Delete every resource of the account: users (and their keys), groups, custom policies,
    attachments, roles, instances, ClientTokens. The account and its root keys remain."""
    tx.run(_WIPE_USER_KEYS, {"account_id": account_id})
    for statement in _WIPES:
        tx.run(statement, {"account_id": account_id})


_DELETE_SETTING = Statement(
    "delete_setting", delete(server_settings).where(server_settings.c.name == bindparam("name"))
)


def clear_setting(tx: Tx, name: str) -> None:
    tx.run(_DELETE_SETTING, {"name": name})
