"""The database: engine set-up per dialect, migrations, and transactions (one per group of requests).

SQLite (the default) and PostgreSQL share every statement; what differs is set here: the
driver connection's pragmas, how a write transaction begins, and how migrations are serialised.
Each server process holds one driver connection: requests run their short transactions one
after another on the event loop, so a process never needs a second one.

A server's Database has a bound (``timeout``, ``--db-timeout``): each transaction arms a deadline
that the watchdog thread (watchdog.py) enforces by breaking the call from outside, and a call
that overran opens the circuit: later calls fail at once with DatabaseUnavailable (503) while a
thread of the circuit, on a connection of its own, checks the store every second and closes the
circuit when it answers again.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool, StaticPool

from ecsram.store.sql import DbapiConnection, Tx, worth_pipelining
from ecsram.store.watchdog import WATCHDOG

log = logging.getLogger("ecsram.store")

# An advisory-lock key so that servers starting together on one PostgreSQL migrate one at a time.
_MIGRATION_LOCK_KEY = 0x6563737261  # "ecsra"


class DatabaseUnavailable(Exception):
    """The database cannot be reached or is busy beyond patience; the request may be retried."""


class DatabaseUnusable(DatabaseUnavailable):
    """The database is set up so that ecsram cannot use it (a read-only file, a missing or
    unwritable directory); the message names the cause and what to change."""


class TransientConflict(DatabaseUnavailable):
    """The database aborted the transaction to resolve a conflict (deadlock, serialization);
    running the whole transaction again is safe and usually succeeds."""


# Server-side limits so that nothing waits forever: a statement, a lock wait, an idle transaction.
_POSTGRES_OPTIONS = "-c statement_timeout=15000 -c lock_timeout=10000 -c idle_in_transaction_session_timeout=60000"

URL_FORMS = (
    "sqlite:///RELATIVE/PATH.db, sqlite:////ABSOLUTE/PATH.db, a bare file path, "
    "or postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
)
# "postgres:/host/db", "sqlite:relative.db": a scheme without "//" would otherwise be read as a
# bare file path and silently become a SQLite file of that name.
_SCHEME_WITHOUT_SLASHES = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
# The in-memory forms: no file, so none of the file checks apply.
_IN_MEMORY = ("", ":memory:")


def normalise_url(url: str) -> str:
    """Accept the URLs people write: plain ``postgresql://`` means psycopg 3; a bare path is SQLite.

    Anything else is refused with a ValueError that lists the accepted forms: a misspelt scheme
    must not quietly become a SQLite file, nor a PostgreSQL URL without a database the server's
    ``postgres`` system database."""
    if "://" not in url:
        scheme = _SCHEME_WITHOUT_SLASHES.match(url)
        if scheme:
            raise ValueError(
                f"database URL {scheme.group(0)}... is not a URL ecsram understands (no '//' after the scheme); "
                f"use {URL_FORMS}"
            )
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError:
        scheme_name = url.partition("://")[0]
        raise ValueError(f"database URL {scheme_name}://... cannot be parsed; use {URL_FORMS}") from None
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        if not parsed.database:
            raise ValueError(
                f"database URL {parsed.render_as_string(hide_password=True)} names no database; "
                "add one (postgresql://USER@HOST:PORT/ecsram): ecsram does not use the server's system database"
            )
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        if parsed.host or parsed.port or parsed.username:
            path = url.partition("://")[2]
            raise ValueError(
                f"database URL {url!r} names no file: a SQLite URL has three slashes before a relative path "
                f"(sqlite:///{path}) and four before an absolute one (sqlite:////abs/path.db)"
            )
        return parsed.set(drivername="sqlite+pysqlite").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL scheme {parsed.drivername!r}: use {URL_FORMS}")


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL and for the in-memory forms)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or (parsed.database or "") in _IN_MEMORY:
        return None
    return Path(parsed.database or "").absolute()


def is_in_memory(url: str) -> bool:
    """``sqlite://`` or ``sqlite:///:memory:``: a store that lives on one connection only."""
    parsed = make_url(normalise_url(url))
    return parsed.get_backend_name() == "sqlite" and (parsed.database or "") in _IN_MEMORY


def check_sqlite_location(path: Path, *, create_directory: bool) -> None:
    """Refuse, naming the cause, a SQLite file that ecsram could open but not write: SQLite would
    open it read-only and fail every write later. Its directory must exist (or is created when
    ``create_directory``: the default data directory) and be writable, since SQLite keeps its
    WAL and shared-memory files beside the database."""
    directory = path.parent
    if not directory.exists():
        existing = next((parent for parent in directory.parents if parent.exists()), None)
        if existing is not None and not existing.is_dir():
            raise DatabaseUnusable(f"database directory {directory} cannot exist: {existing} is a file")
        if not create_directory:
            raise DatabaseUnusable(
                f"database directory {directory} does not exist; create it (mkdir -p {directory}) or choose "
                "another --database"
            )
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnusable(f"cannot create database directory {directory}: {exc.strerror or exc}") from None
    if not directory.is_dir():
        raise DatabaseUnusable(f"database directory {directory} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise DatabaseUnusable(
            f"database directory {directory} is not writable (SQLite keeps its journal files beside the database)"
        )
    if path.is_dir():
        raise DatabaseUnusable(f"database file {path} is a directory")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise DatabaseUnusable(f"database file {path} is read-only")


def describe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)


# How long SQLite waits for another process's write lock when no bound is set (the CLI tools).
_BUSY_TIMEOUT_MS = 10000
# How often a bounded Database whose circuit is open checks whether the store answers again.
RECOVERY_CHECK_SECONDS = 1.0
# The signal the watchdog sends to the event-loop (main) thread to end a blocking flock().
_LOCK_WAIT_SIGNAL = signal.SIGUSR2


def _sqlite_configurator(busy_timeout_ms: int) -> Any:
    def configure(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets readers run beside the one writer; NORMAL sync is durable across process crashes
        # (the WAL is fsynced at checkpoints) and is what makes commits cheap.
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
        # sqlite3_interrupt() does not end SQLite's wait for a lock, so a bounded Database waits at
        # most its bound there (and reads the busy error as an overrun).
        dbapi_connection.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    return configure


class _LockWaitExpired(Exception):
    """Raised in the main thread by the signal handler, out of a blocking flock()."""


class _MainThreadWait:
    # True while the main thread waits in a blocking flock() that the watchdog may end.
    active = False


def _on_lock_wait_signal(_signum: int, _frame: object) -> None:
    # Signals that come after the wait has ended are ignored: they must not raise elsewhere.
    if _MainThreadWait.active:
        raise _LockWaitExpired


class WriterLock:
    """One SQLite writer at a time across the worker processes, handed over at once.

    SQLite admits one writer; a process that finds the database locked polls with sleeps of one
    millisecond and more, which under several busy workers costs most of the throughput and puts
    hundreds of milliseconds on the slowest requests. An exclusive ``flock`` on a file beside the
    database queues the writers in the kernel instead, and wakes the next the moment the lock is
    released. (SQLite's own lock and busy timeout still guard against writers that do not take it.)

    With a deadline the wait is bounded: in the main thread (the event loop's) a blocking flock
    that the watchdog ends with a signal once the deadline has passed (``interrupt``); in any
    other thread (the store probes) a poll every few milliseconds.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None
        self._main_thread = threading.main_thread().ident
        self._interruptible = False

    def make_interruptible(self) -> None:
        """Let the watchdog end a wait of the main thread (call in the main thread)."""
        if threading.current_thread() is threading.main_thread():
            if signal.getsignal(_LOCK_WAIT_SIGNAL) is not _on_lock_wait_signal:
                signal.signal(_LOCK_WAIT_SIGNAL, _on_lock_wait_signal)
            self._interruptible = True

    def __enter__(self) -> None:
        self.acquire(0.0)

    def __exit__(self, *_exc: object) -> None:
        self.release()

    def acquire(self, deadline: float) -> None:
        """Take the lock; with a deadline (monotonic time, 0.0 for none), raise
        DatabaseUnavailable once it has passed."""
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        if not deadline:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        if self._interruptible and threading.get_ident() == self._main_thread:
            _MainThreadWait.active = True
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
                _MainThreadWait.active = False
            except _LockWaitExpired:
                _MainThreadWait.active = False
                fcntl.flock(self._fd, fcntl.LOCK_UN)  # taken just before the signal came, or not at all
                raise DatabaseUnavailable(f"another process held the writer lock {self._path} too long") from None
            return
        while True:
            time.sleep(0.005)
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DatabaseUnavailable(f"another process held the writer lock {self._path} too long") from None

    def interrupt(self) -> None:
        """End the main thread's wait for the lock, if it waits (from the watchdog thread)."""
        if self._interruptible and _MainThreadWait.active and self._main_thread is not None:
            signal.pthread_kill(self._main_thread, _LOCK_WAIT_SIGNAL)

    def release(self) -> None:
        assert self._fd is not None
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Database:
    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = 5.0,
        create_directory: bool = False,
        timeout: float | None = None,
        circuit: bool = False,
        pipeline: bool | None = None,
    ) -> None:
        """``timeout``: the bound on one transaction (None: no bound, for the CLI tools), enforced
        by the watchdog. ``circuit``: after a call overran, refuse calls until the store answers
        again (the server's Database; a probe's has a bound but no circuit). ``pipeline``: savepoint
        statements sent with the next statement (see Tx): None decides per connection from its
        measured round trip; True / False force it (tests)."""
        self._pipeline_setting = pipeline
        self._pipelines = False
        self.url = normalise_url(url)
        sa_url = make_url(self.url)
        self._writer_lock: WriterLock | None = None
        self.memory = False
        self.timeout = timeout
        # monotonic() time by which the running transaction must end (0.0: none runs); the watchdog reads it.
        self.deadline = 0.0
        # Why the circuit is open (calls are refused at once), or None while it is closed.
        self.unavailable_reason: str | None = None
        self._circuit_lock = threading.Lock()
        self._recovery: threading.Thread | None = None
        busy_timeout_ms = _BUSY_TIMEOUT_MS if timeout is None else min(_BUSY_TIMEOUT_MS, max(1, int(timeout * 1000)))
        if timeout is not None:
            connect_timeout = timeout
        if sa_url.get_backend_name() == "sqlite":
            path = sqlite_file(self.url)
            self.memory = path is None
            if path is None:
                # An in-memory database exists once per connection: every user of this Database
                # (migrations, requests) must share the one connection, which StaticPool keeps.
                self.engine: Engine = create_engine(
                    self.url, poolclass=StaticPool, paramstyle="named", connect_args={"check_same_thread": False}
                )
            else:
                check_sqlite_location(path, create_directory=create_directory)
                self._writer_lock = WriterLock(Path(f"{path}.writer-lock"))
                self.engine = create_engine(self.url, poolclass=NullPool, paramstyle="named")
            event.listen(self.engine, "connect", _sqlite_configurator(busy_timeout_ms))
            self._begin_write = "BEGIN IMMEDIATE"
            self._unavailable: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)
            self._conflicts: tuple[type[BaseException], ...] = ()
            self.driver_errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
            # A value the database cannot hold (an integer beyond 64 bits): the caller's input.
            self.data_errors: tuple[type[BaseException], ...] = (sqlite3.DataError, OverflowError)
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
            self.data_errors = (psycopg.DataError, OverflowError)
        self.conflicts = self._conflicts  # errors after which the whole transaction may run again
        self.unavailable_errors = self._unavailable  # errors of a database that is busy, slow or gone
        self.dialect = self.engine.dialect
        self.dialect_name: str = self.dialect.name
        self._fairy: Any = None
        # An in-memory store has no other connection to check it with, and nothing outside
        # the process can hold it up: its calls are bounded but no circuit opens.
        self._circuit = circuit and timeout is not None and not self.memory
        if timeout is not None:
            if self._writer_lock is not None:
                self._writer_lock.make_interruptible()
            WATCHDOG.watch(self)

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
            if self.dialect_name == "postgresql":
                setting = self._pipeline_setting
                self._pipelines = worth_pipelining(driver) if setting is None else setting
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
        """Let the connection go. Returning it to the pool rolls back, a call that a stuck store
        would never answer: with the circuit open the connection is dropped without it, and
        otherwise the return is bounded like a transaction (so a server can stop in an outage)."""
        if self._fairy is not None and self.unavailable_reason is not None:
            self._discard_connection()
        if self._fairy is not None:
            if self.timeout is not None:
                self.deadline = time.monotonic() + self.timeout
            try:
                self._fairy.close()
            except Exception:  # broken by the watchdog, or already gone: nothing more to release
                log.debug("closing the store connection failed", exc_info=True)
            finally:
                self._fairy = None
                self.deadline = 0.0
        if self._writer_lock is not None:
            self._writer_lock.close()
        self.engine.dispose()

    # --- transactions -------------------------------------------------------------------------

    @contextmanager
    def transaction(self, *, write: bool = True, autocommit: bool = False) -> Iterator[Tx]:
        """One transaction: committed if the block completes, rolled back if it raises.

        With a bound, DatabaseUnavailable once the transaction has taken longer than it (the
        watchdog breaks the call), or at once while the circuit is open.

        ``autocommit``: no BEGIN and no COMMIT; each statement is its own transaction. For a block
        of one statement (the worker's periodic reads and prunes), where they would only add two
        round trips on PostgreSQL; nothing is rolled back if the block raises."""
        if self.unavailable_reason is not None:
            raise DatabaseUnavailable(self.unavailable_reason)
        if self.timeout is None:
            if write and self._writer_lock is not None:
                with self._writer_lock, self._transaction(write, autocommit) as tx:
                    yield tx
            else:
                with self._transaction(write, autocommit) as tx:
                    yield tx
            return
        self.deadline = deadline = time.monotonic() + self.timeout
        try:
            if write and self._writer_lock is not None:
                self._writer_lock.acquire(deadline)
                try:
                    with self._transaction(write, autocommit) as tx:
                        yield tx
                finally:
                    self._writer_lock.release()
            else:
                with self._transaction(write, autocommit) as tx:
                    yield tx
        except DatabaseUnavailable:
            if time.monotonic() >= deadline:
                self._open_circuit()
            raise
        finally:
            self.deadline = 0.0

    # --- the bound: watchdog and circuit ------------------------------------------------------

    def overdue(self) -> None:
        """The running call has overrun its bound: open the circuit and break the call, so that
        it raises at once in its thread (called by the watchdog thread)."""
        self._open_circuit()
        if self._writer_lock is not None:
            self._writer_lock.interrupt()
        fairy = self._fairy
        if fairy is None:  # connecting: bounded by the connect timeout, which is the bound
            return
        driver: Any = fairy.driver_connection
        try:
            if self.dialect_name == "sqlite":
                driver.interrupt()  # thread-safe; the statement raises "interrupted"
            else:
                # A stopped server ignores a cancel request; shutting the socket down makes the
                # blocked read return at once, and the connection is replaced on the next call.
                sock = socket.socket(fileno=driver.pgconn.socket)
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                finally:
                    sock.detach()
        except Exception:  # the connection ended meanwhile: nothing left to break
            log.debug("breaking an overdue store call failed", exc_info=True)

    def _open_circuit(self) -> None:
        if not self._circuit:
            return
        with self._circuit_lock:
            if self.unavailable_reason is None:
                self.unavailable_reason = (
                    f"the store did not answer within {self.timeout:g} s (--db-timeout); calls are refused "
                    "until it answers again"
                )
                log.warning("%s", self.unavailable_reason)
            if self._recovery is None:
                self._recovery = threading.Thread(target=self._recover, name="ecsram-store-recovery", daemon=True)
                self._recovery.start()

    def _recover(self) -> None:
        """Check the store about once a second on a connection of its own, each check bounded
        like any call; close the circuit when it answers a read and a write."""
        probe: Database | None = None
        try:
            while True:
                time.sleep(RECOVERY_CHECK_SECONDS)
                try:
                    if probe is None:
                        probe = Database(self.url, timeout=self.timeout)
                    probe.check_readable()
                    probe.check_writable()
                except DatabaseUnusable:
                    break  # it answers, refusing writes: each call reports that itself
                except Exception as exc:
                    log.debug("the store does not answer yet: %s", exc)
                    continue
                break
        finally:
            if probe is not None:
                with contextlib.suppress(Exception):
                    probe.close()
            with self._circuit_lock:
                self.unavailable_reason = None
                self._recovery = None
        log.warning("the store answers again; calls are served")

    @contextmanager
    def _transaction(self, write: bool, autocommit: bool = False) -> Iterator[Tx]:
        if autocommit:
            with self._autocommitted() as tx:
                yield tx
            return
        connection = self._begin(write)
        tx = Tx(connection, self.dialect, pipelines=self._pipelines)
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
            tx.finish("COMMIT")  # with the savepoint statements still deferred (see Tx)
        except self._unavailable as exc:
            self._rollback_quietly(connection)
            raise DatabaseUnavailable(str(exc)) from exc

    @contextmanager
    def _autocommitted(self) -> Iterator[Tx]:
        # No BEGIN to find out that the connection has died: a statement that fails for that
        # reason drops it, and the next use connects again.
        tx = Tx(self._driver_connection(), self.dialect, pipelines=False)
        try:
            yield tx
        except self._conflicts as exc:
            raise TransientConflict(str(exc)) from exc
        except self._unavailable as exc:
            self._discard_connection()
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
                # No second try for a call the watchdog broke (the store is stuck, not restarted).
                if attempt == 2 or self.unavailable_reason is not None or self._overran():
                    raise DatabaseUnavailable(str(exc)) from exc
        raise AssertionError("unreachable")

    def _overran(self) -> bool:
        return bool(self.deadline) and time.monotonic() >= self.deadline

    def _rollback_quietly(self, connection: DbapiConnection) -> None:
        try:
            connection.execute("ROLLBACK")
        except Exception:
            self._discard_connection()

    # --- probes -------------------------------------------------------------------------------

    def check_readable(self) -> None:
        """Raise DatabaseUnavailable unless the store answers a read of its schema version."""
        with self._bounded():
            connection = self._begin(write=False)
            try:
                connection.execute("SELECT version_num FROM alembic_version").fetchall()
            except self.driver_errors as exc:
                self._rollback_quietly(connection)
                raise DatabaseUnavailable(str(exc)) from exc
            self._rollback_quietly(connection)

    def check_writable(self) -> None:
        """Raise DatabaseUnusable if the store refuses writes (a read-only file, a read-only
        PostgreSQL role or transaction), DatabaseUnavailable if it does not answer. The probe
        rewrites the schema-version row to itself and rolls back, so it changes nothing."""
        with self._bounded() as deadline:
            if self._writer_lock is not None:
                self._writer_lock.acquire(deadline)
            try:
                try:
                    connection = self._begin(write=True)
                except DatabaseUnavailable as exc:
                    raise self._refusal(exc.__cause__) or exc from exc.__cause__
                try:
                    connection.execute("UPDATE alembic_version SET version_num = version_num")
                except self.driver_errors as exc:
                    self._rollback_quietly(connection)
                    raise self._refusal(exc) or DatabaseUnavailable(str(exc)) from exc
                self._rollback_quietly(connection)
            finally:
                if self._writer_lock is not None:
                    self._writer_lock.release()

    @contextmanager
    def _bounded(self) -> Iterator[float]:
        """Arm the deadline (when there is a bound) around a probe; yields it (0.0: none)."""
        if self.timeout is None:
            yield 0.0
            return
        self.deadline = deadline = time.monotonic() + self.timeout
        try:
            yield deadline
        finally:
            self.deadline = 0.0

    def _refusal(self, exc: BaseException | None) -> DatabaseUnusable | None:
        """A DatabaseUnusable for a driver error that means "writes are refused", else None."""
        if isinstance(exc, sqlite3.Error) and (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_READONLY:
            return DatabaseUnusable(f"database file {sqlite_file(self.url)} is read-only ({exc})")
        if self.dialect_name == "postgresql" and exc is not None:
            import psycopg.errors

            if isinstance(exc, (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege)):
                reason = str(exc).strip().splitlines()[0]
                return DatabaseUnusable(f"database {describe_url(self.url)} refuses writes ({reason})")
        return None

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
