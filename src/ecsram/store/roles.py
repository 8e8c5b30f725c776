"""RAM roles of an account."""

from __future__ import annotations

from dataclasses import dataclass

from ecsram.store.named import NamedEntities
from ecsram.store.schema import roles


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
