"""ClientToken idempotency records."""

from __future__ import annotations

from sqlalchemy import bindparam, select, update

from ecsram.store.schema import client_tokens
from ecsram.store.sql import Statement, Tx, insert_if_absent, params

_KEY = (
    (client_tokens.c.account_id == bindparam("account_id"))
    & (client_tokens.c.action == bindparam("action"))
    & (client_tokens.c.client_token == bindparam("client_token"))
)


_CLAIM = insert_if_absent(
    "claim_client_token",
    client_tokens,
    params("account_id", "action", "client_token", "fingerprint", created_at="now"),
)
_GET = Statement("get_client_token", select(client_tokens.c.fingerprint, client_tokens.c.result).where(_KEY))
_SET_RESULT = Statement("set_client_token_result", update(client_tokens).where(_KEY).values(result=bindparam("result")))


def claim(tx: Tx, account_id: str, action: str, token: str, fingerprint: str, now: str) -> bool:
    """True if this request is the first with the token (a racing twin waits for it, then sees it)."""
    params = {"account_id": account_id, "action": action, "client_token": token, "fingerprint": fingerprint, "now": now}
    return tx.run(_CLAIM, params) == 1


def recorded(tx: Tx, account_id: str, action: str, token: str) -> tuple[str, str | None]:
    """(fingerprint, result) recorded for the token."""
    row = tx.one(_GET, {"account_id": account_id, "action": action, "client_token": token})
    assert row is not None, "recorded() follows a failed claim()"
    return row[0], row[1]


def record_result(tx: Tx, account_id: str, action: str, token: str, result: str) -> None:
    tx.run(_SET_RESULT, {"account_id": account_id, "action": action, "client_token": token, "result": result})
