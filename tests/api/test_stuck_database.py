"""A stuck database must not freeze the server: a store call that takes longer than --db-timeout is
broken and answered 503 ServiceUnavailable; then calls are refused at once (no new waits) while the
store is checked about once a second; health reports the store's state at once and ready answers
503; when the store answers again, calls are served, and no acknowledged write is lost.

PostgreSQL is frozen with SIGSTOP on a private cluster the test starts itself (never the shared
one); SQLite is held up by another process holding its write lock."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ecsram.testing.accounts import create_account
from ecsram.testing.server import ServerProcess
from tests.support.admin import timed_get
from tests.support.raw import RAM, RawClient

DB_TIMEOUT = 2.0  # the servers' --db-timeout here
# Room for a busy machine (two shared cores, other suites running) on top of the bound: a
# broken call answers within DB_TIMEOUT + the watchdog's tick + this.
MARGIN = 2.0
# "At once": a call refused by the open circuit, or health while it is open.
PROMPT = 1.0
PATIENCE = 30.0  # how long a test waits for recovery
ECS_TRUST = (
    '{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["ecs.aliyuncs.com"]}}],'
    '"Version":"1"}'
)


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@dataclass
class Writer:
    """CreateRole in a loop from a thread of its own; remembers every role acknowledged (200)."""

    client: RawClient
    acknowledged: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def create_role(self) -> tuple[int, str | None]:
        name = f"stuck-{uuid.uuid4().hex[:16]}"
        response = self.client.v1("CreateRole", {"RoleName": name, "AssumeRolePolicyDocument": ECS_TRUST}, version=RAM)
        self.statuses.append(response.status)
        if response.status == 200:
            self.acknowledged.append(name)
        return response.status, response.code

    def __enter__(self) -> Writer:
        def loop() -> None:
            while not self._stop.is_set():
                self.create_role()
                self._stop.wait(0.05)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(60)


def listed_roles(client: RawClient) -> set[str]:
    names: set[str] = set()
    marker: str | None = None
    while True:
        params = {"MaxItems": "1000"} | ({"Marker": marker} if marker else {})
        response = client.v1("ListRoles", params, version=RAM)
        assert response.status == 200, response.body
        document = response.json
        names.update(role["RoleName"] for role in document["Roles"]["Role"])
        if not document.get("IsTruncated"):
            return names
        marker = document["Marker"]


def assert_stuck(server: ServerProcess, writer: Writer) -> None:
    """The first call waits the bound and no more, later calls are refused at once, health tells."""
    (status, code), took = timed(writer.create_role)
    assert (status, code) == (503, "ServiceUnavailable")
    assert took < DB_TIMEOUT + MARGIN, f"the first stuck call took {took:.2f} s"
    for _ in range(3):
        (status, code), took = timed(writer.create_role)
        assert (status, code) == (503, "ServiceUnavailable")
        assert took < PROMPT, f"a call with the circuit open took {took:.2f} s"
    status, body, took = timed_get(f"{server.url}/_ecsram/health")
    assert status == 200 and body["store"] == "unavailable", body
    assert "--db-timeout" in body["reason"], body
    assert took < PROMPT, f"health took {took:.2f} s"
    status, body, took = timed_get(f"{server.url}/_ecsram/ready")
    assert status == 503 and body["store"] == "unavailable", body
    assert took < PROMPT, f"ready took {took:.2f} s"


def assert_recovers(server: ServerProcess, writer: Writer) -> None:
    try:
        _assert_recovers(server, writer)
    except (AssertionError, OSError) as exc:
        raise AssertionError(f"{exc}\nserver output:\n{''.join(server.output)}") from exc


def _assert_recovers(server: ServerProcess, writer: Writer) -> None:
    # Each worker closes its own circuit when its recovery check sees the store answer (about once
    # a second), so with several workers a call may meet one that has not yet: it gets a 503, which
    # clients retry. Recovered means five calls in a row served, within the patience.
    deadline = time.monotonic() + PATIENCE
    served_in_a_row = 0
    while served_in_a_row < 5:
        assert time.monotonic() < deadline, "the server did not serve again after the store came back"
        status, code = writer.create_role()
        if status == 200:
            served_in_a_row += 1
        else:
            assert (status, code) == (503, "ServiceUnavailable")
            served_in_a_row = 0
            time.sleep(0.2)
    assert timed_get(f"{server.url}/_ecsram/health")[:2] == (200, {"status": "ok", "store": "ok"})
    assert timed_get(f"{server.url}/_ecsram/ready")[:2] == (200, {"status": "ready"})
    missing = set(writer.acknowledged) - listed_roles(writer.client)
    assert not missing, f"acknowledged roles lost: {sorted(missing)}"
    assert 500 not in writer.statuses
    output = "".join(server.output)
    assert "Traceback" not in output, output


# --- PostgreSQL: a private cluster, frozen with SIGSTOP ---------------------------------------


def postgres_bindir() -> Path | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10, check=True)
        candidate = Path(found.stdout.strip())
        if (candidate / "initdb").exists() and (candidate / "postgres").exists():
            return candidate
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists() and Path(candidate, "postgres").exists():
            return Path(candidate)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PrivatePostgres:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/ecsram"

    def children(self) -> list[int]:
        """The backends and helper processes (each a session of its own, so not in our group)."""
        listed = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return [int(pid) for pid in listed.split()]

    def freeze(self) -> None:
        """SIGSTOP the postmaster (first, so that it starts no one new) and every backend."""
        os.kill(self.process.pid, signal.SIGSTOP)
        for pid in self.children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        os.kill(self.process.pid, signal.SIGCONT)


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[PrivatePostgres]:
    bindir = postgres_bindir()
    if bindir is None:
        message = "no PostgreSQL server binaries (initdb, postgres) on this machine"
        if os.environ.get("ECSRAM_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    # initdb refuses to run as root: as root, the cluster belongs to the postgres OS user, in a
    # directory it can reach (pytest's tmp_path is private to root).
    user: str | None = None
    base = tmp_path
    if os.geteuid() == 0:
        user = "postgres"
        entry = pwd.getpwnam(user)
        base = Path(tempfile.mkdtemp(prefix="ecsram-stuck-pg-"))
        os.chown(base, entry.pw_uid, entry.pw_gid)
    data = base / "data"
    port = free_port()
    process: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
            user=user,
            capture_output=True,
            timeout=120,
            check=True,
        )
        process = subprocess.Popen(
            [
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",
                "-c",
                "fsync=off",
            ],
            user=user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            process_group=0,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with psycopg.connect(
                    f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True, connect_timeout=2
                ) as admin:
                    admin.execute("CREATE DATABASE ecsram")
                break
            except psycopg.OperationalError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield PrivatePostgres(process, port)
    finally:
        if process is not None:
            with contextlib.suppress(OSError):
                PrivatePostgres(process, port).thaw()
                process.send_signal(signal.SIGQUIT)  # immediate shutdown
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(30)
        if base != tmp_path:
            shutil.rmtree(base, ignore_errors=True)


def test_frozen_postgres_answers_503_within_the_bound_then_recovers(
    private_postgres: PrivatePostgres, server_factory: Callable[..., ServerProcess]
) -> None:
    server = server_factory(private_postgres.url, workers=1, extra_args=("--db-timeout", f"{DB_TIMEOUT:g}"))
    key = create_account(private_postgres.url)
    writer = Writer(RawClient(server.endpoint, key.access_key_id, key.secret))
    for _ in range(5):
        assert writer.create_role() == (200, None)

    with writer:
        time.sleep(0.5)  # writes in flight when the database stops
        private_postgres.freeze()
        try:
            time.sleep(0.2)
            assert_stuck(server, writer)
            time.sleep(DB_TIMEOUT + 1)  # still refused at once, many seconds into the outage
            (status, _code), took = timed(writer.create_role)
            assert status == 503 and took < PROMPT, f"{status} after {took:.2f} s"
        finally:
            private_postgres.thaw()
        time.sleep(1)
    assert_recovers(server, writer)


def test_frozen_postgres_does_not_hold_up_a_second_worker_or_health(
    private_postgres: PrivatePostgres, server_factory: Callable[..., ServerProcess]
) -> None:
    """With two workers, each finds the stuck store on its own: no request waits more than the
    bound, and health answers within a second throughout."""
    server = server_factory(private_postgres.url, workers=2, extra_args=("--db-timeout", f"{DB_TIMEOUT:g}"))
    key = create_account(private_postgres.url)
    writer = Writer(RawClient(server.endpoint, key.access_key_id, key.secret))
    assert writer.create_role() == (200, None)
    private_postgres.freeze()
    try:
        for _ in range(8):
            (status, code), took = timed(writer.create_role)
            assert (status, code) == (503, "ServiceUnavailable")
            assert took < DB_TIMEOUT + MARGIN, f"a call took {took:.2f} s"
        for _ in range(4):
            status, body, took = timed_get(f"{server.url}/_ecsram/health")
            assert status == 200 and body["store"] == "unavailable", body
            assert took < PROMPT + 0.5, f"health took {took:.2f} s"
    finally:
        private_postgres.thaw()
    assert_recovers(server, writer)


def worker_pids(server: ServerProcess) -> list[int]:
    """The server's worker processes (multiprocessing children of its parent process)."""
    assert server.process is not None
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.1)


def test_a_worker_restarted_during_an_outage_waits_for_the_store(
    private_postgres: PrivatePostgres, server_factory: Callable[..., ServerProcess]
) -> None:
    """A worker that dies while the store is stuck is restarted, and its start-up waits for the
    store: it must not fail, which would make uvicorn stop the whole server."""
    server = server_factory(private_postgres.url, workers=2, extra_args=("--db-timeout", f"{DB_TIMEOUT:g}"))
    key = create_account(private_postgres.url)
    writer = Writer(RawClient(server.endpoint, key.access_key_id, key.secret))
    assert writer.create_role() == (200, None)
    before = worker_pids(server)
    assert len(before) == 2, before
    private_postgres.freeze()
    try:
        os.kill(before[0], signal.SIGKILL)
        wait_for(lambda: len(set(worker_pids(server)) - set(before)) >= 1, "the supervisor restarts the worker")
        # The new worker's start-up meets the stuck store and waits (after its imports, which a
        # loaded machine can stretch past any fixed sleep), and the server keeps running.
        wait_for(
            lambda: any("worker start-up waits for the store" in line for line in server.output),
            "the restarted worker's start-up says it waits for the store",
        )
        time.sleep(DB_TIMEOUT)  # and it waits on, without failing
        assert server.process is not None and server.process.poll() is None, "".join(server.output)
    finally:
        private_postgres.thaw()
    assert_recovers(server, writer)


def test_a_server_stops_promptly_while_a_worker_waits_for_the_store(
    private_postgres: PrivatePostgres, server_factory: Callable[..., ServerProcess]
) -> None:
    """SIGTERM ends a worker's wait for the store: the server stops without being killed."""
    server = server_factory(private_postgres.url, workers=2, extra_args=("--db-timeout", f"{DB_TIMEOUT:g}"))
    before = worker_pids(server)
    private_postgres.freeze()
    try:
        os.kill(before[0], signal.SIGKILL)
        wait_for(
            lambda: any("worker start-up waits for the store" in line for line in server.output),
            "the restarted worker waits for the store",
        )
        code = server.stop(timeout=10.0)
    finally:
        private_postgres.thaw()
    assert code is not None and code != -signal.SIGKILL, f"exit code {code}:\n{''.join(server.output)}"


# --- SQLite: another process holds the write lock ---------------------------------------------


HOLD_SQLITE_WRITE_LOCK = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
"""

HOLD_WRITER_LOCK_FILE = """
import fcntl, os, sys
descriptor = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(descriptor, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()
"""


@contextlib.contextmanager
def holder(script: str, path: Path) -> Iterator[Callable[[], None]]:
    """Another process that holds a lock until the returned function (or the block's end) lets go."""
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdin is not None
    assert process.stdout.readline().strip() == "held"

    def release() -> None:
        if process.poll() is None:
            assert process.stdin is not None
            process.stdin.write("\n")
            process.stdin.flush()
            process.wait(30)

    try:
        yield release
    finally:
        release()


@pytest.mark.parametrize("lock", ["sqlite-write-lock", "writer-lock-file"])
def test_sqlite_write_lock_held_elsewhere_answers_503_within_the_bound_then_recovers(
    lock: str, tmp_path: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    path = tmp_path / "ecsram.db"
    url = f"sqlite:///{path}"
    server = server_factory(url, workers=1, extra_args=("--db-timeout", f"{DB_TIMEOUT:g}"))
    key = create_account(url)
    writer = Writer(RawClient(server.endpoint, key.access_key_id, key.secret))
    for _ in range(5):
        assert writer.create_role() == (200, None)
    script, target = (
        (HOLD_SQLITE_WRITE_LOCK, path)
        if lock == "sqlite-write-lock"
        else (HOLD_WRITER_LOCK_FILE, Path(f"{path}.writer-lock"))
    )
    with holder(script, target) as release:
        assert_stuck(server, writer)
        time.sleep(DB_TIMEOUT + 1)  # the circuit's checks wait for the lock too; calls are still refused at once
        (status, _code), took = timed(writer.create_role)
        assert status == 503 and took < PROMPT, f"{status} after {took:.2f} s"
        release()
    assert_recovers(server, writer)


# --- the setting ------------------------------------------------------------------------------


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecsram", "serve", "--port", "0", "--database", "sqlite://", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("--db-timeout", "0"), None),
        (("--db-timeout", "-1"), None),
        (("--db-timeout", "301"), None),
        (("--db-timeout", "soon"), None),
        ((), {"ECSRAM_DB_TIMEOUT": "0.1"}),
        ((), {"ECSRAM_DB_TIMEOUT": "five"}),
    ],
    ids=["zero", "negative", "too-long", "not-a-number", "env-too-short", "env-not-a-number"],
)
def test_a_bad_db_timeout_is_refused_at_start(args: tuple[str, ...], env: dict[str, str] | None) -> None:
    result = _serve(*args, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--db-timeout" in result.stderr and "Traceback" not in result.stderr, result.stderr
