"""Accounts and their AccessKeys."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass

from sqlalchemy import bindparam, func, insert, select, true

from ecsram.store.schema import access_keys, accounts, credential_generation, users
from ecsram.store.sql import Statement, Tx
from ecsram.store.times import iso

ACCOUNT_ID = re.compile(r"[0-9]{16}")
ACCESS_KEY_ID = re.compile(r"[A-Za-z0-9]{16,64}")
ACCESS_KEY_SECRET = re.compile(r"[A-Za-z0-9]{16,128}")
_ALPHANUMERIC = string.ascii_letters + string.digits

ACTIVE = "Active"
INACTIVE = "Inactive"


class AccountConflict(ValueError):
    """The account or AccessKey to create exists already, or is malformed."""


@dataclass(frozen=True, slots=True)
class AccessKey:
    access_key_id: str
    secret: str
    account_id: str
    user_id: str | None
    status: str


_FIND_KEY = Statement(
    "find_access_key",
    select(
        access_keys.c.access_key_secret, access_keys.c.account_id, access_keys.c.user_id, access_keys.c.status
    ).where(access_keys.c.access_key_id == bindparam("access_key_id")),
)
# Everything authentication needs about a key, in one read (one snapshot on every backend): the
# key, its user's name (NULL for a root key, or a dangling user) and the credentials' generation.
_FIND_SIGNING_KEY = Statement(
    "find_signing_key",
    select(
        access_keys.c.access_key_secret,
        access_keys.c.account_id,
        access_keys.c.user_id,
        access_keys.c.status,
        users.c.user_name,
        credential_generation.c.generation,
    )
    .select_from(
        access_keys.outerjoin(users, users.c.user_id == access_keys.c.user_id).join(credential_generation, true())
    )
    .where(access_keys.c.access_key_id == bindparam("access_key_id")),
)
_ACCOUNT_EXISTS = Statement(
    "account_exists", select(accounts.c.account_id).where(accounts.c.account_id == bindparam("account_id"))
)
_COUNT_ACCOUNTS = Statement("count_accounts", select(func.count()).select_from(accounts))
_INSERT_ACCOUNT = Statement(
    "insert_account", insert(accounts).values(account_id=bindparam("account_id"), created_at=bindparam("created_at"))
)
_INSERT_KEY = Statement(
    "insert_access_key",
    insert(access_keys).values(
        access_key_id=bindparam("access_key_id"),
        access_key_secret=bindparam("secret"),
        account_id=bindparam("account_id"),
        user_id=bindparam("user_id"),
        status=bindparam("status"),
        created_at=bindparam("created_at"),
    ),
)
_ROOT_KEYS = Statement(
    "root_keys",
    select(access_keys.c.access_key_id, access_keys.c.account_id, access_keys.c.status).where(
        access_keys.c.user_id.is_(None)
    ),
)


def find_access_key(tx: Tx, access_key_id: str) -> AccessKey | None:
    row = tx.one(_FIND_KEY, {"access_key_id": access_key_id})
    if row is None:
        return None
    return AccessKey(access_key_id, row[0], row[1], row[2], row[3])


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An AccessKey as authentication reads it: with its user's name and the generation of the
    credentials at the moment of reading (``user_name`` is None for a root key and for a key
    whose user is gone)."""

    key: AccessKey
    user_name: str | None
    generation: int


def find_signing_key(tx: Tx, access_key_id: str) -> SigningKey | None:
    row = tx.one(_FIND_SIGNING_KEY, {"access_key_id": access_key_id})
    if row is None:
        return None
    return SigningKey(AccessKey(access_key_id, row[0], row[1], row[2], row[3]), row[4], int(row[5]))


def count_accounts(tx: Tx) -> int:
    return int(tx.scalar(_COUNT_ACCOUNTS))


def root_keys(tx: Tx) -> list[tuple[str, str, str]]:
    """(AccessKeyId, account ID, status) of every root key."""
    return [tuple(row) for row in tx.all(_ROOT_KEYS)]


def new_access_key_id() -> str:
    return "LTAI" + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(20))


def new_access_key_secret() -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(30))


def new_account_id() -> str:
    return "1" + "".join(secrets.choice(string.digits) for _ in range(15))


def insert_access_key(tx: Tx, key: AccessKey, now: float) -> None:
    tx.run(
        _INSERT_KEY,
        {
            "access_key_id": key.access_key_id,
            "secret": key.secret,
            "account_id": key.account_id,
            "user_id": key.user_id,
            "status": key.status,
            "created_at": iso(now),
        },
    )


def check_key_format(access_key_id: str, access_key_secret: str) -> None:
    """AccountConflict unless the pair is a well-formed long-term AccessKey."""
    if not ACCESS_KEY_ID.fullmatch(access_key_id) or access_key_id.upper().startswith("STS"):
        raise AccountConflict("an AccessKeyId is 16 to 64 letters and digits and does not start with STS")
    if not ACCESS_KEY_SECRET.fullmatch(access_key_secret):
        raise AccountConflict("an AccessKeySecret is 16 to 128 letters and digits")


def create_account(
    tx: Tx,
    now: float,
    *,
    account_id: str | None = None,
    access_key_id: str | None = None,
    access_key_secret: str | None = None,
) -> AccessKey:
    """A new account with an active root AccessKey (generated where not given)."""
    account_id = account_id or new_account_id()
    access_key_id = access_key_id or new_access_key_id()
    access_key_secret = access_key_secret or new_access_key_secret()
    if not ACCOUNT_ID.fullmatch(account_id):
        raise AccountConflict(f"account ID {account_id!r} is not 16 digits")
    check_key_format(access_key_id, access_key_secret)
    if tx.one(_ACCOUNT_EXISTS, {"account_id": account_id}) is not None:
        raise AccountConflict(f"account {account_id} exists already")
    if find_access_key(tx, access_key_id) is not None:
        raise AccountConflict(f"AccessKeyId {access_key_id} is in use already")
    tx.run(_INSERT_ACCOUNT, {"account_id": account_id, "created_at": iso(now)})
    key = AccessKey(access_key_id, access_key_secret, account_id, None, ACTIVE)
    insert_access_key(tx, key, now)
    return key


_SET_STATUS = Statement(
    "set_access_key_status",
    access_keys.update()
    .where(access_keys.c.access_key_id == bindparam("access_key_id"))
    .values(status=bindparam("status")),
)


def set_access_key_status(tx: Tx, access_key_id: str, status: str) -> bool:
    return tx.run(_SET_STATUS, {"access_key_id": access_key_id, "status": status}) == 1
