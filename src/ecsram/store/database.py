"""The database: engine set-up per dialect, migrations, and one transaction per request.

SQLite (the default) and PostgreSQL share every statement; what differs is set here: the
driver connection's pragmas, how a write transaction begins, and how migrations are serialised.
Each server process holds one driver connection: requests run their short transactions one
after another on the event loop, so a process never needs a second one.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool, StaticPool

from ecsram.store.sql import DbapiConnection, Tx

log = logging.getLogger("ecsram.store")

# An advisory-lock key so that servers starting together on one PostgreSQL migrate one at a time.
_MIGRATION_LOCK_KEY = 0x6563737261  # "ecsra"


class DatabaseUnavailable(Exception):
    """The database cannot be reached or is busy beyond patience; the request may be retried."""


class TransientConflict(DatabaseUnavailable):
    """The database aborted the transaction to resolve a conflict (deadlock, serialization);
    running the whole transaction again is safe and usually succeeds."""


# Server-side limits so that nothing waits forever: a statement, a lock wait, an idle transaction.
_POSTGRES_OPTIONS = "-c statement_timeout=15000 -c lock_timeout=10000 -c idle_in_transaction_session_timeout=60000"


def normalise_url(url: str) -> str:
    """Accept the URLs people write: plain ``postgresql://`` means psycopg 3; a bare path is SQLite."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        return parsed.set(drivername="sqlite+pysqlite").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL scheme {parsed.drivername!r}: use sqlite:/// or postgresql://")


def is_memory_url(url: str) -> bool:
    """An SQLite database that lives in the process's memory (``sqlite://``, ``sqlite:///:memory:``)."""
    parsed = make_url(normalise_url(url))
    return parsed.get_backend_name() == "sqlite" and (parsed.database or ":memory:") == ":memory:"


def describe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; NORMAL sync is durable across process crashes
    # (the WAL is fsynced at checkpoints) and is what makes commits cheap.
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    dbapi_connection.execute("PRAGMA busy_timeout=10000")
    dbapi_connection.execute("PRAGMA foreign_keys=ON")


class WriterLock:
    """One SQLite writer at a time across the worker processes, handed over at once.

    SQLite admits one writer; a process that finds the database locked polls with sleeps of one
    millisecond and more, which under several busy workers costs most of the throughput and puts
    hundreds of milliseconds on the slowest requests. An exclusive ``flock`` on a file beside the
    database queues the writers in the kernel instead, and wakes the next the moment the lock is
    released. (SQLite's own lock and busy timeout still guard against writers that do not take it.)
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def __enter__(self) -> None:
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *_exc: object) -> None:
        assert self._fd is not None
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Database:
    def __init__(self, url: str, *, connect_timeout: float = 5.0) -> None:
        self.url = normalise_url(url)
        sa_url = make_url(self.url)
        self._writer_lock: WriterLock | None = None
        self.memory = False
        if sa_url.get_backend_name() == "sqlite":
            database = sa_url.database or ""
            self.memory = database in ("", ":memory:")
            if self.memory:
                # An in-memory database exists once per connection: every user of this Database
                # (migrations, requests) must share the one connection, which StaticPool keeps.
                self.engine: Engine = create_engine(
                    self.url, poolclass=StaticPool, paramstyle="named", connect_args={"check_same_thread": False}
                )
            else:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
                self._writer_lock = WriterLock(Path(f"{database}.writer-lock"))
                self.engine = create_engine(self.url, poolclass=NullPool, paramstyle="named")
            event.listen(self.engine, "connect", _configure_sqlite)
            self._begin_write = "BEGIN IMMEDIATE"
            self._unavailable: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)
            self._conflicts: tuple[type[BaseException], ...] = ()
            self.driver_errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
        else:
            import psycopg
            import psycopg.errors

            self.engine = create_engine(
                self.url,
                poolclass=NullPool,
                connect_args={
                    "connect_timeout": max(1, int(connect_timeout)),
                    "application_name": "ecsram",
                    "options": _POSTGRES_OPTIONS,
                    # Notice a dead server or network within about half a minute, not hours.
                    "keepalives": 1,
                    "keepalives_idle": 10,
                    "keepalives_interval": 5,
                    "keepalives_count": 3,
                },
            )
            self._begin_write = "BEGIN"
            self._unavailable = (psycopg.OperationalError, psycopg.InterfaceError)
            self._conflicts = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
            self.driver_errors = (psycopg.Error,)
        self.dialect = self.engine.dialect
        self.dialect_name: str = self.dialect.name
        self._fairy: Any = None

    # --- connections --------------------------------------------------------------------------

    def _driver_connection(self) -> DbapiConnection:
        if self._fairy is None:
            try:
                fairy = self.engine.raw_connection()
            except Exception as exc:
                raise DatabaseUnavailable(f"cannot connect to {describe_url(self.url)}: {exc}") from exc
            driver: Any = fairy.driver_connection
            if self.dialect_name == "sqlite":
                driver.isolation_level = None  # we issue BEGIN / COMMIT ourselves
            else:
                driver.autocommit = True
            self._fairy = fairy
        connection: DbapiConnection = self._fairy.driver_connection
        return connection

    def _discard_connection(self) -> None:
        fairy, self._fairy = self._fairy, None
        if fairy is not None:
            try:
                fairy.invalidate()
            except Exception:  # the connection is already gone; nothing more to release
                log.debug("discarding a broken connection failed", exc_info=True)

    def close(self) -> None:
        if self._fairy is not None:
            try:
                self._fairy.close()
            finally:
                self._fairy = None
        if self._writer_lock is not None:
            self._writer_lock.close()
        self.engine.dispose()

    # --- transactions -------------------------------------------------------------------------

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Tx]:
        """One transaction: committed if the block completes, rolled back if it raises."""
        if write and self._writer_lock is not None:
            with self._writer_lock, self._transaction(write) as tx:
                yield tx
        else:
            with self._transaction(write) as tx:
                yield tx

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Tx]:
        connection = self._begin(write)
        tx = Tx(connection, self.dialect)
        try:
            yield tx
        except self._conflicts as exc:
            self._rollback_quietly(connection)
            raise TransientConflict(str(exc)) from exc
        except self._unavailable as exc:
            self._rollback_quietly(connection)
            raise DatabaseUnavailable(str(exc)) from exc
        except BaseException:
            self._rollback_quietly(connection)
            raise
        try:
            connection.execute("COMMIT")
        except self._unavailable as exc:
            self._rollback_quietly(connection)
            raise DatabaseUnavailable(str(exc)) from exc

    def _begin(self, write: bool) -> DbapiConnection:
        """BEGIN on the process's connection; if that connection has died (a restarted or
        failed-over database), BEGIN once more on a new one before reporting the database gone."""
        statement = self._begin_write if write else "BEGIN"
        for attempt in (1, 2):
            connection = self._driver_connection()
            try:
                connection.execute(statement)
                return connection
            except self._unavailable as exc:
                self._discard_connection()
                if attempt == 2:
                    raise DatabaseUnavailable(str(exc)) from exc
        raise AssertionError("unreachable")

    def _rollback_quietly(self, connection: DbapiConnection) -> None:
        try:
            connection.execute("ROLLBACK")
        except Exception:
            self._discard_connection()

    # --- schema -------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the newest revision (a no-op when it is already there)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(resources.files("ecsram.store") / "migrations"))
        try:
            with self.engine.begin() as connection:
                if self.dialect_name == "postgresql":
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
            raise DatabaseUnavailable(f"cannot migrate {describe_url(self.url)}: {exc}") from exc
        except self._unavailable as exc:
            raise DatabaseUnavailable(f"cannot migrate {describe_url(self.url)}: {exc}") from exc
