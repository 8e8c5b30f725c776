"""Autocommitted blocks on the configured backend (the PostgreSQL pass runs these on PostgreSQL).

A worker's periodic statements (the fault rules' refresh, the nonce prune) run without BEGIN and
COMMIT, one round trip instead of three on PostgreSQL. Each statement must still be its own
transaction: visible to others at once, and leaving no transaction open, whether it succeeds or
fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import func, select

from ecsram.store import nonces
from ecsram.store import settings as stored
from ecsram.store.database import Database, DatabaseUnavailable
from ecsram.store.schema import nonces as nonces_table
from ecsram.store.sql import Statement

_COUNT_NONCES = Statement("count_nonces", select(func.count()).select_from(nonces_table))


@pytest.fixture
def url(database_factory: Callable[[], str]) -> str:
    made = database_factory()
    first = Database(made)
    first.migrate()
    first.close()
    return made


@pytest.fixture
def database(url: str) -> Iterator[Database]:
    db = Database(url)
    yield db
    db.close()


def _in_transaction(database: Database) -> bool:
    connection = database._driver_connection()
    if database.dialect_name == "sqlite":
        return bool(connection.in_transaction)
    import psycopg.pq

    return bool(connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE)


def test_an_autocommitted_read_opens_no_transaction_and_sees_what_others_committed(
    url: str, database: Database
) -> None:
    other = Database(url)
    try:
        with other.transaction() as tx:
            stored.put(tx, "unit:seen", "1")
        with database.transaction(write=False, autocommit=True) as tx:
            assert stored.get(tx, "unit:seen") == "1"
            assert not _in_transaction(database)
        # A transaction, for contrast: BEGIN was sent, so the connection is inside one.
        with database.transaction(write=False) as tx:
            stored.get(tx, "unit:seen")
            assert _in_transaction(database)
    finally:
        other.close()


def test_an_autocommitted_write_is_visible_to_another_connection_at_once(url: str, database: Database) -> None:
    with database.transaction() as tx:
        assert nonces.remember(tx, "LTAIunit", "old-nonce", 1_000.0)
        assert nonces.remember(tx, "LTAIunit", "new-nonce", 5_000_000_000.0)
    with database.transaction(autocommit=True) as tx:
        removed = nonces.prune(tx, 2_000_000.0)
        assert removed == 1
        assert not _in_transaction(database)
        # Read from another connection while the block is still open (a write there would wait
        # for this block's writer lock on SQLite): the prune is already committed.
        other = Database(url)
        try:
            with other.transaction(write=False) as check:
                assert check.scalar(_COUNT_NONCES) == 1
        finally:
            other.close()


def test_a_failing_autocommitted_statement_leaves_no_transaction_and_the_next_one_works(
    database: Database,
) -> None:
    with database.transaction() as tx:
        assert nonces.remember(tx, "LTAIunit", "n1", 5_000_000_000.0)
    # SQLite reports a missing table as an OperationalError, which the store treats as the
    # database being unavailable (and drops the connection); PostgreSQL as a programming error.
    refused = (DatabaseUnavailable, *database.driver_errors)
    with pytest.raises(refused), database.transaction(autocommit=True) as tx:
        tx._send("DELETE FROM no_such_table")
    assert not _in_transaction(database)
    with database.transaction() as tx:
        assert not nonces.remember(tx, "LTAIunit", "n1", 5_000_000_000.0)
        stored.put(tx, "unit:after", "ok")
    with database.transaction(write=False, autocommit=True) as tx:
        assert stored.get(tx, "unit:after") == "ok"
