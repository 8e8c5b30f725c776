"""Migrations build exactly the schema the code declares."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ecsram.store.database import Database
from ecsram.store.schema import metadata


def test_migrated_schema_matches_metadata(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'schema.db'}")
    try:
        database.migrate()
        database.migrate()  # idempotent
        with database.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
        assert differences == []
    finally:
        database.close()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        database.migrate()
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        database.close()


def test_migrated_schema_matches_metadata_on_postgresql() -> None:
    from tests.support.databases import drop_all, fresh_postgres_database

    url = fresh_postgres_database()
    database = Database(url)
    try:
        database.migrate()
        database.migrate()
        with database.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
        assert differences == []
    finally:
        database.close()
        drop_all([url])
