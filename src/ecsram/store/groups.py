"""RAM user groups and their members."""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy import bindparam, delete, func, select, update

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


_NAMES = [f.name for f in fields(Group)]
_COLUMNS = tuple(groups.c[name] for name in _NAMES)
_BY_NAME = (groups.c.account_id == bindparam("account_id")) & (groups.c.group_name_key == bindparam("name_key"))


_INSERT = insert_if_absent("insert_group", groups, params(*_NAMES, group_name_key="name_key"))
_FIND = Statement("find_group", select(*_COLUMNS).where(_BY_NAME))
_BY_ID = Statement("group_by_id", select(*_COLUMNS).where(groups.c.group_id == bindparam("group_id")))
_UPDATE = Statement(
    "update_group",
    update(groups)
    .where(groups.c.group_id == bindparam("group_id"))
    .values(
        group_name=bindparam("group_name"),
        group_name_key=bindparam("name_key"),
        comments=bindparam("comments"),
        updated_at=bindparam("updated_at"),
    ),
)
_DELETE = Statement("delete_group", delete(groups).where(groups.c.group_id == bindparam("group_id")))
_LIST = Statement(
    "list_groups",
    select(*_COLUMNS)
    .where(groups.c.account_id == bindparam("account_id"), groups.c.group_name_key > bindparam("after"))
    .order_by(groups.c.group_name_key)
    .limit(bindparam("limit")),
)
_JOIN = insert_if_absent("join_group", group_members, params("account_id", "group_id", "user_id", joined_at="now"))
_LEAVE = Statement(
    "leave_group",
    delete(group_members).where(
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


def name_key(group_name: str) -> str:
    return group_name.lower()


def insert(tx: Tx, group: Group) -> bool:
    params = {name: getattr(group, name) for name in _NAMES}
    return tx.run(_INSERT, {**params, "name_key": name_key(group.group_name)}) == 1


def find(tx: Tx, account_id: str, group_name: str) -> Group | None:
    row = tx.one(_FIND, {"account_id": account_id, "name_key": name_key(group_name)})
    return None if row is None else Group(*row)


def by_id(tx: Tx, group_id: str) -> Group | None:
    row = tx.one(_BY_ID, {"group_id": group_id})
    return None if row is None else Group(*row)


def save(tx: Tx, group: Group) -> None:
    tx.run(
        _UPDATE,
        {
            "group_id": group.group_id,
            "group_name": group.group_name,
            "name_key": name_key(group.group_name),
            "comments": group.comments,
            "updated_at": group.updated_at,
        },
    )


def delete_group(tx: Tx, group_id: str) -> None:
    tx.run(_DELETE, {"group_id": group_id})


def list_page(tx: Tx, account_id: str, *, after: str, limit: int) -> list[Group]:
    return [Group(*row) for row in tx.all(_LIST, {"account_id": account_id, "after": after, "limit": limit})]


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
