"""RAM roles of an account."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func, select, update

from ecsram.store.schema import roles
from ecsram.store.sql import Statement, Tx, insert_if_absent, params


@dataclass(frozen=True, slots=True)
class Role:
    role_id: str
    account_id: str
    role_name: str
    description: str
    assume_role_policy: str
    max_session_duration: int
    created_at: str
    updated_at: str

    @property
    def arn(self) -> str:
        return f"acs:ram::{self.account_id}:role/{self.role_name}"


_COLUMNS = (
    roles.c.role_id,
    roles.c.account_id,
    roles.c.role_name,
    roles.c.description,
    roles.c.assume_role_policy,
    roles.c.max_session_duration,
    roles.c.created_at,
    roles.c.updated_at,
)
_BY_NAME = (roles.c.account_id == bindparam("account_id")) & (roles.c.role_name_key == bindparam("name_key"))

_FIND = Statement("find_role", select(*_COLUMNS).where(_BY_NAME))
_BY_ID = Statement("role_by_id", select(*_COLUMNS).where(roles.c.role_id == bindparam("role_id")))
_LIST = Statement(
    "list_roles",
    select(*_COLUMNS)
    .where(roles.c.account_id == bindparam("account_id"), roles.c.role_name_key > bindparam("after"))
    .order_by(roles.c.role_name_key)
    .limit(bindparam("limit")),
)
_COUNT = Statement("count_roles", select(func.count()).where(roles.c.account_id == bindparam("account_id")))
_DELETE = Statement("delete_role", delete(roles).where(_BY_NAME))
_UPDATE = Statement(
    "update_role",
    update(roles)
    .where(_BY_NAME)
    .values(
        description=bindparam("description"),
        assume_role_policy=bindparam("assume_role_policy"),
        max_session_duration=bindparam("max_session_duration"),
        updated_at=bindparam("updated_at"),
    ),
)


_INSERT = insert_if_absent(
    "insert_role",
    roles,
    params(
        "role_id",
        "account_id",
        "role_name",
        "description",
        "assume_role_policy",
        "max_session_duration",
        "created_at",
        "updated_at",
        role_name_key="name_key",
    ),
)


def name_key(role_name: str) -> str:
    return role_name.lower()


def find(tx: Tx, account_id: str, role_name: str) -> Role | None:
    row = tx.one(_FIND, {"account_id": account_id, "name_key": name_key(role_name)})
    return None if row is None else Role(*row)


def by_id(tx: Tx, role_id: str) -> Role | None:
    row = tx.one(_BY_ID, {"role_id": role_id})
    return None if row is None else Role(*row)


def insert(tx: Tx, role: Role) -> bool:
    """Store a new role; False if the account has one of that name (in any case) already."""
    inserted = tx.run(
        _INSERT,
        {
            "role_id": role.role_id,
            "account_id": role.account_id,
            "role_name": role.role_name,
            "name_key": name_key(role.role_name),
            "description": role.description,
            "assume_role_policy": role.assume_role_policy,
            "max_session_duration": role.max_session_duration,
            "created_at": role.created_at,
            "updated_at": role.updated_at,
        },
    )
    return inserted == 1


def update_role(tx: Tx, role: Role) -> bool:
    changed = tx.run(
        _UPDATE,
        {
            "account_id": role.account_id,
            "name_key": name_key(role.role_name),
            "description": role.description,
            "assume_role_policy": role.assume_role_policy,
            "max_session_duration": role.max_session_duration,
            "updated_at": role.updated_at,
        },
    )
    return changed == 1


def delete_role(tx: Tx, account_id: str, role_name: str) -> bool:
    return tx.run(_DELETE, {"account_id": account_id, "name_key": name_key(role_name)}) == 1


def list_page(tx: Tx, account_id: str, *, after: str, limit: int) -> list[Role]:
    """Roles in name order after the name key ``after`` (keyset paging)."""
    return [Role(*row) for row in tx.all(_LIST, {"account_id": account_id, "after": after, "limit": limit})]


def count(tx: Tx, account_id: str) -> int:
    return int(tx.scalar(_COUNT, {"account_id": account_id}))
