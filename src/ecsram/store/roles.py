"""RAM roles of an account."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from ecsram.store.named import NamedEntities
from ecsram.store.schema import roles
from ecsram.store.sql import Statement, Tx, in_list


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


ROLES: NamedEntities[Role] = NamedEntities(
    "role",
    roles,
    Role,
    mutable=("description", "assume_role_policy", "max_session_duration", "updated_at"),
    id_column="role_id",
    name_column="role_name",
)
insert = ROLES.insert
find = ROLES.find
by_id = ROLES.by_id
save = ROLES.save
delete = ROLES.delete
list_page = ROLES.list_page
count = ROLES.count

_LOCK = Statement(
    "lock_roles",
    select(roles.c.role_id).where(in_list(roles.c.role_id, "ids")).order_by(roles.c.role_id).with_for_update(),
    lists=("ids",),
)


def lock(tx: Tx, role_ids: Sequence[str]) -> None:
    """Lock the roles' rows until commit (in RoleId order, so that racing batches never deadlock):
    what serialises changes to a role's tags, whose limit is checked after writing."""
    tx.all(_LOCK, {"ids": sorted(role_ids)})
