"""ECS instances and the RAM role bound to each.

The binding lives in the instance's row. Attaching is a conditional UPDATE
(``... WHERE ram_role_name IS NULL``) on rows first locked in InstanceId order, so two racing
attaches of different roles cannot both win, on SQLite (one writer at a time) or PostgreSQL
(row locks, taken in one order so that racing batches never deadlock).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
from sqlalchemy import Boolean, ColumnElement, String, Text, bindparam, delete, func, select, update

from ecsram.store.schema import instances
from ecsram.store.sql import Statement, Tx, in_list

VPC = "vpc"
CLASSIC = "classic"


@dataclass(frozen=True, slots=True)
class Instance:
    instance_id: str
    account_id: str
    region_id: str
    zone_id: str
    instance_name: str
    description: str
    host_name: str
    image_id: str
    instance_type: str
    network_type: str
    vpc_id: str | None
    vswitch_id: str | None
    private_ip: str
    status: str
    http_endpoint: str
    http_tokens: str
    http_put_response_hop_limit: int
    created_at: str
    started_at: str | None
    user_data: str | None
    mac_address: str
    serial_number: str
    network_interface_id: str
    system_disk_id: str
    system_disk_category: str
    system_disk_size: int
    vpc_cidr: str | None
    vswitch_cidr: str | None
    resource_group_id: str
    key_pair_name: str | None
    # A JSON array of security group IDs.
    security_group_ids: str
    instance_charge_type: str
    cpu: int
    memory: int
    os_name: str
    os_type: str
    password_set: bool
    deletion_protection: bool
    ram_role_name: str | None = None
    ram_role_policy: str | None = None
    ram_role_attached_at: str | None = None


@dataclass(frozen=True, slots=True)
class BindingState:
    """What a role operation needs to know of an instance, read under a row lock."""

    instance_id: str
    network_type: str
    ram_role_name: str | None


_ALL_COLUMNS = tuple(instances.c[name] for name in Instance.__dataclass_fields__)
_IN_ACCOUNT_REGION = (instances.c.account_id == bindparam("account_id")) & (
    instances.c.region_id == bindparam("region_id")
)
_IDS = in_list(instances.c.instance_id, "ids")

_INSERT = Statement(
    "insert_instance", instances.insert().values({name: bindparam(name) for name in Instance.__dataclass_fields__})
)
_LOCK_FOR_BINDING = Statement(
    "lock_instances_for_binding",
    select(instances.c.instance_id, instances.c.network_type, instances.c.ram_role_name)
    .where(_IN_ACCOUNT_REGION, _IDS)
    .order_by(instances.c.instance_id)
    .with_for_update(),
    lists=("ids",),
)
_BIND = Statement(
    "bind_role",
    update(instances)
    .where(_IN_ACCOUNT_REGION, _IDS, instances.c.ram_role_name.is_(None))
    .values(
        ram_role_name=bindparam("role_name"),
        ram_role_policy=bindparam("policy"),
        ram_role_attached_at=bindparam("now"),
    )
    .returning(instances.c.instance_id),
    lists=("ids",),
)
_UNBIND = Statement(
    "unbind_role",
    update(instances)
    .where(_IN_ACCOUNT_REGION, _IDS)
    .values(ram_role_name=None, ram_role_policy=None, ram_role_attached_at=None),
    lists=("ids",),
)
_ROLES_OF = Statement(
    "roles_of_instances",
    select(instances.c.instance_id, instances.c.ram_role_name).where(_IN_ACCOUNT_REGION, _IDS),
    lists=("ids",),
)
_BOUND_TO_ROLE_COUNT = Statement(
    "count_bound_to_role",
    select(func.count()).where(_IN_ACCOUNT_REGION, instances.c.ram_role_name == bindparam("role_name")),
)
_BOUND_TO_ROLE_PAGE = Statement(
    "page_bound_to_role",
    select(instances.c.instance_id, instances.c.ram_role_name)
    .where(_IN_ACCOUNT_REGION, instances.c.ram_role_name == bindparam("role_name"))
    .order_by(instances.c.instance_id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset")),
)
_BY_ID = Statement(
    "instance_by_id",
    select(*_ALL_COLUMNS).where(
        instances.c.account_id == bindparam("account_id"), instances.c.instance_id == bindparam("instance_id")
    ),
)
_ANY_BY_ID = Statement(
    "any_instance_by_id", select(*_ALL_COLUMNS).where(instances.c.instance_id == bindparam("instance_id"))
)
_SET_STATUS = Statement(
    "set_instance_status",
    update(instances)
    .where(
        instances.c.account_id == bindparam("account_id"),
        instances.c.instance_id == bindparam("instance_id"),
        instances.c.status == bindparam("expected"),
    )
    .values(status=bindparam("status")),
)
_START = Statement(
    "start_instance",
    update(instances)
    .where(
        instances.c.account_id == bindparam("account_id"),
        instances.c.instance_id == bindparam("instance_id"),
        instances.c.status == bindparam("expected"),
    )
    .values(status=bindparam("status"), started_at=bindparam("started_at")),
)
# Each attribute keeps its value where the parameter is NULL (not given).
_MODIFY_ATTRIBUTES = Statement(
    "modify_instance_attributes",
    update(instances)
    .where(instances.c.account_id == bindparam("account_id"), instances.c.instance_id == bindparam("instance_id"))
    .values(
        instance_name=func.coalesce(bindparam("instance_name", type_=String), instances.c.instance_name),
        description=func.coalesce(bindparam("description", type_=String), instances.c.description),
        host_name=func.coalesce(bindparam("host_name", type_=String), instances.c.host_name),
        user_data=func.coalesce(bindparam("user_data", type_=Text), instances.c.user_data),
        password_set=func.coalesce(bindparam("password_set", type_=Boolean), instances.c.password_set),
        security_group_ids=func.coalesce(bindparam("security_group_ids", type_=Text), instances.c.security_group_ids),
        deletion_protection=func.coalesce(
            bindparam("deletion_protection", type_=Boolean), instances.c.deletion_protection
        ),
    ),
)
_SET_METADATA_OPTIONS = Statement(
    "set_metadata_options",
    update(instances)
    .where(_IN_ACCOUNT_REGION, instances.c.instance_id == bindparam("instance_id"))
    .values(
        http_endpoint=bindparam("http_endpoint"),
        http_tokens=bindparam("http_tokens"),
        http_put_response_hop_limit=bindparam("hop_limit"),
    ),
)
_DELETE = Statement("delete_instances", delete(instances).where(_IN_ACCOUNT_REGION, _IDS), lists=("ids",))
_IN_REGION = Statement("instances_in_region", select(*_ALL_COLUMNS).where(_IN_ACCOUNT_REGION, _IDS), lists=("ids",))


def insert_many(tx: Tx, rows: Sequence[Instance]) -> None:
    tx.run_many(_INSERT, [{name: getattr(row, name) for name in Instance.__dataclass_fields__} for row in rows])


def lock_for_binding(tx: Tx, account_id: str, region_id: str, ids: Sequence[str]) -> dict[str, BindingState]:
    """The instances among ``ids`` that exist in this account and region, locked until commit."""
    rows = tx.all(_LOCK_FOR_BINDING, {"account_id": account_id, "region_id": region_id, "ids": list(ids)})
    return {row[0]: BindingState(row[0], row[1], row[2]) for row in rows}


def bind(
    tx: Tx, account_id: str, region_id: str, ids: Sequence[str], role_name: str, policy: str | None, now: str
) -> set[str]:
    """Bind the role to those of ``ids`` that hold none; returns the IDs actually bound."""
    if not ids:
        return set()
    params = {
        "account_id": account_id,
        "region_id": region_id,
        "ids": list(ids),
        "role_name": role_name,
        "policy": policy,
        "now": now,
    }
    return {row[0] for row in tx.all(_BIND, params)}


def unbind(tx: Tx, account_id: str, region_id: str, ids: Sequence[str]) -> None:
    if ids:
        tx.run(_UNBIND, {"account_id": account_id, "region_id": region_id, "ids": list(ids)})


def roles_of(tx: Tx, account_id: str, region_id: str, ids: Sequence[str]) -> dict[str, str | None]:
    """Role name (or None) of each of ``ids`` that exists in this account and region."""
    rows = tx.all(_ROLES_OF, {"account_id": account_id, "region_id": region_id, "ids": list(ids)})
    return {row[0]: row[1] for row in rows}


def bound_to_role(
    tx: Tx, account_id: str, region_id: str, role_name: str, *, offset: int, limit: int
) -> tuple[int, list[tuple[str, str]]]:
    """(total, one page) of the instances bound to ``role_name``, in InstanceId order."""
    params: dict[str, Any] = {"account_id": account_id, "region_id": region_id, "role_name": role_name}
    total = int(tx.scalar(_BOUND_TO_ROLE_COUNT, params))
    if total <= offset:
        return total, []
    rows = tx.all(_BOUND_TO_ROLE_PAGE, {**params, "offset": offset, "limit": limit})
    return total, [(row[0], row[1]) for row in rows]


def get(tx: Tx, account_id: str, instance_id: str) -> Instance | None:
    row = tx.one(_BY_ID, {"account_id": account_id, "instance_id": instance_id})
    return None if row is None else Instance(*row)


def get_any(tx: Tx, instance_id: str) -> Instance | None:
    """An instance by ID in whatever account owns it (the metadata service acts for the instance)."""
    row = tx.one(_ANY_BY_ID, {"instance_id": instance_id})
    return None if row is None else Instance(*row)


def find_in_region(tx: Tx, account_id: str, region_id: str, ids: Sequence[str]) -> dict[str, Instance]:
    rows = tx.all(_IN_REGION, {"account_id": account_id, "region_id": region_id, "ids": list(ids)})
    return {row[0]: Instance(*row) for row in rows}


def change_status(tx: Tx, account_id: str, instance_id: str, *, expected: str, status: str) -> bool:
    """Move an instance from ``expected`` to ``status``; False if it was not in ``expected``."""
    params = {"account_id": account_id, "instance_id": instance_id, "expected": expected, "status": status}
    return tx.run(_SET_STATUS, params) == 1


def start(tx: Tx, account_id: str, instance_id: str, *, expected: str, status: str, now: str) -> bool:
    """Move an instance from ``expected`` to ``status`` (running), recording its start time."""
    params = {
        "account_id": account_id,
        "instance_id": instance_id,
        "expected": expected,
        "status": status,
        "started_at": now,
    }
    return tx.run(_START, params) == 1


def modify_attributes(
    tx: Tx,
    instance: Instance,
    *,
    instance_name: str | None,
    description: str | None,
    host_name: str | None,
    user_data: str | None,
    password_set: bool | None,
    security_group_ids: str | None = None,
    deletion_protection: bool | None = None,
) -> None:
    """Change the attributes given (not None); the others keep their values."""
    tx.run(
        _MODIFY_ATTRIBUTES,
        {
            "account_id": instance.account_id,
            "instance_id": instance.instance_id,
            "instance_name": instance_name,
            "description": description,
            "host_name": host_name,
            "user_data": user_data,
            "password_set": password_set,
            "security_group_ids": security_group_ids,
            "deletion_protection": deletion_protection,
        },
    )


def set_metadata_options(tx: Tx, instance: Instance, *, http_endpoint: str, http_tokens: str, hop_limit: int) -> None:
    tx.run(
        _SET_METADATA_OPTIONS,
        {
            "account_id": instance.account_id,
            "region_id": instance.region_id,
            "instance_id": instance.instance_id,
            "http_endpoint": http_endpoint,
            "http_tokens": http_tokens,
            "hop_limit": hop_limit,
        },
    )


def delete_many(tx: Tx, account_id: str, region_id: str, ids: Iterable[str]) -> int:
    return tx.run(_DELETE, {"account_id": account_id, "region_id": region_id, "ids": list(ids)})


# --- DescribeInstances: one statement per combination of filters, compiled once each ---------

# Filters on a list of values (one parameter holding the list), then on one value each.
LIST_FILTER_COLUMNS = {
    "ids": instances.c.instance_id,
    "disk_ids": instances.c.system_disk_id,
    "network_interface_ids": instances.c.network_interface_id,
}
FILTER_COLUMNS = {
    "network_type": instances.c.network_type,
    "status": instances.c.status,
    "vpc_id": instances.c.vpc_id,
    "vswitch_id": instances.c.vswitch_id,
    "zone_id": instances.c.zone_id,
    "instance_name": instances.c.instance_name,
    "image_id": instances.c.image_id,
    "instance_type": instances.c.instance_type,
    "resource_group_id": instances.c.resource_group_id,
    "key_pair_name": instances.c.key_pair_name,
    "instance_charge_type": instances.c.instance_charge_type,
    "disk_category": instances.c.system_disk_category,
    "private_ip": instances.c.private_ip,
}


# The instances in one security group: its ID, quoted, in the JSON array of the instance's groups.
PATTERN_FILTERS = {"security_group": instances.c.security_group_ids}


def security_group_pattern(security_group_id: str) -> str:
    """The LIKE pattern (escape ``\\``) of a security group ID in ``security_group_ids``."""
    quoted = orjson.dumps(security_group_id).decode()
    escaped = quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@cache
def _listing(filters: frozenset[str], after: bool = False) -> tuple[Statement, Statement]:
    """(page, count) statements for a set of filters; ``after`` adds keyset paging to the page.
    (Each condition is present only when used: an unused ``instance_id > ''`` would still steer
    SQLite to a range scan instead of the ``InstanceIds`` lookups.)"""
    conditions: list[ColumnElement[bool]] = [_IN_ACCOUNT_REGION]
    for name in sorted(filters):
        if name in LIST_FILTER_COLUMNS:
            conditions.append(in_list(LIST_FILTER_COLUMNS[name], name))
        elif name in PATTERN_FILTERS:
            conditions.append(PATTERN_FILTERS[name].like(bindparam(name), escape="\\"))
        else:
            conditions.append(FILTER_COLUMNS[name] == bindparam(name))
    lists = tuple(name for name in sorted(filters) if name in LIST_FILTER_COLUMNS)
    key = "_".join(sorted(filters)) or "all"
    page_conditions = [*conditions, instances.c.instance_id > bindparam("after")] if after else conditions
    # Looked up by disk or interface IDs, the few rows found are sorted; ordering by the bare column
    # would steer SQLite to walk the account's whole (account, region, instance) index instead.
    by_other_ids = any(name in LIST_FILTER_COLUMNS and name != "ids" for name in filters)
    order: ColumnElement[Any] = instances.c.instance_id.concat("") if by_other_ids else instances.c.instance_id
    page = Statement(
        f"list_instances_{key}{'_after' if after else ''}",
        select(*_ALL_COLUMNS)
        .where(*page_conditions)
        .order_by(order)
        .limit(bindparam("limit"))
        .offset(bindparam("offset")),
        lists=lists,
    )
    total = Statement(f"count_instances_{key}", select(func.count()).where(*conditions), lists=lists)
    return page, total


def list_page(
    tx: Tx,
    account_id: str,
    region_id: str,
    filters: dict[str, Any],
    *,
    after: str = "",
    offset: int = 0,
    limit: int,
) -> tuple[int, list[Instance]]:
    """(total matching, one page in InstanceId order); ``after`` pages by key, ``offset`` by number."""
    page, total = _listing(frozenset(filters), bool(after))
    params = {"account_id": account_id, "region_id": region_id, **filters}
    count = int(tx.scalar(total, params))
    rows = tx.all(page, {**params, "after": after, "offset": offset, "limit": limit})
    return count, [Instance(*row) for row in rows]
