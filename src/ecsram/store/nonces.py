"""Replay protection: a nonce is accepted once per AccessKey while it is remembered."""

from __future__ import annotations

from sqlalchemy import BigInteger, String, bindparam, delete, select
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.sql import ClauseElement

from ecsram.store.schema import credential_generation, nonces
from ecsram.store.sql import Statement, Tx, insert_if_absent, params

# Requests are accepted up to 15 minutes either side of server time, so a nonce must be
# remembered for at least 30 minutes to catch every replay that could still pass that check.
NONCE_RETENTION_SECONDS = 30 * 60
MAX_NONCE_LENGTH = 128


_REMEMBER = insert_if_absent("remember_nonce", nonces, params("access_key_id", "nonce", "expires_at"))


def _remember_if_current(dialect_name: str) -> ClauseElement:
    construct = sqlite_dialect.insert if dialect_name == "sqlite" else postgresql_dialect.insert
    values = select(
        bindparam("access_key_id", type_=String),
        bindparam("nonce", type_=String),
        bindparam("expires_at", type_=BigInteger),
    ).where(credential_generation.c.generation == bindparam("generation"))
    return construct(nonces).from_select(["access_key_id", "nonce", "expires_at"], values).on_conflict_do_nothing()


# The nonce insert of a request signed with a cached AccessKey: it records the nonce only while
# the credentials' generation is the one the key was cached at (see gateway/credentials.py).
_REMEMBER_IF_CURRENT = Statement.per_dialect("remember_nonce_if_current", _remember_if_current)
_PRUNE = Statement("prune_nonces", delete(nonces).where(nonces.c.expires_at < bindparam("now")))


def remember(tx: Tx, access_key_id: str, nonce: str, now: float) -> bool:
    """Record the nonce; False if this AccessKey used it already (a replay)."""
    inserted = tx.run(
        _REMEMBER,
        {"access_key_id": access_key_id, "nonce": nonce, "expires_at": int(now) + NONCE_RETENTION_SECONDS},
    )
    return inserted == 1


def remember_if_current(tx: Tx, access_key_id: str, nonce: str, now: float, generation: int) -> bool:
    """Record the nonce if the credentials' generation is still ``generation``; False if it is
    not, or if this AccessKey used the nonce already (the caller tells the two apart)."""
    inserted = tx.run(
        _REMEMBER_IF_CURRENT,
        {
            "access_key_id": access_key_id,
            "nonce": nonce,
            "expires_at": int(now) + NONCE_RETENTION_SECONDS,
            "generation": generation,
        },
    )
    return inserted == 1


def prune(tx: Tx, now: float) -> int:
    return tx.run(_PRUNE, {"now": int(now)})
