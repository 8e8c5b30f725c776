"""Configuration mistakes: the server (or command) refuses at once with one message that names
the real cause, exits non-zero, and prints no traceback."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.databases import drop_all, fresh_postgres_database, postgres_admin_url
from tests.support.files import read_only

ACCEPTED_FORMS = "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"


def _ecsram(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ECSRAM_")}
    return subprocess.run(
        [sys.executable, "-m", "ecsram", *args],
        capture_output=True,
        text=True,
        # A server that starts when it should have refused would run until killed: a failure.
        timeout=30,
        cwd=cwd,
        env={**environment, **(env or {})},
        check=False,
    )


def _refused(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode != 0, result.stdout + result.stderr
    assert fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "ecsram listening" not in result.stdout


def _prepared_sqlite(directory: Path) -> Path:
    """A store that has been served before: migrated, with its first account."""
    path = directory / "ecsram.db"
    prepared = _ecsram("account", "create", "--database", f"sqlite:///{path}")
    assert prepared.returncode == 0, prepared.stderr
    return path


# --- SQLite files and directories ------------------------------------------------------------


def test_read_only_database_file_is_refused(tmp_path: Path) -> None:
    path = _prepared_sqlite(tmp_path)
    with read_only(path):
        result = _ecsram("serve", "--port", "0", "--database", f"sqlite:///{path}")
    _refused(result, f"database file {path} is read-only")


def test_read_only_database_file_is_refused_by_commands(tmp_path: Path) -> None:
    path = _prepared_sqlite(tmp_path)
    with read_only(path):
        result = _ecsram("account", "create", "--database", f"sqlite:///{path}")
    _refused(result, f"database file {path} is read-only")


def test_missing_database_directory_is_named_and_not_created(tmp_path: Path) -> None:
    directory = tmp_path / "no" / "such"
    result = _ecsram("serve", "--port", "0", "--database", f"sqlite:///{directory}/ecsram.db")
    _refused(result, f"database directory {directory} does not exist")
    assert "cannot listen" not in result.stderr
    assert not (tmp_path / "no").exists()


def test_unwritable_database_directory_is_named(tmp_path: Path) -> None:
    directory = tmp_path / "locked"
    directory.mkdir()
    with read_only(directory):
        result = _ecsram("serve", "--port", "0", "--database", f"sqlite:///{directory}/ecsram.db")
    _refused(result, f"database directory {directory} is not writable")


def test_database_directory_under_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    result = _ecsram("migrate", "--database", f"sqlite:///{tmp_path}/file/sub/ecsram.db")
    _refused(result, f"{tmp_path}/file is a file")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG_DATA_HOME places the data directory on Linux")
def test_default_data_directory_is_created(tmp_path: Path) -> None:
    result = _ecsram("migrate", env={"XDG_DATA_HOME": str(tmp_path / "data")})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "ecsram" / "ecsram.db").is_file()


# --- database URLs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("postgres:/127.0.0.1/ecsram", "no '//' after the scheme"),
        ("postgresql:127.0.0.1/ecsram", "no '//' after the scheme"),
        ("postgress://postgres@127.0.0.1:1/ecsram", "unsupported database URL scheme 'postgress'"),
        ("sqlite3:///ecsram.db", "unsupported database URL scheme 'sqlite3'"),
    ],
)
def test_misspelt_url_scheme_is_refused_with_the_accepted_forms(tmp_path: Path, url: str, fragment: str) -> None:
    result = _ecsram("serve", "--port", "0", "--database", url, cwd=tmp_path)
    _refused(result, fragment)
    assert ACCEPTED_FORMS in result.stderr
    assert list(tmp_path.iterdir()) == []  # and no SQLite file named after the typo


@pytest.mark.parametrize("url", ["postgresql://postgres@127.0.0.1:1/", "postgresql://127.0.0.1:1"])
def test_postgres_url_without_a_database_is_refused(url: str) -> None:
    _refused(_ecsram("serve", "--port", "0", "--database", url), "names no database")


def test_sqlite_url_with_two_slashes_says_which_form_to_use(tmp_path: Path) -> None:
    result = _ecsram("serve", "--port", "0", "--database", "sqlite://relative.db", cwd=tmp_path)
    _refused(result, "sqlite:///relative.db")
    assert list(tmp_path.iterdir()) == []


def test_password_is_not_echoed_in_url_errors() -> None:
    result = _ecsram("migrate", "--database", "postgresql://user:hunter2@127.0.0.1:1")
    _refused(result, "names no database")
    assert "hunter2" not in result.stderr


@pytest.fixture
def postgres_database() -> Iterator[str]:
    url = fresh_postgres_database()
    yield url
    drop_all([url])


def test_read_only_postgres_database_is_refused(postgres_database: str) -> None:
    prepared = _ecsram("account", "create", "--database", postgres_database)
    assert prepared.returncode == 0, prepared.stderr
    name = postgres_database.rpartition("/")[2]
    with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    _refused(_ecsram("serve", "--port", "0", "--database", postgres_database), "refuses writes")


# --- listeners -------------------------------------------------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield holder.getsockname()[1]


def test_busy_metadata_port_is_reported_with_its_own_address(
    busy_port: int, database_factory: Callable[[], str]
) -> None:
    result = _ecsram(
        "serve", "--port", "0", "--database", database_factory(), "--metadata-listen", f"127.0.0.1:{busy_port}"
    )
    _refused(result, f"cannot listen on 127.0.0.1:{busy_port}")
    assert "127.0.0.1:0" not in result.stderr


def test_busy_api_port_is_reported_with_its_address(busy_port: int, database_factory: Callable[[], str]) -> None:
    _refused(_ecsram("serve", "--port", str(busy_port), "--database", database_factory()), f":{busy_port}")


def _ipv4_mapped_supported() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::ffff:127.0.0.1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv4_mapped_supported(), reason="no IPv6 sockets with IPv4-mapped addresses here")
def test_ipv4_mapped_loopback_is_loopback(database_factory: Callable[[], str]) -> None:
    # With the well-known default key, a non-loopback address is refused: this one must not be.
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "ecsram", "serve", "--host", "::ffff:127.0.0.1", "--port", "0"),
            *("--database", database_factory(), "--metadata-listen", "[::ffff:127.0.0.1]:0"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        banner = ""
        for line in process.stdout:
            banner += line
            if "SDK endpoint:" in line:
                break
        found = re.search(r"listening on http://\[::ffff:127\.0\.0\.1\]:(\d+)", banner)
        assert found, banner
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{found.group(1)}/_ecsram/health", timeout=2) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, banner
                time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(15)
        assert process.stdout is not None
        process.stdout.close()


# --- the same rules for every command --------------------------------------------------------


def test_in_memory_forms_are_not_refused_as_typos() -> None:
    # `sqlite://` and `sqlite:///:memory:` name the in-memory store; they are not misspellings.
    for url in ("sqlite://", "sqlite:///:memory:"):
        result = _ecsram("migrate", "--database", url)
        assert "no '//'" not in result.stderr and "names no file" not in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
