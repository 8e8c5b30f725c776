"""Server-wide settings kept in the store, so that every process and host shares them."""

from __future__ import annotations

import secrets

from sqlalchemy import bindparam, insert, select, update

from ecsram.store.schema import server_settings
from ecsram.store.sql import Statement, Tx

TOKEN_SECRET = "token_secret"
CLOCK_OFFSET = "clock_offset_seconds"

_GET = Statement("get_setting", select(server_settings.c.value).where(server_settings.c.name == bindparam("name")))
_INSERT = Statement("insert_setting", insert(server_settings).values(name=bindparam("name"), value=bindparam("value")))
_UPDATE = Statement(
    "update_setting",
    update(server_settings).where(server_settings.c.name == bindparam("name")).values(value=bindparam("value")),
)


def get(tx: Tx, name: str) -> str | None:
    value = tx.scalar(_GET, {"name": name})
    return None if value is None else str(value)


def put(tx: Tx, name: str, value: str) -> None:
    if tx.run(_UPDATE, {"name": name, "value": value}) == 0:
        tx.run(_INSERT, {"name": name, "value": value})


def ensure_token_secret(tx: Tx) -> bytes:
    """The key that signs STS and metadata tokens, created once per database."""
    value = get(tx, TOKEN_SECRET)
    if value is None:
        value = secrets.token_hex(32)
        put(tx, TOKEN_SECRET, value)
    return bytes.fromhex(value)
