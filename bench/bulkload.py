"""Bulk-load ECS instances straight into an ecsram SQLite store (not through the API).

The rows look like the ones RunInstances makes (VPC, Running, metadata options at their
defaults); IDs are ``i-`` + 20 lower-case alphanumerics, ``i-bench<15 digits>``, in key order so
that the B-tree only appends. The column list is read from the database, so a schema change
that adds a NOT NULL column without a default fails loudly here rather than loading bad rows.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from bench.ecsapi import DEFAULT_ACCOUNT_ID, REGION
from bench.servers import ecsram_command
from ecsram.services.ecs import instance_model

BATCH_ROWS = 50_000


def sqlite_path(database_url: str) -> Path:
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        raise ValueError(f"not a SQLite URL: {database_url}")
    return Path(database_url[len(prefix) :])


def instance_id(n: int) -> str:
    """The ID of the n-th bulk-loaded instance (as _rows makes it)."""
    return f"i-bench{n:015d}"


def _created_at() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _constants(created_at: str) -> dict[str, object]:
    return {
        "account_id": DEFAULT_ACCOUNT_ID,
        "region_id": REGION,
        "zone_id": f"{REGION}-i",
        "description": "",
        "image_id": "aliyun_3_x64_20G_alibase_20240819.vhd",
        "instance_type": "ecs.g7.large",
        "network_type": "vpc",
        "vpc_id": "vpc-bench000000000000001",
        "vswitch_id": "vsw-bench000000000000001",
        "status": "Running",
        "http_endpoint": "enabled",
        "http_tokens": "optional",
        "http_put_response_hop_limit": 1,
        "created_at": created_at,
        "started_at": created_at,
        "system_disk_category": "cloud_efficiency",
        "system_disk_size": 40,
        "resource_group_id": instance_model.default_resource_group(DEFAULT_ACCOUNT_ID),
        "security_group_ids": "[]",
        "instance_charge_type": "PostPaid",
        "cpu": 2,
        "memory": 8192,
        "os_name": "Alibaba Cloud Linux 3 64 bit",
        "os_type": "linux",
        "password_set": 0,
        "deletion_protection": 0,
    }


# Per-row values, in the order _rows yields them after the constants.
_VARYING = (
    "instance_id",
    "instance_name",
    "host_name",
    "private_ip",
    "mac_address",
    "serial_number",
    "network_interface_id",
    "system_disk_id",
)


def _columns(connection: sqlite3.Connection) -> list[tuple[str, bool, bool]]:
    """(name, not null, has default) for each column of ``instances``."""
    rows = connection.execute("PRAGMA table_info(instances)").fetchall()
    if not rows:
        raise RuntimeError("no instances table: run `ecsram migrate` on this database first")
    return [(row[1], bool(row[3]), row[4] is not None) for row in rows]


def _rows(first: int, count: int, constants: tuple[object, ...]) -> Iterator[tuple[object, ...]]:
    for n in range(first, first + count):
        instance_id = f"i-bench{n:015d}"
        yield (
            *constants,
            instance_id,
            f"bench-{n}",
            f"iZbench{n:012d}Z",
            f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}",
            instance_model.mac_address(instance_id),
            instance_model.serial_number(instance_id),
            instance_model.network_interface_id(instance_id),
            instance_model.system_disk_id(instance_id),
        )


def load_instances(database_url: str, count: int, *, first: int = 0) -> float:
    """Insert instances ``first .. first+count-1``; returns the seconds it took."""
    started = time.perf_counter()
    created_at = _created_at()
    connection = sqlite3.connect(sqlite_path(database_url), isolation_level=None, timeout=60)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-262144")
        constants = _constants(created_at)
        for name, not_null, has_default in _columns(connection):
            if name not in constants and name not in _VARYING and not_null and not has_default:
                raise RuntimeError(f"instances.{name} is NOT NULL and the bulk loader has no value for it")
        columns = [*constants, *_VARYING]
        values = tuple(constants.values())
        sql = f"INSERT INTO instances ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        done = 0
        while done < count:
            chunk = min(BATCH_ROWS * 4, count - done)
            connection.execute("BEGIN")
            connection.executemany(sql, _rows(first + done, chunk, values))
            connection.execute("COMMIT")
            done += chunk
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return time.perf_counter() - started


def count_instances(database_url: str) -> int:
    connection = sqlite3.connect(sqlite_path(database_url))
    try:
        return int(connection.execute("SELECT count(*) FROM instances").fetchone()[0])
    finally:
        connection.close()


def prepare_database(database_url: str, source: Path | None = None) -> None:
    """Schema and the default account (``ecsram account create`` also creates the first, default one)."""
    base, env = ecsram_command(source)
    for args in (["migrate"], ["account", "create"]):
        subprocess.run(
            [*base, *args, "--database", database_url],
            check=True,
            capture_output=True,
            env={**os.environ, **env},
        )
