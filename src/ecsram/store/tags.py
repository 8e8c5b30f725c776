"""Tags on resources: ECS instances (``instance``, by InstanceId) and RAM roles (``role``, by RoleId).

One row per (resource, key); tagging a key again replaces its value. The per-resource limit is
checked by the caller after writing, inside the same transaction, so a request that would exceed
it changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ClauseElement, bindparam, delete, func, select
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from ecsram.store.schema import roles, tags
from ecsram.store.sql import Statement, Tx, in_list

INSTANCE = "instance"
ROLE = "role"


@dataclass(frozen=True, slots=True)
class Tag:
    resource_id: str
    key: str
    value: str


_OF_TYPE = (tags.c.account_id == bindparam("account_id")) & (tags.c.resource_type == bindparam("resource_type"))
_RESOURCES = in_list(tags.c.resource_id, "ids")
_COLUMNS = (tags.c.resource_id, tags.c.tag_key, tags.c.tag_value)


def _upsert(dialect_name: str) -> ClauseElement:
    construct = sqlite_dialect.insert if dialect_name == "sqlite" else postgresql_dialect.insert
    statement = construct(tags).values(
        account_id=bindparam("account_id"),
        resource_type=bindparam("resource_type"),
        resource_id=bindparam("resource_id"),
        tag_key=bindparam("tag_key"),
        tag_value=bindparam("tag_value"),
    )
    return statement.on_conflict_do_update(
        index_elements=[tags.c.account_id, tags.c.resource_type, tags.c.resource_id, tags.c.tag_key],
        set_={"tag_value": statement.excluded.tag_value},
    )


_UPSERT = Statement.per_dialect("upsert_tag", _upsert)
_OF_RESOURCES = Statement(
    "tags_of_resources",
    select(*_COLUMNS).where(_OF_TYPE, _RESOURCES).order_by(tags.c.resource_id, tags.c.tag_key),
    lists=("ids",),
)
_ALL_OF_TYPE = Statement("tags_of_type", select(*_COLUMNS).where(_OF_TYPE).order_by(tags.c.resource_id, tags.c.tag_key))
# Unordered: an ORDER BY would steer SQLite to the primary key (every tag of the type) instead
# of the key index; callers sort what they keep.
_WITH_KEYS = Statement(
    "tags_with_keys", select(*_COLUMNS).where(_OF_TYPE, in_list(tags.c.tag_key, "keys")), lists=("keys",)
)
_COUNTS = Statement(
    "count_tags_of_resources",
    select(tags.c.resource_id, func.count()).where(_OF_TYPE, _RESOURCES).group_by(tags.c.resource_id),
    lists=("ids",),
)
_REMOVE_KEYS = Statement(
    "remove_tag_keys",
    delete(tags).where(_OF_TYPE, _RESOURCES, in_list(tags.c.tag_key, "keys")),
    lists=("ids", "keys"),
)
_REMOVE_ALL = Statement("remove_all_tags", delete(tags).where(_OF_TYPE, _RESOURCES), lists=("ids",))
# By RoleId alone (the primary key); the account is checked on the rows found.
_ROLE_NAMES = Statement(
    "role_names_by_id",
    select(roles.c.role_id, roles.c.role_name, roles.c.account_id).where(in_list(roles.c.role_id, "ids")),
    lists=("ids",),
)


def _scope(account_id: str, resource_type: str) -> dict[str, str]:
    return {"account_id": account_id, "resource_type": resource_type}


def put(
    tx: Tx, account_id: str, resource_type: str, resource_ids: Sequence[str], pairs: Sequence[tuple[str, str]]
) -> None:
    """Set each (key, value) on each resource, replacing the value of a key it already has."""
    rows = [
        {**_scope(account_id, resource_type), "resource_id": rid, "tag_key": key, "tag_value": value}
        for rid in resource_ids
        for key, value in pairs
    ]
    if rows:
        tx.run_many(_UPSERT, rows)


def counts(tx: Tx, account_id: str, resource_type: str, resource_ids: Sequence[str]) -> dict[str, int]:
    """How many tags each of the resources carries (those with none are absent)."""
    rows = tx.all(_COUNTS, {**_scope(account_id, resource_type), "ids": list(resource_ids)})
    return {row[0]: int(row[1]) for row in rows}


def of_resources(tx: Tx, account_id: str, resource_type: str, resource_ids: Sequence[str]) -> list[Tag]:
    """The tags of the resources, by resource then key."""
    if not resource_ids:
        return []
    rows = tx.all(_OF_RESOURCES, {**_scope(account_id, resource_type), "ids": list(resource_ids)})
    return [Tag(*row) for row in rows]


def with_keys(tx: Tx, account_id: str, resource_type: str, keys: Sequence[str]) -> list[Tag]:
    """Every tag of this type of resource whose key is one of ``keys``, in no particular order."""
    rows = tx.all(_WITH_KEYS, {**_scope(account_id, resource_type), "keys": list(keys)})
    return [Tag(*row) for row in rows]


def all_of_type(tx: Tx, account_id: str, resource_type: str) -> list[Tag]:
    """Every tag of every resource of this type in the account."""
    return [Tag(*row) for row in tx.all(_ALL_OF_TYPE, _scope(account_id, resource_type))]


def remove(
    tx: Tx, account_id: str, resource_type: str, resource_ids: Sequence[str], keys: Sequence[str] | None
) -> None:
    """Remove the keys (all tags when ``keys`` is None) from the resources."""
    if not resource_ids:
        return
    params = {**_scope(account_id, resource_type), "ids": list(resource_ids)}
    if keys is None:
        tx.run(_REMOVE_ALL, params)
    elif keys:
        tx.run(_REMOVE_KEYS, {**params, "keys": list(keys)})


def role_names(tx: Tx, account_id: str, role_ids: Sequence[str]) -> dict[str, str]:
    """RoleId -> RoleName for the roles of the account among ``role_ids``."""
    rows = tx.all(_ROLE_NAMES, {"ids": list(role_ids)})
    return {row[0]: row[1] for row in rows if row[2] == account_id}
