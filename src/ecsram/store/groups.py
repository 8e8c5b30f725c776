"""RAM user groups and their members."""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy import bindparam, func, select
from sqlalchemy import delete as sql_delete

from ecsram.store.named import NamedEntities
from ecsram.store.schema import group_members, groups, users
from ecsram.store.sql import Statement, Tx, insert_if_absent, params


@dataclass(frozen=True, slots=True)
class Group:
    group_id: str
    account_id: str
    group_name: str
    comments: str
    created_at: str
    updated_at: str


GROUPS: NamedEntities[Group] = NamedEntities(
    "group",
    groups,
    Group,
    mutable=("group_name", "comments", "updated_at"),
    id_column="group_id",
    name_column="group_name",
)
insert = GROUPS.insert
find = GROUPS.find
by_id = GROUPS.by_id
save = GROUPS.save
delete = GROUPS.delete
list_page = GROUPS.list_page
count = GROUPS.count
_COLUMNS = tuple(groups.c[f.name] for f in fields(Group))

_JOIN = insert_if_absent("join_group", group_members, params("account_id", "group_id", "user_id", joined_at="now"))
_LEAVE = Statement(
    "leave_group",
    sql_delete(group_members).where(
        group_members.c.group_id == bindparam("group_id"), group_members.c.user_id == bindparam("user_id")
    ),
)
_GROUPS_OF = Statement(
    "groups_of_user",
    select(*_COLUMNS, group_members.c.joined_at)
    .select_from(group_members.join(groups, groups.c.group_id == group_members.c.group_id))
    .where(group_members.c.user_id == bindparam("user_id"))
    .order_by(groups.c.group_name_key),
)
_MEMBERS = Statement(
    "members_of_group",
    select(users.c.user_name, users.c.display_name, users.c.user_name_key, group_members.c.joined_at)
    .select_from(group_members.join(users, users.c.user_id == group_members.c.user_id))
    .where(group_members.c.group_id == bindparam("group_id"), users.c.user_name_key > bindparam("after"))
    .order_by(users.c.user_name_key)
    .limit(bindparam("limit")),
)
_MEMBER_COUNT = Statement("member_count", select(func.count()).where(group_members.c.group_id == bindparam("group_id")))


def add_member(tx: Tx, group: Group, user_id: str, now: str) -> bool:
    params = {"account_id": group.account_id, "group_id": group.group_id, "user_id": user_id, "now": now}
    return tx.run(_JOIN, params) == 1


def remove_member(tx: Tx, group_id: str, user_id: str) -> bool:
    return tx.run(_LEAVE, {"group_id": group_id, "user_id": user_id}) == 1


def groups_of(tx: Tx, user_id: str) -> list[tuple[Group, str]]:
    """(group, joined at) for each group the user belongs to."""
    return [(Group(*row[:-1]), row[-1]) for row in tx.all(_GROUPS_OF, {"user_id": user_id})]


def members(tx: Tx, group_id: str, *, after: str, limit: int) -> list[tuple[str, str, str, str]]:
    """(user name, display name, name key, joined at) of members after ``after``, in name order."""
    rows = tx.all(_MEMBERS, {"group_id": group_id, "after": after, "limit": limit})
    return [(row[0], row[1], row[2], row[3]) for row in rows]


def member_count(tx: Tx, group_id: str) -> int:
    return int(tx.scalar(_MEMBER_COUNT, {"group_id": group_id}))
