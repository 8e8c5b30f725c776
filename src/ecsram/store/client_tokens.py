"""ClientToken idempotency records."""

from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ClauseElement

from ecsram.store.schema import client_tokens
from ecsram.store.sql import Statement, Tx

_KEY = (
    (client_tokens.c.account_id == bindparam("account_id"))
    & (client_tokens.c.action == bindparam("action"))
    & (client_tokens.c.client_token == bindparam("client_token"))
)


def _claim(dialect_name: str) -> ClauseElement:
    construct = sqlite.insert if dialect_name == "sqlite" else postgresql.insert
    return (
        construct(client_tokens)
        .values(
            account_id=bindparam("account_id"),
            action=bindparam("action"),
            client_token=bindparam("client_token"),
            fingerprint=bindparam("fingerprint"),
            created_at=bindparam("now"),
        )
        .on_conflict_do_nothing()
    )


_CLAIM = Statement.per_dialect("claim_client_token", _claim)
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
