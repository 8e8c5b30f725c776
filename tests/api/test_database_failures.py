"""When the database is not there: a clear refusal at start-up, 503 during an outage (never a
hang or a 500), and service again once it is back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import orjson
import psycopg
import pytest

from ecsram.testing.accounts import create_account
from ecsram.testing.server import ServerProcess
from tests.support.databases import drop_all, fresh_postgres_database, postgres_admin_url
from tests.support.raw import RawClient


def _ecsram(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecsram", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
        check=False,
    )


@pytest.mark.parametrize(
    "url",
    ["postgresql://postgres@127.0.0.1:1/ecsram", "postgresql://nobody@127.0.0.1:5432/no_such_database_at_all"],
    ids=["nothing-listening", "no-such-database"],
)
def test_unreachable_database_at_start(url: str) -> None:
    started = time.monotonic()
    result = _ecsram("serve", "--port", "0", "--database", url)
    assert result.returncode != 0
    assert "database unavailable" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 30  # refused promptly, not after a hang


def test_unsupported_database_url() -> None:
    result = _ecsram("migrate", "--database", "mysql://root@127.0.0.1/ecsram")
    assert result.returncode != 0
    assert "unsupported database URL scheme" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def postgres_database() -> Iterator[str]:
    url = fresh_postgres_database()
    yield url
    drop_all([url])


def _set_connections_allowed(url: str, allowed: bool) -> None:
    name = url.rpartition("/")[2]
    with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"true" if allowed else "false"}')
        if not allowed:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )


def test_postgres_outage_gives_503_then_recovers(
    postgres_database: str, server_factory: Callable[..., ServerProcess]
) -> None:
    server = server_factory(postgres_database, workers=2)
    key = create_account(postgres_database)
    client = RawClient(server.endpoint, key.access_key_id, key.secret)
    assert client.v1("DescribeRegions").status == 200

    _set_connections_allowed(postgres_database, False)
    try:
        for _ in range(6):  # every worker's connection is gone and none can be made
            started = time.monotonic()
            response = client.v1("DescribeRegions")
            assert (response.status, response.code) == (503, "ServiceUnavailable"), response.body
            assert time.monotonic() - started < 15
        with pytest.raises(urllib.error.HTTPError) as ready:
            urllib.request.urlopen(f"{server.url}/_ecsram/ready", timeout=15)
        assert ready.value.code == 503
        assert orjson.loads(ready.value.read())["store"] == "unavailable"
        # Liveness stays up: the worker runs, and says the store is gone.
        with urllib.request.urlopen(f"{server.url}/_ecsram/health", timeout=15) as health:
            assert orjson.loads(health.read()) | {"reason": ""} == {
                "status": "ok",
                "store": "unavailable",
                "reason": "",
            }
    finally:
        _set_connections_allowed(postgres_database, True)

    for _ in range(6):  # each worker reconnects on its next request
        assert client.v1("DescribeRegions").status == 200
    with urllib.request.urlopen(f"{server.url}/_ecsram/ready", timeout=15) as ready_again:
        assert ready_again.status == 200
    assert "Traceback" not in "".join(server.output)


def test_connections_killed_between_requests_are_replaced(
    postgres_database: str, server_factory: Callable[..., ServerProcess]
) -> None:
    server = server_factory(postgres_database)
    key = create_account(postgres_database)
    client = RawClient(server.endpoint, key.access_key_id, key.secret)
    assert client.v1("DescribeRegions").status == 200
    name = postgres_database.rpartition("/")[2]
    with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()
    assert killed is not None and killed[0] >= 1
    # The dead connection is noticed at BEGIN and replaced at once: no error reaches the client.
    assert client.v1("DescribeRegions").status == 200
