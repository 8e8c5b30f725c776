"""RAM users of an account, and their AccessKeys."""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy import bindparam, delete, func, select, update

from ecsram.store.accounts import AccessKey
from ecsram.store.schema import access_keys, users
from ecsram.store.sql import Statement, Tx, insert_if_absent, params

MAX_KEYS_PER_USER = 2


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    account_id: str
    user_name: str
    display_name: str
    mobile_phone: str
    email: str
    comments: str
    created_at: str
    updated_at: str


_NAMES = [f.name for f in fields(User)]
_COLUMNS = tuple(users.c[name] for name in _NAMES)
_BY_NAME = (users.c.account_id == bindparam("account_id")) & (users.c.user_name_key == bindparam("name_key"))


_INSERT = insert_if_absent("insert_user", users, params(*_NAMES, user_name_key="name_key"))
_FIND = Statement("find_user", select(*_COLUMNS).where(_BY_NAME))
_BY_ID = Statement("user_by_id", select(*_COLUMNS).where(users.c.user_id == bindparam("user_id")))
_UPDATE = Statement(
    "update_user",
    update(users)
    .where(users.c.user_id == bindparam("user_id"))
    .values(
        user_name=bindparam("user_name"),
        user_name_key=bindparam("name_key"),
        display_name=bindparam("display_name"),
        mobile_phone=bindparam("mobile_phone"),
        email=bindparam("email"),
        comments=bindparam("comments"),
        updated_at=bindparam("updated_at"),
    ),
)
_DELETE = Statement("delete_user", delete(users).where(users.c.user_id == bindparam("user_id")))
_LIST = Statement(
    "list_users",
    select(*_COLUMNS)
    .where(users.c.account_id == bindparam("account_id"), users.c.user_name_key > bindparam("after"))
    .order_by(users.c.user_name_key)
    .limit(bindparam("limit")),
)
_COUNT = Statement("count_users", select(func.count()).where(users.c.account_id == bindparam("account_id")))

_KEY_COLUMNS = (
    access_keys.c.access_key_id,
    access_keys.c.access_key_secret,
    access_keys.c.account_id,
    access_keys.c.user_id,
    access_keys.c.status,
    access_keys.c.created_at,
)
_KEYS_OF = Statement(
    "keys_of_user",
    select(*_KEY_COLUMNS)
    .where(access_keys.c.account_id == bindparam("account_id"), access_keys.c.user_id == bindparam("user_id"))
    .order_by(access_keys.c.created_at, access_keys.c.access_key_id),
)
_ROOT_KEYS_OF = Statement(
    "root_keys_of_account",
    select(*_KEY_COLUMNS)
    .where(access_keys.c.account_id == bindparam("account_id"), access_keys.c.user_id.is_(None))
    .order_by(access_keys.c.created_at, access_keys.c.access_key_id),
)
_SET_KEY_STATUS = Statement(
    "set_key_status",
    update(access_keys)
    .where(access_keys.c.access_key_id == bindparam("access_key_id"))
    .values(status=bindparam("status")),
)
_DELETE_KEY = Statement(
    "delete_key", delete(access_keys).where(access_keys.c.access_key_id == bindparam("access_key_id"))
)


def name_key(user_name: str) -> str:
    return user_name.lower()


def insert(tx: Tx, user: User) -> bool:
    params = {name: getattr(user, name) for name in _NAMES}
    return tx.run(_INSERT, {**params, "name_key": name_key(user.user_name)}) == 1


def find(tx: Tx, account_id: str, user_name: str) -> User | None:
    row = tx.one(_FIND, {"account_id": account_id, "name_key": name_key(user_name)})
    return None if row is None else User(*row)


def by_id(tx: Tx, user_id: str) -> User | None:
    row = tx.one(_BY_ID, {"user_id": user_id})
    return None if row is None else User(*row)


def save(tx: Tx, user: User) -> None:
    params = {name: getattr(user, name) for name in _NAMES if name not in ("account_id", "created_at")}
    tx.run(_UPDATE, {**params, "name_key": name_key(user.user_name)})


def delete_user(tx: Tx, user_id: str) -> None:
    tx.run(_DELETE, {"user_id": user_id})


def list_page(tx: Tx, account_id: str, *, after: str, limit: int) -> list[User]:
    return [User(*row) for row in tx.all(_LIST, {"account_id": account_id, "after": after, "limit": limit})]


def count(tx: Tx, account_id: str) -> int:
    return int(tx.scalar(_COUNT, {"account_id": account_id}))


@dataclass(frozen=True, slots=True)
class StoredKey:
    key: AccessKey
    created_at: str


def keys_of(tx: Tx, account_id: str, user_id: str | None) -> list[StoredKey]:
    """The AccessKeys of a user, or the account's root keys when ``user_id`` is None."""
    if user_id is None:
        rows = tx.all(_ROOT_KEYS_OF, {"account_id": account_id})
    else:
        rows = tx.all(_KEYS_OF, {"account_id": account_id, "user_id": user_id})
    return [StoredKey(AccessKey(row[0], row[1], row[2], row[3], row[4]), row[5]) for row in rows]


def set_key_status(tx: Tx, access_key_id: str, status: str) -> None:
    tx.run(_SET_KEY_STATUS, {"access_key_id": access_key_id, "status": status})


def delete_key(tx: Tx, access_key_id: str) -> None:
    tx.run(_DELETE_KEY, {"access_key_id": access_key_id})
