"""Settings: command-line flags and ECSRAM_* environment variables, in one place.

Worker processes are started by the ASGI server and rebuild their settings from the
environment, so ``Settings.to_env`` / ``Settings.from_env`` are exact inverses.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import ClassVar

from platformdirs import user_data_dir

from ecsram.faults.throttle import Rate, parse_rate
from ecsram.store.database import is_in_memory, normalise_url

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8877

# Well-known defaults so that `ecsram serve` works with no set-up. They are public, so a server
# listening beyond loopback refuses to start while they are active (see server.py).
DEFAULT_ACCOUNT_ID = "1000000000000001"
DEFAULT_ROOT_ACCESS_KEY_ID = "LTAI5tEcsramDefaultRoot1"
DEFAULT_ROOT_ACCESS_KEY_SECRET = "EcsramDefaultRootSecretNotSafe"

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")
DEFAULT_TRAIL_RETENTION = "7d,1000000"

MAX_BODY_BYTES = 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
# A client has this long to send a whole request (see docs/configuration.md, "Slow clients").
REQUEST_TIMEOUT_SECONDS = 10.0
# Open connections per worker process; requests beyond it are answered 503 at once.
MAX_CONNECTIONS = 1000
# The most one store transaction may take before it is broken and answered 503 (--db-timeout):
# far above any healthy transaction (milliseconds), and half the SDKs' 10 s read timeout, so that
# a client gets a 503 it can retry rather than a timeout of its own (docs/configuration.md).
DB_TIMEOUT_SECONDS = 5.0
DB_TIMEOUT_MIN_SECONDS = 0.5
DB_TIMEOUT_MAX_SECONDS = 300.0


def ascii_int(text: str) -> int | None:
    """The value of a string of ASCII digits, else None. ``str.isdigit`` and ``int`` also accept
    other scripts' digits (``"²"``, ``"８"``), and ``int`` signs, spaces and underscores."""
    if not text or not text.isascii() or not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def default_database_url() -> str:
    """A SQLite file in the per-user data directory (e.g. ~/.local/share/ecsram on Linux)."""
    return f"sqlite:///{Path(user_data_dir('ecsram', appauthor=False)) / 'ecsram.db'}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    # ::ffff:127.0.0.1 is IPv4's loopback seen through an IPv6 socket (Python 3.11 says it is not).
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    database_url: str = ""
    workers: int = 1
    # A settable clock offset for tests of credential expiry (see docs/configuration.md).
    test_clock: bool = False
    max_body_bytes: int = MAX_BODY_BYTES
    max_header_bytes: int = MAX_HEADER_BYTES
    # Dedicated metadata-service listeners, each "[INSTANCE_ID@]HOST:PORT" (comma-separated in the
    # environment); a listener with an instance ID answers as that instance.
    metadata_listeners: tuple[str, ...] = ()
    # HTTPS on the API port (see ecsram.tls). With tls_cert and tls_key the server uses them;
    # otherwise a certificate signed by the local CA in tls_dir (default: in the user data dir).
    # serve() resolves tls_cert/tls_key before the workers start, so they all load the same files.
    tls: bool = False
    tls_dir: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    request_timeout: float = REQUEST_TIMEOUT_SECONDS
    max_connections: int = MAX_CONNECTIONS
    db_timeout: float = DB_TIMEOUT_SECONDS
    # A seed file applied at start (see docs/testing.md), and the log: level, text/json, file.
    seed_file: str = ""
    log_level: str = "warning"
    log_format: str = "text"
    log_file: str = ""
    # Emulated throttling per AccessKey and action, e.g. "10/s" (docs/faults.md); "" is off.
    throttle: str = ""
    # The audit trail (docs/trail.md): on or off, and how much of it is kept.
    trail: bool = True
    trail_retention: str = DEFAULT_TRAIL_RETENTION
    # The web console (docs/console.md) asks for a root AccessKey login even on a loopback-only
    # server (beyond loopback it always does).
    console_login: bool = False

    def __post_init__(self) -> None:
        parse_retention(self.trail_retention)
        object.__setattr__(self, "database_url", normalise_url(self.database_url or default_database_url()))
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f"log level {self.log_level!r} is not one of {', '.join(LOG_LEVELS)}")
        if self.log_format not in LOG_FORMATS:
            raise ValueError(f"log format {self.log_format!r} is not one of {', '.join(LOG_FORMATS)}")
        self.throttle_rate()  # a bad rate is refused here, with the reason
        check_db_timeout(self.db_timeout)

    def throttle_rate(self) -> Rate | None:
        return parse_rate(self.throttle) if self.throttle else None

    @property
    def in_memory(self) -> bool:
        """The database lives inside the one server process (``sqlite://``)."""
        return is_in_memory(self.database_url)

    @property
    def loopback_only(self) -> bool:
        return is_loopback(self.host)

    @property
    def console_needs_login(self) -> bool:
        return self.console_login or not self.loopback_only

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def uses_default_database(self) -> bool:
        """The default SQLite file, whose directory is created when missing (others must exist)."""
        return self.database_url == normalise_url(default_database_url())

    _ENV: ClassVar[dict[str, str]] = {
        "host": "ECSRAM_HOST",
        "port": "ECSRAM_PORT",
        "database_url": "ECSRAM_DATABASE_URL",
        "workers": "ECSRAM_WORKERS",
        "test_clock": "ECSRAM_TEST_CLOCK",
        "max_body_bytes": "ECSRAM_MAX_BODY_BYTES",
        "max_header_bytes": "ECSRAM_MAX_HEADER_BYTES",
        "metadata_listeners": "ECSRAM_METADATA_LISTENERS",
        "tls": "ECSRAM_TLS",
        "tls_dir": "ECSRAM_TLS_DIR",
        "tls_cert": "ECSRAM_TLS_CERT",
        "tls_key": "ECSRAM_TLS_KEY",
        "request_timeout": "ECSRAM_REQUEST_TIMEOUT",
        "max_connections": "ECSRAM_MAX_CONNECTIONS",
        "db_timeout": "ECSRAM_DB_TIMEOUT",
        "seed_file": "ECSRAM_SEED",
        "log_level": "ECSRAM_LOG_LEVEL",
        "log_format": "ECSRAM_LOG_FORMAT",
        "log_file": "ECSRAM_LOG_FILE",
        "throttle": "ECSRAM_THROTTLE",
        "trail": "ECSRAM_TRAIL",
        "trail_retention": "ECSRAM_TRAIL_RETENTION",
        "console_login": "ECSRAM_CONSOLE_LOGIN",
    }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(cls._ENV[f.name])
            if raw is None or raw == "":
                continue
            if f.type in ("int", int):
                number = ascii_int(raw)
                if number is None:
                    raise ValueError(f"{cls._ENV[f.name]}={raw!r} is not a whole number (ASCII digits)")
                values[f.name] = number
            elif f.type in ("float", float):
                values[f.name] = parse_seconds(raw, cls._ENV[f.name])
            elif f.type in ("bool", bool):
                values[f.name] = _flag(raw)
            elif f.name == "metadata_listeners":
                values[f.name] = tuple(item.strip() for item in raw.split(",") if item.strip())
            else:
                values[f.name] = raw
        return cls(**values)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool):
                out[self._ENV[f.name]] = "1" if value else "0"
            elif isinstance(value, tuple):
                out[self._ENV[f.name]] = ",".join(value)
            else:
                out[self._ENV[f.name]] = str(value)
        return out

    def pinned_metadata_instances(self) -> dict[int, str | None]:
        """Metadata listener port -> the instance it answers as (None: named per request)."""
        pinned: dict[int, str | None] = {}
        for listener in self.metadata_listeners:
            instance, address = parse_metadata_listener(listener)
            pinned[address[1]] = instance
        return pinned


def check_db_timeout(seconds: float) -> None:
    """ValueError unless ``seconds`` is a usable bound on one store transaction."""
    if not DB_TIMEOUT_MIN_SECONDS <= seconds <= DB_TIMEOUT_MAX_SECONDS:
        raise ValueError(
            f"database timeout {seconds:g} s is out of range: give {DB_TIMEOUT_MIN_SECONDS:g} to "
            f"{DB_TIMEOUT_MAX_SECONDS:g} seconds (--db-timeout, ECSRAM_DB_TIMEOUT)"
        )


def parse_metadata_listener(spec: str) -> tuple[str | None, tuple[str, int]]:
    """``[INSTANCE_ID@]HOST:PORT`` -> (instance or None, (host, port)); ValueError if malformed."""
    instance, _, address = spec.rpartition("@")
    host, sep, port = address.rpartition(":")
    number = ascii_int(port)
    if not sep or not host or number is None or number > 65535:
        raise ValueError(f"metadata listener {spec!r} is not [INSTANCE_ID@]HOST:PORT")
    return (instance or None), (host.strip("[]"), number)


_SECONDS = re.compile(r"[0-9]{1,6}(\.[0-9]{1,6})?")


def parse_seconds(text: str, name: str) -> float:
    """A positive number of seconds in ASCII (``10``, ``2.5``); ValueError naming ``name`` otherwise."""
    if not _SECONDS.fullmatch(text) or float(text) <= 0:
        raise ValueError(f"{name}={text!r} is not a positive number of seconds")
    return float(text)


_DURATION = re.compile(r"([0-9]{1,9})([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int | None:
    """``90s``, ``15m``, ``12h``, ``7d`` -> seconds; None if it is not such a duration."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def parse_retention(text: str) -> tuple[int | None, int | None]:
    """The trail retention: an age (``7d``), a number of events (``1000000``), or both
    (``7d,1000000``): (seconds or None, count or None). ValueError if malformed."""
    seconds: int | None = None
    count: int | None = None
    for item in (part.strip() for part in text.split(",")):
        duration = parse_duration(item)
        number = ascii_int(item)
        if duration is not None and duration > 0 and seconds is None:
            seconds = duration
        elif number is not None and number > 0 and count is None:
            count = number
        else:
            raise ValueError(
                f"trail retention {text!r} is not an age (e.g. 7d, 12h), a number of events, or both (7d,1000000)"
            )
    return seconds, count
