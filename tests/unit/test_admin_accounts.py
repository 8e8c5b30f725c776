"""POST /_ecsram/accounts creates accounts only on a loopback-only server, for loopback clients."""

from __future__ import annotations

from pathlib import Path

import orjson

from ecsram.admin.accounts import create_account
from ecsram.clock import Clock
from ecsram.config import Settings
from ecsram.store import accounts
from ecsram.store.database import Database


def _database(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'accounts.db'}")
    database.migrate()
    return database


def test_creates_an_account_for_a_loopback_client(tmp_path: Path) -> None:
    database = _database(tmp_path)
    try:
        status, body = create_account(Settings(), database, Clock(), {"method": "POST", "client": ("127.0.0.1", 5)})
        created = orjson.loads(body)
        with database.transaction(write=False) as tx:
            key = accounts.find_access_key(tx, created["AccessKeyId"])
    finally:
        database.close()
    assert status == 201
    assert key is not None and (key.account_id, key.secret) == (created["AccountId"], created["AccessKeySecret"])


def test_refused_beyond_loopback(tmp_path: Path) -> None:
    database = _database(tmp_path)
    try:
        wide = Settings(host="0.0.0.0")
        assert create_account(wide, database, Clock(), {"method": "POST", "client": ("127.0.0.1", 5)})[0] == 403
        remote = {"method": "POST", "client": ("192.0.2.7", 5)}
        assert create_account(Settings(), database, Clock(), remote)[0] == 403
        with database.transaction(write=False) as tx:
            assert accounts.count_accounts(tx) == 0
    finally:
        database.close()
