"""Savepoints on the configured backend (the PostgreSQL pass runs these on PostgreSQL).

On PostgreSQL the savepoint statements are deferred and travel with the next statement or the
COMMIT in one round trip (psycopg pipeline mode, ``Tx`` in store/sql.py); what a savepoint keeps
or undoes, and what a failing statement does to its transaction, must be as if each were sent
alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ecsram.store import settings as stored
from ecsram.store.database import Database


@pytest.fixture(params=[True, False], ids=["pipelined", "one-by-one"])
def database(database_factory: Callable[[], str], request: pytest.FixtureRequest) -> Iterator[Database]:
    # Pipelining is chosen per connection from its round trip; both ways are forced here.
    db = Database(database_factory(), pipeline=request.param)
    db.migrate()
    yield db
    db.close()


def _value(database: Database, key: str) -> str | None:
    with database.transaction(write=False) as tx:
        return stored.get(tx, f"unit:{key}")


def test_released_savepoints_keep_their_writes_and_rolled_back_ones_undo_them(database: Database) -> None:
    with database.transaction() as tx:
        savepoint = tx.savepoint()
        stored.put(tx, "unit:a", "1")  # UPDATE touches nothing, then INSERT: the row count is read
        savepoint.release()
        savepoint = tx.savepoint()
        stored.put(tx, "unit:b", "2")
        savepoint.rollback()
        savepoint.release()
        savepoint = tx.savepoint()
        stored.put(tx, "unit:a", "3")  # the UPDATE's row count (1) decides: no second INSERT
        assert stored.get(tx, "unit:a") == "3"
        assert stored.get(tx, "unit:b") is None
        savepoint.release()
        # A rollback that is the transaction's last word still undoes its savepoint's work.
        savepoint = tx.savepoint()
        stored.put(tx, "unit:c", "4")
        savepoint.rollback()
        savepoint.release()
    assert (_value(database, "a"), _value(database, "b"), _value(database, "c")) == ("3", None, None)


def test_a_savepoint_opened_and_closed_with_nothing_in_it_changes_nothing(database: Database) -> None:
    with database.transaction() as tx:
        stored.put(tx, "unit:e", "1")
        tx.savepoint().release()
        savepoint = tx.savepoint()
        savepoint.rollback()
        savepoint.release()
    assert _value(database, "e") == "1"


def test_a_failing_statement_after_a_savepoint_ends_the_transaction_and_the_next_one_works(
    database: Database,
) -> None:
    with database.transaction() as tx:
        stored.put(tx, "unit:dup", "0")
    with pytest.raises(database.driver_errors), database.transaction() as tx:
        stored.put(tx, "unit:d", "1")
        savepoint = tx.savepoint()
        tx.run(stored._INSERT, {"name": "unit:dup", "value": "again"})  # the name is taken: refused
        savepoint.release()
    assert _value(database, "d") is None
    assert _value(database, "dup") == "0"
    with database.transaction() as tx:
        savepoint = tx.savepoint()
        stored.put(tx, "unit:d", "2")
        savepoint.release()
    assert _value(database, "d") == "2"
