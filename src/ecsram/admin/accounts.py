"""``POST /_ecsram/accounts``: create an account and return its root AccessKey (loopback only).

For test tooling that talks to a running server and has no access to its database (the pytest
plugin with ``ECSRAM_URL``). It does what ``ecsram account create`` does, with generated IDs. A
server listening beyond loopback answers 403: there, accounts are created by whoever runs it.
"""

from __future__ import annotations

from typing import Any

import orjson

from ecsram.clock import Clock
from ecsram.config import Settings, is_loopback
from ecsram.store import accounts
from ecsram.store.database import Database

ACCOUNTS_PATH = "/_ecsram/accounts"


def create_account(settings: Settings, database: Database, clock: Clock, scope: dict[str, Any]) -> tuple[int, bytes]:
    """(status, JSON body) for one request to ``ACCOUNTS_PATH``."""
    client = scope.get("client")
    if not settings.loopback_only or client is None or not is_loopback(str(client[0])):
        return 403, orjson.dumps({"status": "accounts are created over HTTP only on a loopback-only server"})
    if scope["method"] != "POST":
        return 405, orjson.dumps({"status": "use POST"})
    with database.transaction() as tx:
        key = accounts.create_account(tx, clock.now(tx))
    body = {"AccountId": key.account_id, "AccessKeyId": key.access_key_id, "AccessKeySecret": key.secret}
    return 201, orjson.dumps(body)
