"""Settings: command-line flags and ECSRAM_* environment variables, in one place.

Worker processes are started by the ASGI server and rebuild their settings from the
environment, so ``Settings.to_env`` / ``Settings.from_env`` are exact inverses.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import ClassVar

from platformdirs import user_data_dir

from ecsram.store.database import is_memory_url, normalise_url

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8877

# Well-known defaults so that `ecsram serve` works with no set-up. They are public, so a server
# listening beyond loopback refuses to start while they are active (see server.py).
DEFAULT_ACCOUNT_ID = "1000000000000001"
DEFAULT_ROOT_ACCESS_KEY_ID = "LTAI5tEcsramDefaultRoot1"
DEFAULT_ROOT_ACCESS_KEY_SECRET = "EcsramDefaultRootSecretNotSafe"

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")

MAX_BODY_BYTES = 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024


def default_database_url() -> str:
    """A SQLite file in the per-user data directory (e.g. ~/.local/share/ecsram on Linux)."""
    return f"sqlite:///{Path(user_data_dir('ecsram', appauthor=False)) / 'ecsram.db'}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
    # A seed file applied at start (see docs/testing.md), and the log: level, text/json, file.
    seed_file: str = ""
    log_level: str = "warning"
    log_format: str = "text"
    log_file: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "database_url", normalise_url(self.database_url or default_database_url()))
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f"log level {self.log_level!r} is not one of {', '.join(LOG_LEVELS)}")
        if self.log_format not in LOG_FORMATS:
            raise ValueError(f"log format {self.log_format!r} is not one of {', '.join(LOG_FORMATS)}")

    @property
    def in_memory(self) -> bool:
        """The database lives inside the one server process (``sqlite://``)."""
        return is_memory_url(self.database_url)

    @property
    def loopback_only(self) -> bool:
        return is_loopback(self.host)

    _ENV: ClassVar[dict[str, str]] = {
        "host": "ECSRAM_HOST",
        "port": "ECSRAM_PORT",
        "database_url": "ECSRAM_DATABASE_URL",
        "workers": "ECSRAM_WORKERS",
        "test_clock": "ECSRAM_TEST_CLOCK",
        "max_body_bytes": "ECSRAM_MAX_BODY_BYTES",
        "max_header_bytes": "ECSRAM_MAX_HEADER_BYTES",
        "metadata_listeners": "ECSRAM_METADATA_LISTENERS",
        "seed_file": "ECSRAM_SEED",
        "log_level": "ECSRAM_LOG_LEVEL",
        "log_format": "ECSRAM_LOG_FORMAT",
        "log_file": "ECSRAM_LOG_FILE",
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
                values[f.name] = int(raw)
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


def parse_metadata_listener(spec: str) -> tuple[str | None, tuple[str, int]]:
    """``[INSTANCE_ID@]HOST:PORT`` -> (instance or None, (host, port)); ValueError if malformed."""
    instance, _, address = spec.rpartition("@")
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"metadata listener {spec!r} is not [INSTANCE_ID@]HOST:PORT")
    return (instance or None), (host.strip("[]"), int(port))
