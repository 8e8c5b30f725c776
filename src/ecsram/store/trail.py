"""The audit trail in the store: events written with the calls they record, queried by account,
time and attribute, and pruned to the retention.

An event is written in the same transaction as the call it records (one batched INSERT per
group-commit batch), so a call that commits is always in the trail and the trail never holds a
call that did not happen. The event's wire form (what LookupEvents returns) is kept whole in
``document``; the other columns are what lookups filter and order on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import and_, bindparam, delete, desc, or_, select, tuple_
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.elements import BindParameter

from ecsram.store.schema import trail_events, trail_resources
from ecsram.store.sql import Statement, Tx, params
from ecsram.store.times import iso

# LookupAttribute keys and the column each filters on; ResourceName and ResourceType are special.
FILTER_COLUMNS = {
    "EventName": trail_events.c.event_name,
    "EventAccessKeyId": trail_events.c.access_key_id,
    "EventRW": trail_events.c.event_rw,
    "ServiceName": trail_events.c.service_name,
}
FILTER_KEYS = (*FILTER_COLUMNS, "ResourceName", "ResourceType")
PRUNE_BATCH = 10_000


@dataclass(frozen=True, slots=True)
class TrailEvent:
    event_id: str
    account_id: str
    event_time: int  # milliseconds since the epoch
    event_name: str
    service_name: str
    event_rw: str
    access_key_id: str
    resource_types: tuple[str, ...]
    resource_names: tuple[str, ...]
    document: str  # JSON


@dataclass(frozen=True, slots=True)
class StoredEvent:
    event_time: int
    event_id: str
    account_id: str
    event_name: str
    document: str


@dataclass(frozen=True, slots=True)
class Identity:
    """Who made the call, as ActionTrail's ``userIdentity`` describes it."""

    type: str  # root-account, ram-user, assumed-role
    account_id: str
    principal_id: str
    access_key_id: str
    user_name: str
    arn: str


def build_event(
    *,
    event_id: str,
    event_time: int,
    event_name: str,
    service_name: str,
    event_source: str,
    event_rw: str,
    identity: Identity,
    source_ip: str,
    user_agent: str,
    region: str | None,
    is_global: bool,
    resources: Sequence[tuple[str, str]],
    request_parameters: dict[str, Any] | None,
    status: int,
    error_code: str | None,
    error_message: str | None,
    event_type: str = "ApiCall",
) -> TrailEvent:
    """An event in ActionTrail's structure (the ``document`` LookupEvents returns) and the
    columns lookups filter on. ``resources`` are (type, name) pairs."""
    types = tuple(dict.fromkeys(kind for kind, _name in resources))
    names = tuple(dict.fromkeys(name for _kind, name in resources))
    user_identity: dict[str, Any] = {
        "type": identity.type,
        "principalId": identity.principal_id,
        "accountId": identity.account_id,
        "accessKeyId": identity.access_key_id,
        "userName": identity.user_name,
        "arn": identity.arn,
    }
    if identity.type == "assumed-role":
        user_identity["sessionContext"] = {"attributes": {"mfaAuthenticated": "false"}}
    document: dict[str, Any] = {
        "eventId": event_id,
        "eventVersion": "1",
        "eventType": event_type,
        "eventName": event_name,
        "eventTime": iso(event_time // 1000),
        "eventRW": event_rw,
        "eventSource": event_source,
        "serviceName": service_name,
        "sourceIpAddress": source_ip,
        "userAgent": user_agent,
        "userIdentity": user_identity,
        "acsRegion": region,
        "isGlobal": is_global,
        "requestId": event_id,
        "resourceName": ";".join(names) or None,
        "resourceType": ";".join(types) or None,
        "additionalEventData": {"httpStatus": status},
    }
    if request_parameters is not None:
        document["requestParameters"] = request_parameters
    if error_code:
        document["errorCode"] = error_code
        document["errorMessage"] = error_message or ""
    return TrailEvent(
        event_id=event_id,
        account_id=identity.account_id,
        event_time=event_time,
        event_name=event_name,
        service_name=service_name,
        event_rw=event_rw,
        access_key_id=identity.access_key_id,
        resource_types=types,
        resource_names=names,
        document=orjson.dumps(document).decode(),
    )


_INSERT_EVENT = Statement(
    "trail_insert_event",
    trail_events.insert().values(
        **params(
            "event_id",
            "account_id",
            "event_time",
            "event_name",
            "service_name",
            "event_rw",
            "access_key_id",
            "resource_types",
            "document",
        )
    ),
)
_INSERT_RESOURCE = Statement(
    "trail_insert_resource",
    trail_resources.insert().values(**params("event_id", "resource_name", "account_id", "event_time")),
)


def _event_row(event: TrailEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "account_id": event.account_id,
        "event_time": event.event_time,
        "event_name": event.event_name,
        "service_name": event.service_name,
        "event_rw": event.event_rw,
        "access_key_id": event.access_key_id,
        # Delimited on both sides so that a LIKE '%,type,%' matches whole types only.
        "resource_types": "," + ",".join(event.resource_types) + "," if event.resource_types else "",
        "document": event.document,
    }


def record(tx: Tx, events: Sequence[TrailEvent]) -> None:
    """Write ``events`` (one batched INSERT, and one for the resources they name)."""
    if not events:
        return
    tx.run_many(_INSERT_EVENT, [_event_row(event) for event in events])
    resources = [
        {"event_id": e.event_id, "resource_name": name, "account_id": e.account_id, "event_time": e.event_time}
        for e in events
        for name in dict.fromkeys(e.resource_names)
    ]
    if resources:
        tx.run_many(_INSERT_RESOURCE, resources)


# --- lookup -----------------------------------------------------------------------------------

_lookups: dict[tuple[tuple[str, ...], bool, bool], Statement] = {}


def _lookup_statement(keys: tuple[str, ...], forward: bool, after: bool) -> Statement:
    """The query for one combination of filter keys, direction and cursor, built once."""
    cache_key = (keys, forward, after)
    found = _lookups.get(cache_key)
    if found is not None:
        return found
    e = trail_events.c
    conditions: list[ColumnElement[bool]] = [
        e.account_id == bindparam("account_id"),
        e.event_time >= bindparam("start"),
        e.event_time <= bindparam("end"),
    ]
    for index, key in enumerate(keys):
        name = f"v{index}"
        if key in FILTER_COLUMNS:
            conditions.append(FILTER_COLUMNS[key] == bindparam(name))
        elif key == "ResourceType":
            conditions.append(e.resource_types.like(bindparam(name)))
        else:  # ResourceName
            r = trail_resources.c
            named = select(r.event_time, r.event_id).where(
                r.account_id == bindparam("account_id"),
                r.resource_name == bindparam(name),
                r.event_time >= bindparam("start"),
                r.event_time <= bindparam("end"),
            )
            conditions.append(tuple_(e.event_time, e.event_id).in_(named))
    if after:
        t: BindParameter[Any] = bindparam("after_time")
        i: BindParameter[Any] = bindparam("after_id")
        if forward:
            conditions.append(or_(e.event_time > t, and_(e.event_time == t, e.event_id > i)))
        else:
            conditions.append(or_(e.event_time < t, and_(e.event_time == t, e.event_id < i)))
    order = (e.event_time, e.event_id) if forward else (desc(e.event_time), desc(e.event_id))
    query = (
        select(e.event_time, e.event_id, e.account_id, e.event_name, e.document)
        .where(*conditions)
        .order_by(*order)
        .limit(bindparam("limit"))
    )
    statement = Statement(f"trail_lookup_{'_'.join(keys) or 'all'}_{forward}_{after}", query)
    _lookups[cache_key] = statement
    return statement


def lookup(
    tx: Tx,
    account_id: str,
    *,
    start: int,
    end: int,
    filters: Sequence[tuple[str, str]] = (),
    forward: bool = False,
    after: tuple[int, str] | None = None,
    limit: int = 20,
) -> list[StoredEvent]:
    """The account's events from ``start`` to ``end`` (ms, inclusive) matching every filter
    (key, value), newest first (or oldest first when ``forward``), after the cursor (time, id)."""
    keys = tuple(key for key, _value in filters)
    bound: dict[str, Any] = {"account_id": account_id, "start": start, "end": end, "limit": limit}
    for index, (key, value) in enumerate(filters):
        bound[f"v{index}"] = f"%,{_like_escape(value)},%" if key == "ResourceType" else value
    if after is not None:
        bound["after_time"], bound["after_id"] = after
    rows = tx.all(_lookup_statement(keys, forward, after is not None), bound)
    return [StoredEvent(*row) for row in rows]


def _like_escape(value: str) -> str:
    # Types are names like ACS::ECS::Instance; a value with LIKE wildcards can match nothing real.
    return value.replace("%", "").replace("_", "")


_SCAN_ALL = Statement(
    "trail_scan_all",
    select(
        trail_events.c.event_time,
        trail_events.c.event_id,
        trail_events.c.account_id,
        trail_events.c.event_name,
        trail_events.c.document,
    )
    .where(
        or_(
            trail_events.c.event_time > bindparam("after_time"),
            and_(trail_events.c.event_time == bindparam("after_time"), trail_events.c.event_id > bindparam("after_id")),
        )
    )
    .order_by(trail_events.c.event_time, trail_events.c.event_id)
    .limit(bindparam("limit")),
)


def scan(tx: Tx, *, after: tuple[int, str], limit: int = 1000) -> list[StoredEvent]:
    """Events of every account after the cursor (time, id), oldest first (``ecsram trail``)."""
    rows = tx.all(_SCAN_ALL, {"after_time": after[0], "after_id": after[1], "limit": limit})
    return [StoredEvent(*row) for row in rows]


def scan_account(tx: Tx, account_id: str, *, after: tuple[int, str], limit: int = 1000) -> list[StoredEvent]:
    return lookup(tx, account_id, start=after[0], end=2**62, forward=True, after=after, limit=limit)


# --- retention --------------------------------------------------------------------------------

# A batch: the events older than the cutoff up to the time of the batch-th oldest of them.
_PRUNE_EVENTS = Statement(
    "trail_prune_events",
    delete(trail_events).where(
        trail_events.c.event_time
        <= select(trail_events.c.event_time)
        .where(trail_events.c.event_time < bindparam("cutoff"))
        .order_by(trail_events.c.event_time)
        .offset(bindparam("batch") - 1)
        .limit(1)
        .scalar_subquery(),
        trail_events.c.event_time < bindparam("cutoff"),
    ),
)
_OLDEST_BEFORE = Statement(
    "trail_oldest_before",
    select(trail_events.c.event_time).where(trail_events.c.event_time < bindparam("cutoff")).limit(1),
)
_PRUNE_BEFORE = Statement(
    "trail_prune_before", delete(trail_events).where(trail_events.c.event_time < bindparam("cutoff"))
)
_PRUNE_RESOURCES = Statement(
    "trail_prune_resources",
    delete(trail_resources).where(
        trail_resources.c.event_time
        < select(trail_events.c.event_time).order_by(trail_events.c.event_time).limit(1).scalar_subquery()
    ),
)
_PRUNE_ALL_RESOURCES = Statement("trail_prune_all_resources", delete(trail_resources))
_NTH_NEWEST = Statement(
    "trail_nth_newest",
    select(trail_events.c.event_time).order_by(desc(trail_events.c.event_time)).limit(1).offset(bindparam("offset")),
)
_ANY_EVENT = Statement("trail_any_event", select(trail_events.c.event_id).limit(1))


def prune(tx: Tx, *, older_than: int | None, max_events: int | None, batch: int = PRUNE_BATCH) -> int:
    """Delete events older than ``older_than`` (ms) and beyond the newest ``max_events``, at most
    ``batch`` per call (housekeeping calls again); return how many events went."""
    cutoff = older_than
    if max_events is not None:
        nth = tx.scalar(_NTH_NEWEST, {"offset": max_events})
        if nth is not None:
            cutoff = nth + 1 if cutoff is None else max(cutoff, nth + 1)
    if cutoff is None:
        return 0
    deleted = tx.run(_PRUNE_EVENTS, {"cutoff": cutoff, "batch": batch})
    if not deleted and tx.scalar(_OLDEST_BEFORE, {"cutoff": cutoff}) is not None:
        deleted = tx.run(_PRUNE_BEFORE, {"cutoff": cutoff})  # fewer than a batch left to prune
    if deleted:
        if tx.scalar(_ANY_EVENT) is None:
            tx.run(_PRUNE_ALL_RESOURCES)
        else:
            tx.run(_PRUNE_RESOURCES)
    return deleted
