"""What real tools read of an instance: user data, MAC, serial number, primary network interface,
system disk, CIDR blocks, start time, resource group, key pair, security groups, charge type,
CPU and memory, OS, whether a password is set, deletion protection.

Existing instances get the values RunInstances gives new ones (the derivations below are frozen
copies of those in ``ecsram.services.ecs.instance_model`` as of this revision).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import string
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ALPHABET = string.ascii_lowercase + string.digits

_NEW_COLUMNS = (
    sa.Column("started_at", sa.String(20), nullable=True),
    sa.Column("user_data", sa.Text, nullable=True),
    sa.Column("mac_address", sa.String(17), nullable=True),
    sa.Column("serial_number", sa.String(36), nullable=True),
    sa.Column("network_interface_id", sa.String(32), nullable=True),
    sa.Column("system_disk_id", sa.String(32), nullable=True),
    sa.Column("system_disk_category", sa.String(32), nullable=True),
    sa.Column("system_disk_size", sa.Integer, nullable=True),
    sa.Column("vpc_cidr", sa.String(18), nullable=True),
    sa.Column("vswitch_cidr", sa.String(18), nullable=True),
    sa.Column("resource_group_id", sa.String(64), nullable=True),
    sa.Column("key_pair_name", sa.String(128), nullable=True),
    sa.Column("security_group_ids", sa.Text, nullable=True),
    sa.Column("instance_charge_type", sa.String(16), nullable=True),
    sa.Column("cpu", sa.Integer, nullable=True),
    sa.Column("memory", sa.Integer, nullable=True),
    sa.Column("os_name", sa.String(128), nullable=True),
    sa.Column("os_type", sa.String(16), nullable=True),
    sa.Column("password_set", sa.Boolean, nullable=True),
    sa.Column("deletion_protection", sa.Boolean, nullable=True),
)
_NULLABLE = {"started_at", "user_data", "vpc_cidr", "vswitch_cidr", "key_pair_name"}


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("|".join(parts).encode()).digest()


def _token(prefix: str, seed: str, length: int = 20) -> str:
    return prefix + "".join(_ALPHABET[b % len(_ALPHABET)] for b in _digest(prefix, seed)[:length])


def _shape(instance_type: str) -> tuple[int, int]:
    parts = instance_type.split(".")
    size = parts[-1] if parts else ""
    match = re.fullmatch(r"([1-9][0-9]{0,2})?xlarge", size)
    cpu = min(int(match.group(1) or 1), 128) * 4 if match else {"small": 1}.get(size, 2)
    letters = re.match(r"[a-z]*", parts[1] if len(parts) > 2 else "")
    per_cpu = next(
        ({"c": 2, "g": 4, "r": 8, "t": 2}[ch] for ch in reversed(letters.group(0) if letters else "") if ch in "cgrt"),
        4,
    )
    return cpu, cpu * per_cpu * 1024


def _details(row: Sequence[Any]) -> dict[str, object]:
    instance_id, account_id, instance_type, vswitch_id, private_ip, status, created_at, _image = row
    a, b, c = _digest("mac", instance_id)[:3]
    serial = _digest("serial", instance_id)[:16].hex()
    cpu, memory = _shape(instance_type)
    vpc_cidr = vswitch_cidr = None
    if vswitch_id is not None:
        x, y = _digest("vswitch", vswitch_id)[:2]
        vpc_cidr, vswitch_cidr = f"172.{16 + x % 16}.0.0/16", f"172.{16 + x % 16}.{(y % 16) * 16}.0/20"
        if ipaddress.ip_address(private_ip) not in ipaddress.ip_network(vswitch_cidr):
            vpc_cidr = vswitch_cidr = None  # an address from before CIDR blocks: no block claims it
    return {
        "started_at": created_at if status == "Running" else None,
        "mac_address": f"00:16:3e:{a:02x}:{b:02x}:{c:02x}",
        "serial_number": f"{serial[:8]}-{serial[8:12]}-{serial[12:16]}-{serial[16:20]}-{serial[20:32]}",
        "network_interface_id": _token("eni-", instance_id),
        "system_disk_id": _token("d-", instance_id),
        "system_disk_category": "cloud_efficiency",
        "system_disk_size": 40,
        "vpc_cidr": vpc_cidr,
        "vswitch_cidr": vswitch_cidr,
        "resource_group_id": _token("rg-acfm", account_id, 13),
        "security_group_ids": "[]",
        "instance_charge_type": "PostPaid",
        "cpu": cpu,
        "memory": memory,
        "os_name": "Linux 64 bit",
        "os_type": "linux",
        "password_set": False,
        "deletion_protection": False,
    }


def upgrade() -> None:
    for column in _NEW_COLUMNS:
        op.add_column("instances", column)
    instances = sa.table(
        "instances",
        *(sa.column(name) for name in ("instance_id", "account_id", "instance_type", "vswitch_id", "private_ip")),
        *(sa.column(name) for name in ("status", "created_at", "image_id")),
        *(sa.column(column.name) for column in _NEW_COLUMNS),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            instances.c.instance_id,
            instances.c.account_id,
            instances.c.instance_type,
            instances.c.vswitch_id,
            instances.c.private_ip,
            instances.c.status,
            instances.c.created_at,
            instances.c.image_id,
        )
    ).all()
    for row in rows:
        connection.execute(instances.update().where(instances.c.instance_id == row[0]).values(**_details(tuple(row))))
    with op.batch_alter_table("instances") as batch:
        for column in _NEW_COLUMNS:
            if column.name not in _NULLABLE:
                batch.alter_column(column.name, existing_type=column.type, nullable=False)
    op.create_index("ix_instances_system_disk", "instances", ["account_id", "region_id", "system_disk_id"])
    op.create_index("ix_instances_network_interface", "instances", ["account_id", "region_id", "network_interface_id"])


def downgrade() -> None:
    op.drop_index("ix_instances_network_interface", "instances")
    op.drop_index("ix_instances_system_disk", "instances")
    with op.batch_alter_table("instances") as batch:
        for column in reversed(_NEW_COLUMNS):
            batch.drop_column(column.name)
