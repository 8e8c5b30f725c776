"""RAM users of an account, and their AccessKeys."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select, update
from sqlalchemy import delete as sql_delete

from ecsram.store.accounts import AccessKey
from ecsram.store.named import NamedEntities
from ecsram.store.schema import access_keys, users
from ecsram.store.sql import Statement, Tx

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


USERS: NamedEntities[User] = NamedEntities(
    "user",
    users,
    User,
    mutable=("user_name", "display_name", "mobile_phone", "email", "comments", "updated_at"),
    id_column="user_id",
    name_column="user_name",
)
insert = USERS.insert
find = USERS.find
by_id = USERS.by_id
save = USERS.save
delete = USERS.delete
list_page = USERS.list_page
count = USERS.count

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
    "delete_key", sql_delete(access_keys).where(access_keys.c.access_key_id == bindparam("access_key_id"))
)


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
