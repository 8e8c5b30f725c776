"""Create accounts directly in a server's store (as ``ecsram account create`` does)."""

from __future__ import annotations

import time

from ecsram.store import accounts
from ecsram.store.database import Database


def create_account(database_url: str) -> accounts.AccessKey:
    database = Database(database_url)
    try:
        with database.transaction() as tx:
            return accounts.create_account(tx, time.time())
    finally:
        database.close()


def set_access_key_status(database_url: str, access_key_id: str, status: str) -> None:
    database = Database(database_url)
    try:
        with database.transaction() as tx:
            if not accounts.set_access_key_status(tx, access_key_id, status):
                raise LookupError(access_key_id)
    finally:
        database.close()
