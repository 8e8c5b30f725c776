"""Prepared statements: SQLAlchemy Core clauses compiled once per dialect, run on the driver.

Statements are written with SQLAlchemy Core (so one source serves SQLite and PostgreSQL) and
compiled once per dialect into the driver's own SQL text. The request path then executes that
text directly on the DBAPI connection: measured on this machine, a SQLAlchemy ``Connection``
adds ~13 µs per statement and ~17 µs per transaction over the driver, several times the cost
of the statement itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from sqlalchemy import Table, bindparam
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ClauseElement, ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import NullType


class InList(ColumnElement[Any]):
    """``column IN <list parameter>``, one placeholder for a whole list of values.

    SQLite reads the list from a JSON array (``json_each``); PostgreSQL binds an array
    (``= ANY``). Either way the SQL text does not depend on the list's length.
    """

    inherit_cache = True
    # Not Boolean: SQLAlchemy would render a Boolean expression in WHERE as "(...) = 1" on SQLite,
    # which hides the IN from the query planner and turns index probes into a scan.
    type: Any = NullType()

    def __init__(self, column: ColumnElement[Any], param: str) -> None:
        self.column = column
        self.param = param


@compiles(InList, "sqlite")
def _in_list_sqlite(element: InList, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    placeholder = compiler.process(bindparam(element.param), **kw)
    if kw.get(_ONE_VALUE_EACH):
        return f"{column} = {placeholder}"
    return f"{column} IN (SELECT value FROM json_each({placeholder}))"


# Compiles a statement's lists on SQLite as single values (see CompiledSql.one_each).
_ONE_VALUE_EACH = "ecsram_one_value_each"


@compiles(InList, "postgresql")
def _in_list_postgresql(element: InList, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    placeholder = compiler.process(bindparam(element.param), **kw)
    return f"{column} = ANY({placeholder})"


def in_list(column: ColumnElement[Any], param: str) -> InList:
    return InList(column, param)


class Contains(ColumnElement[Any]):
    """``needle`` occurs in ``haystack``: exact and case-sensitive on both backends (SQLite's
    LIKE ignores ASCII case, and a LIKE pattern would need its wildcards escaped)."""

    inherit_cache = True
    type: Any = NullType()

    def __init__(self, haystack: ColumnElement[Any], needle: ColumnElement[Any]) -> None:
        self.haystack = haystack
        self.needle = needle


@compiles(Contains, "sqlite")
def _contains_sqlite(element: Contains, compiler: SQLCompiler, **kw: Any) -> str:
    return f"instr({compiler.process(element.haystack, **kw)}, {compiler.process(element.needle, **kw)}) > 0"


@compiles(Contains, "postgresql")
def _contains_postgresql(element: Contains, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strpos({compiler.process(element.haystack, **kw)}, {compiler.process(element.needle, **kw)}) > 0"


@dataclass(frozen=True, slots=True)
class CompiledSql:
    text: str
    constants: dict[str, Any]
    json_lists: tuple[str, ...]
    # SQLite: the text for when every list holds one value, each compared with ``=``. The usual
    # call names one instance, and ``IN (SELECT value FROM json_each(?))`` costs ~3 times a
    # probe by ``=`` (12.4 against 4.3 µs for a primary-key read on the development machine).
    one_each: str | None = None


class Statement:
    """A named statement; ``lists`` names the parameters that carry lists of values."""

    __slots__ = ("_build", "_by_dialect", "lists", "name")

    def __init__(self, name: str, clause: ClauseElement, *, lists: tuple[str, ...] = ()) -> None:
        self.name = name
        self._build: Callable[[str], ClauseElement] = lambda _dialect_name: clause
        self.lists = lists
        self._by_dialect: dict[str, CompiledSql] = {}

    @classmethod
    def per_dialect(cls, name: str, build: Callable[[str], ClauseElement], *, lists: tuple[str, ...] = ()) -> Statement:
        """A statement whose construct depends on the dialect (e.g. INSERT ... ON CONFLICT)."""
        statement = cls.__new__(cls)
        statement.name = name
        statement._build = build
        statement.lists = lists
        statement._by_dialect = {}
        return statement

    def compiled(self, dialect: Dialect) -> CompiledSql:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            compiled = self._build(dialect.name).compile(dialect=dialect)
            assert isinstance(compiled, SQLCompiler)
            # Values fixed in the statement itself (literals, None); named bindparams come per call.
            constants = {name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required}
            json_lists = self.lists if dialect.name == "sqlite" else ()
            one_each = None
            if json_lists:
                single = self._build(dialect.name).compile(dialect=dialect, compile_kwargs={_ONE_VALUE_EACH: True})
                one_each = str(single)
            found = CompiledSql(str(compiled), constants, json_lists, one_each)
            self._by_dialect[dialect.name] = found
        return found

    def __repr__(self) -> str:
        return f"Statement({self.name})"


def insert_if_absent(name: str, table: Table, values: Mapping[str, Any]) -> Statement:
    """``INSERT ... ON CONFLICT DO NOTHING``: touches one row if the key was free, none if taken.

    This is how ecsram claims anything unique (a nonce, a ClientToken, a name) without a
    check-then-write race: the database decides, atomically, on every backend.
    """

    def build(dialect_name: str) -> ClauseElement:
        construct = sqlite_dialect.insert if dialect_name == "sqlite" else postgresql_dialect.insert
        return construct(table).values(**values).on_conflict_do_nothing()

    return Statement.per_dialect(name, build)


def params(*names: str, **renamed: str) -> dict[str, Any]:
    """Bind parameters for columns: ``params("a", b="c")`` -> {"a": :a, "b": :c}."""
    bound: dict[str, Any] = {name: bindparam(name) for name in names}
    bound.update({column: bindparam(parameter) for column, parameter in renamed.items()})
    return bound


class DbapiCursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class DbapiBatchCursor(Protocol):
    def executemany(self, sql: str, rows: Any) -> Any: ...

    def close(self) -> None: ...


class DbapiConnection(Protocol):
    def execute(self, sql: str, params: Any = ...) -> DbapiCursor: ...

    def cursor(self) -> DbapiBatchCursor: ...


# A round trip longer than this (a database on another host, not loopback) makes sending the
# savepoint statements with the next statement worth pipeline mode's client CPU (see Tx).
PIPELINE_MIN_ROUND_TRIP_SECONDS = 0.0002


def worth_pipelining(connection: Any) -> bool:
    """Measure a new connection's round trip: the best of sixteen ``SELECT 1`` after two to warm
    up (the best, because a busy machine only ever adds to a round trip). On a machine loaded far
    beyond its cores a loopback connection can still measure longer and pipeline: that costs a
    little client CPU, never correctness."""
    best = float("inf")
    for attempt in range(18):
        started = time.perf_counter()
        connection.execute("SELECT 1").fetchone()
        if attempt >= 2:
            best = min(best, time.perf_counter() - started)
    return best >= PIPELINE_MIN_ROUND_TRIP_SECONDS


class Tx:
    """One open transaction on one driver connection.

    On PostgreSQL the savepoint statements (``SAVEPOINT``, ``RELEASE``, ``ROLLBACK TO``), whose
    answers nothing reads, are not sent on their own: they wait for the next statement and go
    with it in one network round trip (psycopg's pipeline mode), or with the ``COMMIT``
    (``finish``). Each group-commit call opens and closes a savepoint, so this takes two of the
    seven round trips of a typical call off the time a worker waits for the database. Their
    order is unchanged, and an error in one is raised by the statement it travelled with.
    Pipeline mode costs the client ~60 µs of CPU each time, more than a loopback round trip
    (~40 µs), so the database turns it on only for a connection whose round trip is longer
    (``worth_pipelining``). SQLite runs in-process and has no round trips to save.
    """

    __slots__ = ("_connection", "_deferred", "_dialect", "_pipelines", "dialect_name")

    def __init__(self, connection: DbapiConnection, dialect: Dialect, *, pipelines: bool = False) -> None:
        self._connection = connection
        self._dialect = dialect
        self.dialect_name = dialect.name
        self._pipelines = pipelines and dialect.name == "postgresql" and hasattr(connection, "pipeline")
        self._deferred: list[str] = []

    def _control(self, sql: str) -> None:
        """A statement whose answer nothing reads: deferred where round trips can be saved."""
        if self._pipelines:
            self._deferred.append(sql)
        else:
            self._connection.execute(sql)

    def _send(self, sql: str, bound: Any = None) -> DbapiCursor:
        """Execute ``sql``, preceded in the same round trip by the deferred statements."""
        if not self._deferred:
            return self._connection.execute(sql) if bound is None else self._connection.execute(sql, bound)
        deferred, self._deferred = self._deferred, []
        connection: Any = self._connection
        with connection.pipeline():
            for control in deferred:
                connection.execute(control)
            cursor: DbapiCursor = connection.execute(sql, bound)
        return cursor

    def finish(self, sql: str) -> None:
        """End the transaction (``COMMIT``) with the deferred statements in the same round trip."""
        self._send(sql)

    def execute(self, statement: Statement, params: Mapping[str, Any] | None = None) -> DbapiCursor:
        sql = statement.compiled(self._dialect)
        bound: dict[str, Any] = dict(sql.constants)
        if params:
            bound.update(params)
        if not sql.json_lists:
            return self._send(sql.text, bound)
        if sql.one_each is not None and all(len(bound[name]) == 1 for name in sql.json_lists):
            for name in sql.json_lists:
                bound[name] = next(iter(bound[name]))
            return self._send(sql.one_each, bound)
        for name in sql.json_lists:
            bound[name] = orjson.dumps(bound[name]).decode()
        return self._send(sql.text, bound)

    def one(self, statement: Statement, params: Mapping[str, Any] | None = None) -> Any:
        return self.execute(statement, params).fetchone()

    def all(self, statement: Statement, params: Mapping[str, Any] | None = None) -> list[Any]:
        return self.execute(statement, params).fetchall()

    def scalar(self, statement: Statement, params: Mapping[str, Any] | None = None) -> Any:
        row = self.execute(statement, params).fetchone()
        return None if row is None else row[0]

    def run(self, statement: Statement, params: Mapping[str, Any] | None = None) -> int:
        """Execute a write and return how many rows it touched."""
        return self.execute(statement, params).rowcount

    def run_many(self, statement: Statement, rows: list[dict[str, Any]]) -> None:
        """Execute one statement for each of ``rows`` (a batch insert)."""
        sql = statement.compiled(self._dialect)
        self._execute_many(sql.text, [{**sql.constants, **row} for row in rows] if sql.constants else rows)

    def insert_rows(self, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        """A batch INSERT of positional rows: for the hottest batch insert (the trail's), where
        binding each row by name costs more than the row itself."""
        placeholder = "?" if self.dialect_name == "sqlite" else "%s"
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([placeholder] * len(columns))})"
        self._execute_many(sql, rows)

    def _execute_many(self, sql: str, rows: Any) -> None:
        if self._deferred:
            deferred, self._deferred = self._deferred, []
            self._connection.execute("; ".join(deferred))  # simple query protocol: one round trip
        cursor = self._connection.cursor()
        try:
            cursor.executemany(sql, rows)
        finally:
            cursor.close()

    def savepoint(self) -> Savepoint:
        """Open a savepoint: what runs after it can be undone alone, keeping the transaction."""
        self._control("SAVEPOINT call")
        return Savepoint(self)


class Savepoint:
    """An open savepoint of a ``Tx``: ``release`` keeps its work, ``rollback`` undoes it."""

    __slots__ = ("_tx",)

    def __init__(self, tx: Tx) -> None:
        self._tx = tx

    def release(self) -> None:
        self._tx._control("RELEASE SAVEPOINT call")

    def rollback(self) -> None:
        """Undo everything since the savepoint; the savepoint stays open (release it when done)."""
        self._tx._control("ROLLBACK TO SAVEPOINT call")
