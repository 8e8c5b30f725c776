"""Principals made directly in a store, for unit tests: RAM users with keys, STS role sessions."""

from __future__ import annotations

import time

from ecsram.iam.tokens import IssuedCredentials, TokenAuthority
from ecsram.store import accounts, users
from ecsram.store.database import Database
from ecsram.store.times import iso

USER_ID = "2000000000000001"


def add_user_key(database: Database, root: accounts.AccessKey, *, user_name: str = "alice") -> accounts.AccessKey:
    """A RAM user of ``root``'s account, with an active AccessKey."""
    now = time.time()
    key = accounts.AccessKey(
        accounts.new_access_key_id(), accounts.new_access_key_secret(), root.account_id, USER_ID, accounts.ACTIVE
    )
    with database.transaction() as tx:
        user = users.User(USER_ID, root.account_id, user_name, user_name, "", "", "", iso(now), iso(now))
        assert users.insert(tx, user)
        accounts.insert_access_key(tx, key, now)
    return key


def issue_session(
    tokens: TokenAuthority, root: accounts.AccessKey, *, expires_in: float = 3600, policy: str | None = None
) -> IssuedCredentials:
    return tokens.issue_session(
        account_id=root.account_id,
        role_id="300000000000000001",
        role_name="web",
        session_name="sess",
        expires_at=int(time.time() + expires_in),
        policy=policy,
    )
