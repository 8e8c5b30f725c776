"""Replay protection: a nonce is accepted once per AccessKey while it is remembered."""

from __future__ import annotations

from sqlalchemy import bindparam, delete

from ecsram.store.schema import nonces
from ecsram.store.sql import Statement, Tx, insert_if_absent, params

# Requests are accepted up to 15 minutes either side of server time, so a nonce must be
# remembered for at least 30 minutes to catch every replay that could still pass that check.
NONCE_RETENTION_SECONDS = 30 * 60
MAX_NONCE_LENGTH = 128


_REMEMBER = insert_if_absent("remember_nonce", nonces, params("access_key_id", "nonce", "expires_at"))
_PRUNE = Statement("prune_nonces", delete(nonces).where(nonces.c.expires_at < bindparam("now")))


def remember(tx: Tx, access_key_id: str, nonce: str, now: float) -> bool:
    """Record the nonce; False if this AccessKey used it already (a replay)."""
    inserted = tx.run(
        _REMEMBER,
        {"access_key_id": access_key_id, "nonce": nonce, "expires_at": int(now) + NONCE_RETENTION_SECONDS},
    )
    return inserted == 1


def prune(tx: Tx, now: float) -> int:
    return tx.run(_PRUNE, {"now": int(now)})
