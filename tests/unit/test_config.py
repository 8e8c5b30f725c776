"""Settings: the environment round trip worker processes depend on, loopback, metadata listeners."""

from __future__ import annotations

from dataclasses import fields

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsram.config import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    MAX_BODY_BYTES,
    MAX_HEADER_BYTES,
    Settings,
    default_database_url,
    is_loopback,
    parse_metadata_listener,
)
from ecsram.store.database import normalise_url

_NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
_HOSTS = st.one_of(
    st.sampled_from(["127.0.0.1", "0.0.0.0", "::1", "::", "localhost"]),
    st.ip_addresses().map(str),
    _NAME.map(lambda name: f"{name}.example"),
)
_PORTS = st.integers(min_value=0, max_value=65535)
_LISTENER = st.builds(
    lambda instance, host, port: f"{instance + '@' if instance else ''}{host}:{port}",
    st.one_of(st.none(), _NAME.map(lambda name: f"i-{name}")),
    st.sampled_from(["127.0.0.1", "[::1]", "100.100.100.200", "localhost"]),
    _PORTS,
)
_DATABASE_URLS = st.one_of(
    _NAME.map(lambda name: f"sqlite:////tmp/{name}/ecsram.db"),
    st.builds(
        lambda user, password, host, port, db: f"postgresql://{user}:{password}@{host}:{port}/{db}",
        _NAME,
        _NAME,
        _NAME,
        st.integers(min_value=1, max_value=65535),
        _NAME,
    ),
)
_SETTINGS = st.builds(
    Settings,
    host=_HOSTS,
    port=_PORTS,
    database_url=_DATABASE_URLS,
    workers=st.integers(min_value=1, max_value=64),
    test_clock=st.booleans(),
    max_body_bytes=st.integers(min_value=1, max_value=2**40),
    max_header_bytes=st.integers(min_value=1, max_value=2**31),
    metadata_listeners=st.lists(_LISTENER, max_size=4).map(tuple),
)


@given(_SETTINGS)
def test_to_env_and_from_env_are_exact_inverses(settings: Settings) -> None:
    env = settings.to_env()
    assert Settings.from_env(env) == settings
    assert Settings.from_env(env).to_env() == env


def test_to_env_names_every_field() -> None:
    env = Settings(database_url="sqlite:////tmp/x.db", test_clock=True, metadata_listeners=("a:1", "i-1@b:2")).to_env()
    # Every setting travels to the workers, each under its own ECSRAM_* name.
    assert sorted(env) == sorted({Settings._ENV[f.name] for f in fields(Settings)})
    assert all(name.startswith("ECSRAM_") for name in env)
    assert {
        "ECSRAM_HOST": DEFAULT_HOST,
        "ECSRAM_PORT": str(DEFAULT_PORT),
        "ECSRAM_DATABASE_URL": "sqlite+pysqlite:////tmp/x.db",
        "ECSRAM_WORKERS": "1",
        "ECSRAM_TEST_CLOCK": "1",
        "ECSRAM_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        "ECSRAM_MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
        "ECSRAM_METADATA_LISTENERS": "a:1,i-1@b:2",
    }.items() <= env.items()


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8877, 1)
    assert settings.test_clock is False
    assert (settings.max_body_bytes, settings.max_header_bytes) == (1024 * 1024, 64 * 1024)
    assert settings.metadata_listeners == ()
    assert settings.database_url == normalise_url(default_database_url())
    assert settings.database_url.startswith("sqlite+pysqlite:///")
    assert settings.loopback_only


def test_from_env_reads_the_environment_variables() -> None:
    settings = Settings.from_env(
        {
            "ECSRAM_HOST": "0.0.0.0",
            "ECSRAM_PORT": "9000",
            "ECSRAM_WORKERS": "4",
            "ECSRAM_TEST_CLOCK": "yes",
            "ECSRAM_DATABASE_URL": "postgresql://u:p@db:5432/ecsram",
            "ECSRAM_METADATA_LISTENERS": " 127.0.0.1:80 , ,i-1@[::1]:81",
            "ECSRAM_MAX_BODY_BYTES": "",
            "UNRELATED": "x",
        }
    )
    assert (settings.host, settings.port, settings.workers, settings.test_clock) == ("0.0.0.0", 9000, 4, True)
    assert settings.database_url == "postgresql+psycopg://u:p@db:5432/ecsram"
    assert settings.metadata_listeners == ("127.0.0.1:80", "i-1@[::1]:81")
    assert settings.max_body_bytes == MAX_BODY_BYTES
    assert not settings.loopback_only


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("TRUE", True), (" on ", True), ("0", False), ("no", False), ("maybe", False)]
)
def test_boolean_flags(raw: str, expected: bool) -> None:
    assert Settings.from_env({"ECSRAM_TEST_CLOCK": raw}).test_clock is expected


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "127.255.255.254", "::1", "[::1]", "localhost"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "10.0.0.1", "192.168.1.1", "example.com", "localhost.example.com", "128.0.0.1", ""]
)
def test_non_loopback_hosts(host: str) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("127.0.0.1:8080", (None, ("127.0.0.1", 8080))),
        ("i-abc@127.0.0.1:80", ("i-abc", ("127.0.0.1", 80))),
        ("[::1]:9999", (None, ("::1", 9999))),
        ("i-abc@[::1]:1", ("i-abc", ("::1", 1))),
        ("localhost:65535", (None, ("localhost", 65535))),
        ("@localhost:0", (None, ("localhost", 0))),
    ],
)
def test_parse_metadata_listener_accepts(spec: str, expected: tuple[str | None, tuple[str, int]]) -> None:
    assert parse_metadata_listener(spec) == expected


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "localhost",
        "localhost:",
        ":80",
        "i-1@:80",
        "i-1@",
        "host:http",
        "host:65536",
        "host:-1",
        "host:8 0",
        "host:+80",
        "host:８０",
    ],
)
def test_parse_metadata_listener_rejects(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_metadata_listener(spec)


def test_pinned_metadata_instances() -> None:
    settings = Settings(database_url="sqlite:////tmp/x.db", metadata_listeners=("i-1@127.0.0.1:81", "127.0.0.1:82"))
    assert settings.pinned_metadata_instances() == {81: "i-1", 82: None}
