"""Settings parsing: numbers are ASCII digits only, loopback includes IPv4-mapped addresses, and
database URLs are accepted only in their documented forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecsram.config import Settings, ascii_int, is_loopback, parse_metadata_listener
from ecsram.store.database import is_in_memory, normalise_url, sqlite_file


@pytest.mark.parametrize(
    ("text", "value"),
    [
        *[("0", 0), ("8877", 8877), ("007", 7), ("", None), ("²", None), ("８８", None), ("+1", None)],
        *[("1_0", None), (" 1", None), ("-1", None), ("1" * 19, None)],
    ],
)
def test_ascii_int(text: str, value: int | None) -> None:
    assert ascii_int(text) == value


@pytest.mark.parametrize("port", ["８０", "8\xb2", "+80", "8_0", "65536", ""])
def test_metadata_listener_port_must_be_ascii_digits(port: str) -> None:
    with pytest.raises(ValueError, match="is not"):
        parse_metadata_listener(f"127.0.0.1:{port}")


def test_metadata_listener_forms() -> None:
    assert parse_metadata_listener("i-1@127.0.0.1:80") == ("i-1", ("127.0.0.1", 80))
    assert parse_metadata_listener("[::1]:0") == (None, ("::1", 0))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ECSRAM_PORT", "８８７７"),
        ("ECSRAM_WORKERS", "²"),
        ("ECSRAM_REQUEST_TIMEOUT", "1e3"),
        ("ECSRAM_REQUEST_TIMEOUT", "0"),
    ],
)
def test_environment_numbers_must_be_ascii(variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=variable):
        Settings.from_env({variable: value, "ECSRAM_DATABASE_URL": "sqlite:///tmp/x.db"})


def test_environment_round_trip() -> None:
    settings = Settings(database_url="sqlite:////tmp/x.db", request_timeout=2.5, max_connections=7)
    assert Settings.from_env(settings.to_env()) == settings


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        *[("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True)],
        *[("::ffff:127.0.0.1", True), ("[::ffff:127.0.0.1]", True), ("::ffff:10.0.0.1", False)],
        *[("0.0.0.0", False), ("::", False), ("example.com", False)],
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("postgres:/127.0.0.1/x", "no '//' after the scheme"),
        ("sqlite:relative.db", "no '//' after the scheme"),
        ("postgresql://127.0.0.1/", "names no database"),
        ("postgres://u@h:5432", "names no database"),
        ("sqlite://relative.db", "sqlite:///relative.db"),
        ("sqlite://host:5/x.db", "names no file"),
        ("mysql://root@h/db", "unsupported database URL scheme 'mysql'"),
    ],
)
def test_database_urls_refused(url: str, fragment: str) -> None:
    with pytest.raises(ValueError) as refused:
        normalise_url(url)
    assert fragment in str(refused.value)


def test_database_urls_accepted(tmp_path: Path) -> None:
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url(f"sqlite:///{tmp_path}/x.db") == f"sqlite+pysqlite:///{tmp_path}/x.db"
    assert sqlite_file(str(tmp_path / "y.db")) == tmp_path / "y.db"  # a bare path
    for in_memory in ("sqlite://", "sqlite:///:memory:"):
        normalise_url(in_memory)
        assert is_in_memory(in_memory) and sqlite_file(in_memory) is None
    assert sqlite_file(f"sqlite:///{tmp_path}/x.db") == tmp_path / "x.db"
