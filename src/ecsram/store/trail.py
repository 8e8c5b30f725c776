"""The audit trail in the store: events written with the calls they record, queried by account,
time and attribute, and pruned to the retention.

An event is written in the same transaction as the call it records (one batched INSERT per
group-commit batch), so a call that commits is always in the trail and the trail never holds a
call that did not happen. A row keeps only what cannot be derived (who, from where, what, the
outcome); ``document`` rebuilds the event in ActionTrail's structure when it is read, so the
cost of the wire form is paid by the reader, not by every call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import orjson
from sqlalchemy import and_, bindparam, delete, desc, func, literal, or_, select
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.elements import BindParameter

from ecsram.store.schema import trail_events, trail_resources
from ecsram.store.sql import Statement, Tx, params
from ecsram.store.times import iso

# LookupAttribute keys and the column each filters on; the others are special.
FILTER_COLUMNS = {
    "EventName": trail_events.c.event_name,
    "EventAccessKeyId": trail_events.c.access_key_id,
    "ServiceName": trail_events.c.service_name,
}
FILTER_KEYS = (*FILTER_COLUMNS, "EventRW", "ResourceName", "ResourceType")
PRUNE_BATCH = 10_000
# An action is a read if its name starts with one of these (ActionTrail's eventRW).
READ_PREFIXES = ("Describe", "List", "Get", "Lookup", "Query", "Check")

# ``kind``: who made the call, and whether it was a credential fetch through the metadata service.
ROOT, USER, ROLE = 0, 1, 2
METADATA = 4
_IDENTITY_TYPES = ("root-account", "ram-user", "assumed-role")
_GLOBAL_SERVICES = frozenset(("Ram", "Sts"))
METADATA_SOURCE = "100.100.100.200"


class TrailEvent(TypedDict):
    """One stored event: the row as written (the columns of ``trail_events`` but ``seq``)."""

    event_id: str
    account_id: str
    event_time: int  # milliseconds since the epoch
    event_name: str
    service_name: str
    kind: int
    access_key_id: str
    principal_id: str | None
    user_name: str | None
    source_ip: str
    user_agent: str
    region: str | None
    resource_names: str | None
    resource_types: str | None
    request_parameters: str | None  # JSON
    status: int
    error_code: str | None
    error_message: str | None


_COLUMNS = tuple(TrailEvent.__annotations__)
STORED_COLUMNS = (trail_events.c.seq, *(trail_events.c[name] for name in _COLUMNS))


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int
    row: tuple[Any, ...]  # the values of _COLUMNS

    @property
    def event_time(self) -> int:
        return int(self.row[2])

    @property
    def event_id(self) -> str:
        return str(self.row[0])

    @property
    def account_id(self) -> str:
        return str(self.row[1])

    @property
    def event_name(self) -> str:
        return str(self.row[3])

    def document(self) -> dict[str, Any]:
        """The event in ActionTrail's structure, as LookupEvents returns it."""
        return document(dict(zip(_COLUMNS, self.row, strict=True)))  # type: ignore[arg-type]


def event_rw(event_name: str) -> str:
    return "Read" if event_name.startswith(READ_PREFIXES) else "Write"


def service_host(service_name: str) -> str:
    return f"{service_name.lower()}.aliyuncs.com"


def document(event: TrailEvent) -> dict[str, Any]:
    """Rebuild an event's document from its row."""
    account_id = event["account_id"]
    kind = event["kind"]
    identity_type = _IDENTITY_TYPES[kind & 3]
    if identity_type == "root-account":
        principal_id, user_name, arn = account_id, "root", f"acs:ram::{account_id}:root"
    else:
        principal_id, user_name = event["principal_id"] or "", event["user_name"] or ""
        if identity_type == "ram-user":
            arn = f"acs:ram::{account_id}:user/{user_name}"
        else:
            role_name, _, session = user_name.partition(":")
            arn = f"acs:ram::{account_id}:assumed-role/{role_name}/{session}"
    user_identity: dict[str, Any] = {
        "type": identity_type,
        "principalId": principal_id,
        "accountId": account_id,
        "accessKeyId": event["access_key_id"],
        "userName": user_name,
        "arn": arn,
    }
    if identity_type == "assumed-role":
        user_identity["sessionContext"] = {"attributes": {"mfaAuthenticated": "false"}}
    metadata = bool(kind & METADATA)
    name, service = event["event_name"], event["service_name"]
    result: dict[str, Any] = {
        "eventId": event["event_id"],
        "eventVersion": "1",
        "eventType": "MetadataServiceCall" if metadata else "ApiCall",
        "eventName": name,
        "eventTime": iso(event["event_time"] // 1000),
        "eventRW": "Read" if metadata else event_rw(name),
        "eventSource": METADATA_SOURCE if metadata else service_host(service),
        "serviceName": service,
        "sourceIpAddress": event["source_ip"],
        "userAgent": event["user_agent"],
        "userIdentity": user_identity,
        "acsRegion": event["region"],
        "isGlobal": service in _GLOBAL_SERVICES,
        "requestId": event["event_id"],
        "resourceName": event["resource_names"],
        "resourceType": event["resource_types"],
        "additionalEventData": {"httpStatus": event["status"]},
    }
    if event["request_parameters"] is not None:
        result["requestParameters"] = orjson.loads(event["request_parameters"])
    if event["error_code"]:
        result["errorCode"] = event["error_code"]
        result["errorMessage"] = event["error_message"] or ""
    return result


_INSERT_EVENT = Statement("trail_insert_event", trail_events.insert().values(**params(*_COLUMNS)))
_INSERT_RESOURCE = Statement(
    "trail_insert_resource",
    trail_resources.insert().values(**params("account_id", "resource_name", "event_time", "event_id")),
)


def record(tx: Tx, events: Sequence[TrailEvent]) -> None:
    """Write ``events``: one batched INSERT, and one for the resources they name."""
    if not events:
        return
    tx.run_many(_INSERT_EVENT, events)  # type: ignore[arg-type]
    resources = [
        {"account_id": e["account_id"], "resource_name": name, "event_time": e["event_time"], "event_id": e["event_id"]}
        for e in events
        if e["resource_names"]
        for name in e["resource_names"].split(";")
    ]
    if resources:
        tx.run_many(_INSERT_RESOURCE, resources)


def join_resources(names: Sequence[str]) -> str | None:
    """The names (``;`` cannot be part of a stored name: it separates them), without repeats."""
    return ";".join(dict.fromkeys(name.replace(";", "") for name in names)) or None


# --- lookup -----------------------------------------------------------------------------------

_lookups: dict[tuple[tuple[str, ...], bool, bool], Statement] = {}


def _is_read() -> ColumnElement[bool]:
    # A credential fetch (GetInstanceRamRoleCredentials) is a read by its name as well.
    return or_(*(trail_events.c.event_name.like(f"{prefix}%") for prefix in READ_PREFIXES))


def _lookup_statement(keys: tuple[str, ...], forward: bool, after: bool) -> Statement:
    """The query for one combination of filter keys, direction and cursor, built once.

    With a ResourceName, the query walks that resource's rows (their key is the lookup's order)
    and joins each to its event; otherwise it walks the account's events by time, or by event
    name and time. Either way the order is (time, event ID) and the cursor a (time, event ID)."""
    cache_key = (keys, forward, after)
    found = _lookups.get(cache_key)
    if found is not None:
        return found
    e, r = trail_events.c, trail_resources.c
    account: BindParameter[Any] = bindparam("account_id")
    by_resource = "ResourceName" in keys
    time_column, id_column = (r.event_time, r.event_id) if by_resource else (e.event_time, e.event_id)
    # With a resource, its rows carry the account and the time window, and the join finds each
    # one's event by (account, time, ID).
    conditions: list[ColumnElement[bool]] = [
        (r if by_resource else e).account_id == account,
        time_column >= bindparam("start"),
        time_column <= bindparam("end"),
    ]
    leading = keys.index("ResourceName") if by_resource else -1
    for index, key in enumerate(keys):
        value: BindParameter[Any] = bindparam(f"v{index}")
        if key in FILTER_COLUMNS:
            conditions.append(FILTER_COLUMNS[key] == value)
        elif key == "EventRW:Read":
            conditions.append(_is_read())
        elif key == "EventRW:Write":
            conditions.append(~_is_read())
        elif key == "ResourceType":
            conditions.append((literal(";") + e.resource_types + literal(";")).like(value))
        elif index == leading:
            conditions.append(r.resource_name == value)
        else:  # a second ResourceName: the event names it too
            other = trail_resources.alias(f"r{index}")
            conditions.append(
                select(other.c.event_id)
                .where(
                    other.c.account_id == account,
                    other.c.resource_name == value,
                    other.c.event_time == e.event_time,
                    other.c.event_id == e.event_id,
                )
                .exists()
            )
    if after:
        t: BindParameter[Any] = bindparam("after_time")
        i: BindParameter[Any] = bindparam("after_id")
        if forward:
            conditions.append(or_(time_column > t, and_(time_column == t, id_column > i)))
        else:
            conditions.append(or_(time_column < t, and_(time_column == t, id_column < i)))
    order = (time_column, id_column) if forward else (desc(time_column), desc(id_column))
    query = select(*STORED_COLUMNS)
    if by_resource:
        query = query.select_from(
            trail_resources.join(
                trail_events,
                # "+ 0": not a column-to-column equality, so that SQLite does not carry the time
                # window over to the events and walk it for every resource row.
                and_(e.account_id == r.account_id, e.event_time == r.event_time + 0, e.event_id == r.event_id),
            )
        )
    query = query.where(*conditions).order_by(*order).limit(bindparam("limit"))
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
    (key, value), newest first (or oldest first when ``forward``), after the cursor (time, ID)."""
    # EventRW has two values (All is no filter): each is a condition of its own, with no parameter.
    keys = tuple(f"EventRW:{value}" if key == "EventRW" else key for key, value in filters)
    bound: dict[str, Any] = {"account_id": account_id, "start": start, "end": end, "limit": limit}
    for index, (key, value) in enumerate(filters):
        if key == "ResourceType":
            bound[f"v{index}"] = f"%;{_like_escape(value)};%"
        elif key != "EventRW":
            bound[f"v{index}"] = value
    if after is not None:
        bound["after_time"], bound["after_id"] = after
    rows = tx.all(_lookup_statement(keys, forward, after is not None), bound)
    return [StoredEvent(row[0], tuple(row[1:])) for row in rows]


def _like_escape(value: str) -> str:
    # Types are names like ACS::ECS::Instance; a value with LIKE wildcards can match nothing real.
    return value.replace("%", "").replace("_", "")


_SCAN = Statement(
    "trail_scan",
    select(*STORED_COLUMNS)
    .where(trail_events.c.seq > bindparam("after_seq"), trail_events.c.event_time >= bindparam("since"))
    .order_by(trail_events.c.seq)
    .limit(bindparam("limit")),
)


def scan(tx: Tx, *, since: int, after_seq: int = 0, limit: int = 1000) -> list[StoredEvent]:
    """Events of every account from ``since`` (ms) and after ``after_seq``, in the order they
    were written (``ecsram trail``; one account's events: ``lookup``)."""
    rows = tx.all(_SCAN, {"since": since, "after_seq": after_seq, "limit": limit})
    return [StoredEvent(row[0], tuple(row[1:])) for row in rows]


# --- retention --------------------------------------------------------------------------------

_NEWEST_SEQ = Statement("trail_newest_seq", select(func.max(trail_events.c.seq)))
_OLDEST = Statement(
    "trail_oldest",
    select(trail_events.c.seq, trail_events.c.event_time).order_by(trail_events.c.seq).limit(1),
)
_OLDEST_BATCH = Statement(
    "trail_oldest_batch",
    select(
        trail_events.c.seq,
        trail_events.c.event_time,
        trail_events.c.account_id,
        trail_events.c.event_id,
        trail_events.c.resource_names,
    )
    .order_by(trail_events.c.seq)
    .limit(bindparam("batch")),
)
_PRUNE_EVENTS = Statement(
    "trail_prune_events",
    delete(trail_events).where(trail_events.c.seq <= bindparam("upto")),
)
_PRUNE_RESOURCE = Statement(
    "trail_prune_resource",
    delete(trail_resources).where(
        trail_resources.c.account_id == bindparam("account_id"),
        trail_resources.c.resource_name == bindparam("resource_name"),
        trail_resources.c.event_time == bindparam("event_time"),
        trail_resources.c.event_id == bindparam("event_id"),
    ),
)
_ANY_EVENT = Statement("trail_any_event", select(trail_events.c.seq).limit(1))


def prune(tx: Tx, *, older_than: int | None, max_events: int | None, batch: int = PRUNE_BATCH) -> int:
    """Delete the events older than ``older_than`` (ms) and those beyond the newest
    ``max_events``, oldest written first, at most ``batch`` per call (housekeeping calls again);
    return how many went. Events go in the order they were written: one recorded late with an
    earlier time waits for those written before it."""
    newest = tx.scalar(_NEWEST_SEQ)
    if newest is None:
        return 0
    # Events numbered up to ``beyond`` are beyond the count. The newest event always stays, so
    # that numbers keep growing (SQLite would reuse them in an empty table).
    beyond = 0 if max_events is None else newest - max_events

    def doomed(seq: int, event_time: int) -> bool:
        return seq < newest and (seq <= beyond or (older_than is not None and event_time < older_than))

    oldest = tx.one(_OLDEST)
    if oldest is None or not doomed(oldest[0], oldest[1]):
        return 0
    rows = tx.all(_OLDEST_BATCH, {"batch": batch})
    gone: list[Any] = []
    for row in rows:
        if not doomed(row[0], row[1]):
            break
        gone.append(row)
    tx.run(_PRUNE_EVENTS, {"upto": gone[-1][0]})
    resources = [
        {"account_id": account_id, "resource_name": name, "event_time": event_time, "event_id": event_id}
        for _seq, event_time, account_id, event_id, names in gone
        if names
        for name in names.split(";")
    ]
    if resources:
        tx.run_many(_PRUNE_RESOURCE, resources)
    return len(gone)
