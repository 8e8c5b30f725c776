"""Liveness apart from readiness: /_ecsram/health answers 200 while the worker runs and reports
the store's state within about a second; /_ecsram/ready answers 200 only while the store answers
and takes writes, 503 with the reason otherwise. Neither waits on a stuck store."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from ecsram.testing.server import ServerProcess
from tests.support.admin import timed_get
from tests.support.databases import drop_all, fresh_postgres_database, postgres_admin_url
from tests.support.files import read_only

# The endpoints wait 1 s for the store; the rest is room for a busy machine, not a measurement.
PROMPT = 6.0


def test_health_and_ready_on_a_working_store(server: ServerProcess) -> None:
    assert timed_get(f"{server.url}/_ecsram/health")[:2] == (200, {"status": "ok", "store": "ok"})
    assert timed_get(f"{server.url}/_ecsram/ready")[:2] == (200, {"status": "ready"})


def test_read_only_store_is_live_but_not_ready(tmp_path: Path, server_factory: Callable[..., ServerProcess]) -> None:
    path = tmp_path / "ecsram.db"
    server = server_factory(f"sqlite:///{path}")
    with read_only(path):
        status, body, _ = timed_get(f"{server.url}/_ecsram/ready")
        assert status == 503
        assert body["store"] == "read-only" and str(path) in body["reason"], body
        status, body, _ = timed_get(f"{server.url}/_ecsram/health")
        assert status == 200 and body["store"] == "read-only", body
    assert timed_get(f"{server.url}/_ecsram/ready")[:2] == (200, {"status": "ready"})


@pytest.fixture
def held_writer_lock(tmp_path: Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """A SQLite store, and a function that takes its writer lock (as a stuck writer would hold it)
    until the test ends."""
    path = tmp_path / "ecsram.db"
    descriptors: list[int] = []

    def hold() -> None:
        descriptor = os.open(f"{path}.writer-lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        descriptors.append(descriptor)

    yield f"sqlite:///{path}", hold
    for descriptor in descriptors:
        os.close(descriptor)


def test_a_stuck_writer_makes_ready_fail_fast_and_health_stays_up(
    held_writer_lock: tuple[str, Callable[[], None]], server_factory: Callable[..., ServerProcess]
) -> None:
    url, hold = held_writer_lock
    server = server_factory(url)
    hold()
    status, body, took = timed_get(f"{server.url}/_ecsram/ready")
    assert status == 503 and "did not answer within 1 s" in body["reason"], body
    assert took < PROMPT
    status, body, took = timed_get(f"{server.url}/_ecsram/health")  # reads need no writer lock
    assert (status, body["store"]) == (200, "ok")
    assert took < PROMPT


@pytest.fixture
def postgres_database() -> Iterator[str]:
    url = fresh_postgres_database()
    yield url
    drop_all([url])


def test_a_locked_postgres_store_does_not_hold_up_health(
    postgres_database: str, server_factory: Callable[..., ServerProcess]
) -> None:
    server = server_factory(postgres_database)
    with psycopg.connect(postgres_database) as admin:
        # Until this transaction ends, every read of the schema version waits (up to the server's
        # 10 s lock timeout): the store is there but does not answer.
        admin.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
        for path in ("health", "ready"):
            status, body, took = timed_get(f"{server.url}/_ecsram/{path}")
            assert took < PROMPT, (path, took)
            assert body["store"] == "unavailable" and "within 1 s" in body["reason"], body
            assert status == (200 if path == "health" else 503)
        admin.rollback()
    deadline = time.monotonic() + 30
    while timed_get(f"{server.url}/_ecsram/ready")[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_read_only_postgres_store_is_not_ready(
    postgres_database: str, server_factory: Callable[..., ServerProcess]
) -> None:
    server = server_factory(postgres_database)
    name = postgres_database.rpartition("/")[2]
    with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        try:
            status, body, _ = timed_get(f"{server.url}/_ecsram/ready")
            assert status == 503 and body["store"] == "read-only" and "refuses writes" in body["reason"], body
        finally:
            admin.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
    assert timed_get(f"{server.url}/_ecsram/ready")[0] == 200
