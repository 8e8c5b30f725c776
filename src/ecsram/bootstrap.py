"""Prepare a store for serving: schema, token secret, and the first account."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from ecsram.config import DEFAULT_ACCOUNT_ID, DEFAULT_ROOT_ACCESS_KEY_ID, DEFAULT_ROOT_ACCESS_KEY_SECRET
from ecsram.store import accounts
from ecsram.store import settings as stored_settings
from ecsram.store.database import Database


class StartupRefused(Exception):
    """The server must not start as configured; the message says why and what to do."""


@dataclass(frozen=True)
class Bootstrap:
    root_keys: list[tuple[str, str, str]]


def _initial_root_key() -> tuple[str, str, str]:
    """Account ID, AccessKeyId and secret for the first account: the environment's, or the defaults."""
    account_id = os.environ.get("ECSRAM_ACCOUNT_ID") or DEFAULT_ACCOUNT_ID
    key_id = os.environ.get("ECSRAM_ROOT_ACCESS_KEY_ID", "")
    secret = os.environ.get("ECSRAM_ROOT_ACCESS_KEY_SECRET", "")
    if bool(key_id) != bool(secret):
        raise StartupRefused("set both ECSRAM_ROOT_ACCESS_KEY_ID and ECSRAM_ROOT_ACCESS_KEY_SECRET, or neither")
    if key_id:
        return account_id, key_id, secret
    return account_id, DEFAULT_ROOT_ACCESS_KEY_ID, DEFAULT_ROOT_ACCESS_KEY_SECRET


def prepare_store(database: Database) -> Bootstrap:
    """Migrate; create the token secret and, on an empty store, the first account."""
    database.migrate()
    # A store that reads but refuses writes (a read-only file or role) would start, pass its
    # health check and then answer 503 to every call: refuse it here, naming the cause.
    database.check_writable()
    with database.transaction() as tx:
        stored_settings.ensure_token_secret(tx)
        if accounts.count_accounts(tx) == 0:
            account_id, key_id, secret = _initial_root_key()
            try:
                accounts.create_account(
                    tx, time.time(), account_id=account_id, access_key_id=key_id, access_key_secret=secret
                )
            except accounts.AccountConflict as exc:
                raise StartupRefused(f"cannot create the first account: {exc}") from exc
        keys = accounts.root_keys(tx)
    return Bootstrap(keys)


def seed_store(database: Database, seed_file: str) -> str:
    """Apply a seed file in one transaction; a summary of what changed. SeedError if it cannot
    be applied (the store is then unchanged)."""
    from ecsram.admin import seed, seedfile

    declared = seedfile.read_file(seed_file)
    with database.transaction() as tx:
        outcome = seed.apply(tx, declared, time.time())
    return outcome.summary()
