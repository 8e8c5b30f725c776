"""The audit trail in the store: events written with the calls they record, queried by account,
time and attribute, and pruned to the retention.

An event is written in the same transaction as the call it records (one batched INSERT per
group-commit batch), so a call that commits is always in the trail and the trail never holds a
call that did not happen. A row keeps only what cannot be derived (who, from where, what, the
outcome); ``document`` rebuilds the event in ActionTrail's structure when it is read, so the
cost of the wire form is paid by the reader, not by every call.

Recording an event writes that one row and nothing else. The lookup by resource name is served
by a Bloom filter per block of ``BLOCK_EVENTS`` consecutive events (``trail_blocks``), written
by the servers' housekeeping once a block is complete: a lookup searches the blocks whose filter
may hold the name, and the events not yet summarised, directly. An index row per resource,
keyed by name, would cost every call a write to a page of its own (measured: 15% of
attach+detach throughput); a filter costs one row per thousand events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, TypedDict

import orjson
from sqlalchemy import and_, bindparam, delete, desc, func, literal, or_, select, text
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.elements import BindParameter

from ecsram.store.schema import trail_blocks, trail_events
from ecsram.store.sql import Contains, Statement, Tx, params
from ecsram.store.times import iso

# LookupAttribute keys and the column each filters on; the others are special.
FILTER_COLUMNS = {
    "EventName": trail_events.c.event_name,
    "EventAccessKeyId": trail_events.c.access_key_id,
    "ServiceName": trail_events.c.service_name,
}
FILTER_KEYS = (*FILTER_COLUMNS, "EventRW", "ResourceName", "ResourceType")
PRUNE_BATCH = 10_000
# The attribute index: a Bloom filter of the (account, attribute) pairs of each block of
# BLOCK_EVENTS events numbered in a row (attributes: each resource name, the event name, the
# AccessKey); BLOOM_BYTES * 8 bits and BLOOM_HASHES probes give about
# 1% false positives at 1,500 names a block (a false positive costs one block searched in vain).
BLOCK_EVENTS = 1024
BLOOM_BYTES = 2048
BLOOM_HASHES = 4
# A lookup by an indexed value walks the account's events by time instead of searching the
# blocks when more events than this are not summarised yet (after an upgrade, or when
# housekeeping has not run for a long while).
MAX_UNSUMMARISED = 65_536
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


COLUMNS = _COLUMNS  # the order of a row given to ``record_rows``
_row_values = itemgetter(*_COLUMNS)


def record(tx: Tx, events: Sequence[TrailEvent]) -> None:
    """Write ``events``: one batched INSERT."""
    record_rows(tx, [_row_values(event) for event in events])


def record_rows(tx: Tx, rows: list[tuple[Any, ...]]) -> None:
    """Write events given as rows of ``COLUMNS`` values (the request path's form: no dict)."""
    if rows:
        tx.insert_rows(trail_events, _COLUMNS, rows)


def join_resources(names: Sequence[str]) -> str | None:
    """The names (``;`` cannot be part of a stored name: it separates them), without repeats."""
    return ";".join(dict.fromkeys(name.replace(";", "") for name in names)) or None


# --- the resource index: a Bloom filter per block of events ---------------------------------------


# The LookupAttribute keys the filters hold, and the prefix that keeps their values apart.
INDEXED_KEYS = {"ResourceName": "r", "EventName": "e", "EventAccessKeyId": "k"}


def bloom_positions(account_id: str, attribute: str) -> tuple[int, ...]:
    """The bits an attribute (``INDEXED_KEYS`` prefix, ``/``, value) of an account sets in a
    block's filter."""
    return _positions(f"{account_id}/{attribute}")


def _positions(key: str) -> tuple[int, ...]:
    # Double hashing of one 64-bit digest; BLOOM_BYTES * 8 is a power of two.
    digest = int.from_bytes(hashlib.blake2b(key.encode("utf-8", "replace"), digest_size=8).digest(), "little")
    first, second, mask = digest & 0xFFFFFFFF, (digest >> 32) | 1, BLOOM_BYTES * 8 - 1
    return tuple((first + i * second) & mask for i in range(BLOOM_HASHES))


def bloom(keys: Iterable[str]) -> bytes:
    """The filter of keys (``account/attribute``, as ``bloom_positions`` makes them); empty
    when there are none."""
    bits = bytearray(BLOOM_BYTES)
    empty = True
    for key in set(keys):
        for position in _positions(key):
            bits[position >> 3] |= 1 << (position & 7)
        empty = False
    return b"" if empty else bytes(bits)


def _block_keys(rows: Sequence[Any]) -> set[str]:
    """The filter keys of a block's events (rows of ``_BLOCK_ROWS``)."""
    resource, event, key = (f"/{INDEXED_KEYS[k]}/" for k in ("ResourceName", "EventName", "EventAccessKeyId"))
    keys: set[str] = set()
    for account, _time, names, event_name, access_key_id in rows:
        keys.add(account + event + event_name)
        keys.add(account + key + access_key_id)
        if names:
            keys.update(account + resource + name for name in names.split(";"))
    return keys


def may_hold(filter_bits: bytes, positions: tuple[int, ...]) -> bool:
    return bool(filter_bits) and all(filter_bits[p >> 3] & (1 << (p & 7)) for p in positions)


_LAST_BLOCK = Statement("trail_last_block", select(func.max(trail_blocks.c.block)))
_BLOCK_ROWS = Statement(
    "trail_block_rows",
    select(
        trail_events.c.account_id,
        trail_events.c.event_time,
        trail_events.c.resource_names,
        trail_events.c.event_name,
        trail_events.c.access_key_id,
    ).where(trail_events.c.seq >= bindparam("lo"), trail_events.c.seq <= bindparam("hi")),
)
_INSERT_BLOCK = Statement(
    "trail_insert_block", trail_blocks.insert().values(**params("block", "bloom", "min_time", "max_time"))
)
# PostgreSQL numbers events when they are inserted but they commit in any order: this lock waits
# for every transaction writing events to end (and holds new ones until the summary commits),
# after which no event can still appear in a block below the newest number. It also keeps two
# summaries from running at once. SQLite commits one writer at a time, in the order it numbers.
_LOCK_EVENTS = Statement("trail_lock_events", text("LOCK TABLE trail_events IN SHARE ROW EXCLUSIVE MODE"))


def _next_block(tx: Tx) -> tuple[int, int] | None:
    """The newest event's number and the block to summarise next, if that block is complete."""
    newest = tx.scalar(_NEWEST_SEQ)
    if newest is None:
        return None
    last = tx.scalar(_LAST_BLOCK)
    if last is None:
        oldest = tx.one(_OLDEST)
        next_block = 0 if oldest is None else oldest[0] // BLOCK_EVENTS
    else:
        next_block = last + 1
    return (newest, next_block) if newest >= (next_block + 1) * BLOCK_EVENTS - 1 else None


def summarise(tx: Tx, *, max_blocks: int = 16) -> int:
    """Write the filters of up to ``max_blocks`` complete blocks after the last one written;
    return how many were written. A block is complete once an event numbered at or after its
    end exists (the numbers only grow: pruning always keeps the newest event)."""
    found = _next_block(tx)
    if found is None:
        return 0
    if tx.dialect_name == "postgresql":
        # Read again under the lock: another process may have written the same block meanwhile.
        tx.execute(_LOCK_EVENTS)
        found = _next_block(tx)
        if found is None:
            return 0
    newest, next_block = found
    written = 0
    while written < max_blocks and newest >= (next_block + 1) * BLOCK_EVENTS - 1:
        lo = next_block * BLOCK_EVENTS
        rows = tx.all(_BLOCK_ROWS, {"lo": lo, "hi": lo + BLOCK_EVENTS - 1})
        times = [row[1] for row in rows]
        tx.run(
            _INSERT_BLOCK,
            {
                "block": next_block,
                "bloom": bloom(_block_keys(rows)),
                "min_time": min(times) if times else None,
                "max_time": max(times) if times else None,
            },
        )
        next_block += 1
        written += 1
    return written


# --- lookup -----------------------------------------------------------------------------------

_lookups: dict[tuple[tuple[str, ...], bool, bool, bool], Statement] = {}


def _is_read() -> ColumnElement[bool]:
    # A credential fetch (GetInstanceRamRoleCredentials) is a read by its name as well.
    return or_(*(trail_events.c.event_name.like(f"{prefix}%") for prefix in READ_PREFIXES))


def _lookup_statement(keys: tuple[str, ...], forward: bool, after: bool, ranged: bool = False) -> Statement:
    """The query for one combination of filter keys, direction and cursor, built once.

    It walks the account's events by time; ``ranged`` walks one range
    of event numbers instead (a block a resource's filter points to). Either way the order is
    (time, event ID) and the cursor a (time, event ID)."""
    cache_key = (keys, forward, after, ranged)
    found = _lookups.get(cache_key)
    if found is not None:
        return found
    e = trail_events.c
    time_column, id_column = e.event_time, e.event_id
    # "|| ''" in a ranged walk: not a bare column, so that SQLite walks the numbers rather than
    # the account's whole time window in an index.
    account_column = e.account_id + literal("") if ranged else e.account_id
    conditions: list[ColumnElement[bool]] = [
        account_column == bindparam("account_id"),
        time_column >= bindparam("start"),
        time_column <= bindparam("end"),
    ]
    if ranged:
        conditions += [e.seq >= bindparam("lo"), e.seq <= bindparam("hi")]
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
        elif key == "ResourceName":
            conditions.append(Contains(literal(";") + e.resource_names + literal(";"), value))
    if after:
        t: BindParameter[Any] = bindparam("after_time")
        i: BindParameter[Any] = bindparam("after_id")
        if forward:
            conditions.append(or_(time_column > t, and_(time_column == t, id_column > i)))
        else:
            conditions.append(or_(time_column < t, and_(time_column == t, id_column < i)))
    order = (time_column, id_column) if forward else (desc(time_column), desc(id_column))
    query = select(*STORED_COLUMNS).where(*conditions).order_by(*order).limit(bindparam("limit"))
    name = f"trail_lookup_{'_'.join(keys) or 'all'}_{forward}_{after}{'_ranged' if ranged else ''}"
    statement = Statement(name, query)
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
        elif key == "ResourceName":
            bound[f"v{index}"] = f";{value};"
        elif key != "EventRW":
            bound[f"v{index}"] = value
    if after is not None:
        bound["after_time"], bound["after_id"] = after
    indexed = [f"{INDEXED_KEYS[key]}/{value}" for key, value in filters if key in INDEXED_KEYS]
    plan = _block_plan(tx, account_id, indexed, bound, forward, after) if indexed else None
    if plan is None:
        rows = tx.all(_lookup_statement(keys, forward, after is not None), bound)
    else:
        rows = _search_blocks(tx, _lookup_statement(keys, forward, after is not None, ranged=True), bound, plan)
    return [StoredEvent(row[0], tuple(row[1:])) for row in rows]


_BLOCK_FILTERS = Statement(
    "trail_block_filters",
    select(trail_blocks.c.block, trail_blocks.c.bloom, trail_blocks.c.min_time, trail_blocks.c.max_time)
    .where(trail_blocks.c.max_time >= bindparam("start"), trail_blocks.c.min_time <= bindparam("end"))
    .order_by(trail_blocks.c.block),
)


@dataclass(frozen=True, slots=True)
class BlockPlan:
    """Where a lookup by indexed values searches: the events not yet summarised (a range of
    numbers, empty when lo > hi), then the blocks whose filters may hold every value, as
    (block, earliest time, latest time), in the lookup's order (by latest time, newest first,
    or by earliest time, oldest first)."""

    forward: bool
    limit: int
    unsummarised: tuple[int, int]
    blocks: list[tuple[int, int, int]]


def _block_plan(
    tx: Tx, account_id: str, attributes: list[str], bound: dict[str, Any], forward: bool, after: tuple[int, str] | None
) -> BlockPlan | None:
    """The plan of a lookup by ``attributes``; None when a walk of the account's events by time
    is the better one (too many events not yet summarised)."""
    newest = tx.scalar(_NEWEST_SEQ)
    if newest is None:
        return BlockPlan(forward, bound["limit"], (1, 0), [])
    last = tx.scalar(_LAST_BLOCK)
    unsummarised = 0 if last is None else (last + 1) * BLOCK_EVENTS
    if newest - unsummarised >= MAX_UNSUMMARISED:
        return None
    start, end = bound["start"], bound["end"]
    if after is not None:  # blocks wholly before (or after) the cursor hold nothing more
        start, end = (max(start, after[0]), end) if forward else (start, min(end, after[0]))
    probes = [bloom_positions(account_id, attribute) for attribute in attributes]
    blocks = [
        (block, min_time, max_time)
        for block, filter_bits, min_time, max_time in tx.all(_BLOCK_FILTERS, {"start": start, "end": end})
        if all(may_hold(filter_bits, positions) for positions in probes)
    ]
    blocks.sort(key=(lambda b: b[1]) if forward else (lambda b: -b[2]))
    return BlockPlan(forward, bound["limit"], (unsummarised, newest), blocks)


def _search_blocks(tx: Tx, statement: Statement, bound: dict[str, Any], plan: BlockPlan) -> list[Any]:
    """Search the plan's ranges, each for its first ``limit`` events in the lookup's order, and
    stop at the first block that cannot hold an event before the ``limit``-th found so far (its
    times are all beyond it: equal times are still searched, the event ID orders them)."""

    def search(lo: int, hi: int) -> list[Any]:
        return tx.all(statement, {**bound, "lo": lo, "hi": hi}) if lo <= hi else []

    def keep_first(found: list[Any]) -> None:
        found.sort(key=lambda row: (row[3], row[1]), reverse=not plan.forward)
        del found[plan.limit :]

    rows = search(*plan.unsummarised)
    for block, min_time, max_time in plan.blocks:
        if len(rows) >= plan.limit:
            keep_first(rows)
            last_time = rows[-1][3]
            if (min_time > last_time) if plan.forward else (max_time < last_time):
                break
        rows += search(block * BLOCK_EVENTS, block * BLOCK_EVENTS + BLOCK_EVENTS - 1)
    keep_first(rows)
    return rows


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
    select(trail_events.c.seq, trail_events.c.event_time).order_by(trail_events.c.seq).limit(bindparam("batch")),
)
_PRUNE_EVENTS = Statement(
    "trail_prune_events",
    delete(trail_events).where(trail_events.c.seq <= bindparam("upto")),
)
# The filters of blocks whose every event is gone (a block pruned in part keeps its filter).
_PRUNE_BLOCKS = Statement(
    "trail_prune_blocks",
    delete(trail_blocks).where(trail_blocks.c.block < bindparam("below")),
)


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
    upto = gone[-1][0]
    tx.run(_PRUNE_EVENTS, {"upto": upto})
    tx.run(_PRUNE_BLOCKS, {"below": (upto + 1) // BLOCK_EVENTS})
    return len(gone)
