"""Fresh databases for test servers, on the backend ECSRAM_TEST_BACKEND names."""

from __future__ import annotations

import os
import uuid

import pytest

from ecsram.testing.server import sqlite_url

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def backend() -> str:
    return os.environ.get("ECSRAM_TEST_BACKEND", "sqlite")


def postgres_admin_url() -> str:
    return os.environ.get("ECSRAM_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _with_database(url: str, name: str) -> str:
    base, _, _old = url.rpartition("/")
    return f"{base}/{name}"


def postgres_available() -> str | None:
    """None if PostgreSQL answers, else the reason it does not."""
    import psycopg

    try:
        with psycopg.connect(postgres_admin_url(), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip()


def require_postgres() -> None:
    reason = postgres_available()
    if reason is None:
        return
    message = f"PostgreSQL is not reachable at {postgres_admin_url()}: {reason}"
    if os.environ.get("ECSRAM_TEST_REQUIRE_POSTGRES") == "1":
        pytest.fail(message)
    pytest.skip(message)


def fresh_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    if backend() == "sqlite":
        return sqlite_url(tmp_path_factory.mktemp("db"))
    if backend() != "postgresql":
        raise pytest.UsageError(f"unknown ECSRAM_TEST_BACKEND {backend()!r}")
    return fresh_postgres_database()


def fresh_postgres_database() -> str:
    """A new, empty PostgreSQL database (skipped, or failed on CI, without a server)."""
    import psycopg

    require_postgres()
    name = f"ecsram_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return _with_database(postgres_admin_url(), name)


def drop_all(urls: list[str]) -> None:
    postgres = [url for url in urls if url.startswith("postgresql")]
    if not postgres:
        return
    import psycopg

    with psycopg.connect(postgres_admin_url(), autocommit=True) as connection:
        for url in postgres:
            name = url.rpartition("/")[2]
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
