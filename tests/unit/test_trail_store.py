"""The audit trail in the store: lookups by attribute and cursor, retention by age and count,
and the indexes the lookups use (SQLite's query planner)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ecsram.config import parse_retention
from ecsram.store import trail
from ecsram.store.database import Database
from ecsram.store.schema import trail_blocks
from ecsram.store.sql import Statement

_BLOCKS = Statement("blocks", select(trail_blocks.c.block).order_by(trail_blocks.c.block))
ACCOUNT = "1000000000000001"
OTHER = "1000000000000002"


def event(
    number: int, *, account: str = ACCOUNT, name: str = "DescribeRegions", resources: tuple[str, ...] = ()
) -> trail.TrailEvent:
    return {
        "event_id": f"E-{number:06d}",
        "account_id": account,
        "event_time": 1_700_000_000_000 + number * 1000,
        "event_name": name,
        "service_name": "Ecs",
        "kind": trail.ROOT,
        "access_key_id": "LTAI" + "0" * 16,
        "principal_id": None,
        "user_name": None,
        "source_ip": "127.0.0.1",
        "user_agent": "test",
        "region": "cn-hangzhou",
        "resource_names": trail.join_resources(resources),
        "resource_types": "ACS::ECS::Instance" if resources else None,
        "request_parameters": None,
        "status": 200,
        "error_code": None,
        "error_message": None,
    }


def ids(found: list[trail.StoredEvent]) -> list[str]:
    return [e.event_id for e in found]


def test_lookup_filters_and_pages(database: Database) -> None:
    with database.transaction() as tx:
        trail.record(tx, [event(i, name="AttachInstanceRamRole" if i % 2 else "DescribeRegions") for i in range(10)])
        trail.record(tx, [event(100, resources=("i-a", "i-b")), event(101, account=OTHER, resources=("i-a",))])
        everything = trail.lookup(tx, ACCOUNT, start=0, end=2**62, limit=50)
        assert ids(everything) == ["E-000100", *[f"E-{i:06d}" for i in range(9, -1, -1)]]
        attach = trail.lookup(tx, ACCOUNT, start=0, end=2**62, filters=[("EventName", "AttachInstanceRamRole")])
        assert ids(attach) == [f"E-{i:06d}" for i in (9, 7, 5, 3, 1)]
        assert ids(trail.lookup(tx, ACCOUNT, start=0, end=2**62, filters=[("ResourceName", "i-b")])) == ["E-000100"]
        assert ids(trail.lookup(tx, OTHER, start=0, end=2**62, filters=[("ResourceName", "i-a")])) == ["E-000101"]
        typed = trail.lookup(tx, ACCOUNT, start=0, end=2**62, filters=[("ResourceType", "ACS::ECS::Instance")])
        assert ids(typed) == ["E-000100"]
        reads = trail.lookup(tx, ACCOUNT, start=0, end=2**62, filters=[("EventRW", "Read")], limit=50)
        assert len(reads) == 6
        first = trail.lookup(tx, ACCOUNT, start=0, end=2**62, forward=True, limit=3)
        assert ids(first) == ["E-000000", "E-000001", "E-000002"]
        cursor = (first[-1].event_time, first[-1].event_id)
        assert ids(trail.lookup(tx, ACCOUNT, start=0, end=2**62, forward=True, after=cursor, limit=2)) == [
            "E-000003",
            "E-000004",
        ]
        window = trail.lookup(tx, ACCOUNT, start=1_700_000_002_000, end=1_700_000_003_000, limit=50)
        assert ids(window) == ["E-000003", "E-000002"]
        document = everything[0].document()
        assert (document["resourceName"], document["resourceType"]) == ("i-a;i-b", "ACS::ECS::Instance")
        assert document["userIdentity"]["arn"] == f"acs:ram::{ACCOUNT}:root" and "requestParameters" not in document


def test_retention_by_age_and_count(database: Database) -> None:
    def names(found: list[trail.StoredEvent]) -> list[str]:
        return ids(found)

    with database.transaction() as tx:
        trail.record(tx, [event(i, resources=(f"i-{i}",)) for i in range(20)])
        assert trail.prune(tx, older_than=1_700_000_005_000, max_events=None) == 5
        left = trail.lookup(tx, ACCOUNT, start=0, end=2**62, forward=True, limit=50)
        assert ids(left)[0] == "E-000005" and len(left) == 15
        assert trail.prune(tx, older_than=None, max_events=10) == 5
        assert len(trail.lookup(tx, ACCOUNT, start=0, end=2**62, limit=50)) == 10
        assert trail.lookup(tx, ACCOUNT, start=0, end=2**62, filters=[("ResourceName", "i-3")]) == []
        # Batches: at most `batch` a call.
        assert trail.prune(tx, older_than=2**62, max_events=None, batch=4) == 4
        assert trail.prune(tx, older_than=None, max_events=100) == 0
        # The newest event always stays (event numbers keep growing).
        assert trail.prune(tx, older_than=2**62, max_events=None) == 5
        assert names(trail.lookup(tx, ACCOUNT, start=0, end=2**62)) == ["E-000019"]
        trail.record(tx, [event(30)])
        assert trail.prune(tx, older_than=None, max_events=1) == 1
        (newest,) = trail.scan(tx, since=0)
        assert newest.event_id == "E-000030" and newest.seq == 21


def test_an_event_recorded_late_waits_for_those_before_it(database: Database) -> None:
    with database.transaction() as tx:
        trail.record(tx, [event(5), event(1), event(6), event(7)])
        # Pruned in the order written: event 1 goes only once event 5 before it is old enough.
        assert trail.prune(tx, older_than=1_700_000_002_000, max_events=None) == 0
        assert trail.prune(tx, older_than=1_700_000_006_000, max_events=None) == 2
        assert ids(trail.scan(tx, since=0)) == ["E-000006", "E-000007"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("7d", (604800, None)), ("1000000", (None, 1000000)), ("12h,500", (43200, 500)), ("500, 30m", (1800, 500))],
)
def test_retention_settings(text: str, expected: tuple[int | None, int | None]) -> None:
    assert parse_retention(text) == expected


@pytest.mark.parametrize("text", ["", "0", "0d", "7w", "7d,8d", "1,2", "-5", "７d", "forever"])
def test_retention_settings_refused(text: str) -> None:
    with pytest.raises(ValueError, match="trail retention"):
        parse_retention(text)


PLAN_SAMPLE: dict[str, Any] = {
    "account_id": ACCOUNT,
    "start": 0,
    "end": 2**62,
    "limit": 20,
    "v0": "x",
    "v1": "y",
    "after_time": 0,
    "after_seq": 0,
    "after_id": "",
    "lo": 0,
    "hi": 1023,
    "below": 1,
    "batch": 10,
    "upto": 10,
    "since": 0,
    "resource_name": "i-a",
    "event_time": 0,
    "event_id": "E",
}


@pytest.mark.parametrize(
    ("keys", "index"),
    [
        ((), "ix_trail_events_account_time"),
        (("EventName",), "ix_trail_events_account_time"),
        (("EventAccessKeyId",), "ix_trail_events_account_time"),
        (("ResourceName",), "ix_trail_events_account_time"),
        (("EventName", "ResourceName"), "ix_trail_events_account_time"),
        (("ResourceName", "ResourceName"), "ix_trail_events_account_time"),
        (("EventRW:Read",), "ix_trail_events_account_time"),
        (("EventRW:Write", "ServiceName"), "ix_trail_events_account_time"),
        (("ResourceType",), "ix_trail_events_account_time"),
    ],
)
@pytest.mark.parametrize("forward", [True, False])
def test_lookups_search_an_index(database: Database, keys: tuple[str, ...], index: str, forward: bool) -> None:
    compiled = trail._lookup_statement(keys, forward, True).compiled(database.dialect)
    with database.transaction(write=False) as tx:
        rows = tx._connection.execute("EXPLAIN QUERY PLAN " + compiled.text, {**compiled.constants, **PLAN_SAMPLE})
        plan = [row[3] for row in rows.fetchall()]
    assert any(step.startswith("SEARCH") and index in step for step in plan), plan
    assert not [step for step in plan if step.startswith("SCAN") or "TEMP B-TREE FOR ORDER BY" in step], plan


@pytest.mark.parametrize(
    "keys", [("ResourceName",), ("ResourceName", "EventRW:Read"), ("ResourceName", "ResourceName"), ("EventName",)]
)
@pytest.mark.parametrize("forward", [True, False])
def test_a_ranged_lookup_walks_its_block_of_event_numbers(
    database: Database, keys: tuple[str, ...], forward: bool
) -> None:
    # Not the account's whole time window in an index: at most one block's events.
    plan = _plan(database, trail._lookup_statement(keys, forward, True, ranged=True))
    assert any(
        step.startswith("SEARCH trail_events USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)") for step in plan
    ), plan


def _plan(database: Database, statement: Any) -> list[str]:
    compiled = statement.compiled(database.dialect)
    with database.transaction(write=False) as tx:
        rows = tx._connection.execute("EXPLAIN QUERY PLAN " + compiled.text, {**compiled.constants, **PLAN_SAMPLE})
        return [row[3] for row in rows.fetchall()]


@pytest.mark.parametrize(
    "statement",
    [trail._PRUNE_EVENTS, trail._PRUNE_BLOCKS, trail._NEWEST_SEQ, trail._SCAN, trail._BLOCK_ROWS, trail._LAST_BLOCK],
)
def test_pruning_and_scans_seek(database: Database, statement: Any) -> None:
    plan = _plan(database, statement)
    assert not [step for step in plan if step.startswith("SCAN")], plan


@pytest.mark.parametrize("statement", [trail._OLDEST, trail._OLDEST_BATCH])
def test_the_oldest_events_are_read_in_table_order(database: Database, statement: Any) -> None:
    plan = _plan(database, statement)
    assert plan == ["SCAN trail_events"], plan  # the rowid order: no sort, stops at the LIMIT


def _alembic(database: Database, action: str, revision: str) -> None:
    from importlib import resources

    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("ecsram.store") / "migrations"))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def test_migration_0008_replaces_the_old_layout(tmp_path: Path) -> None:
    from sqlalchemy import inspect, text

    database = Database(f"sqlite:///{tmp_path / 'old-trail.db'}")
    try:
        _alembic(database, "upgrade", "0007")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO trail_events VALUES ('E-1', :account, 1, 'DescribeRegions', 'Ecs', 'Read', 'LTAI', '', '{}')"
                ),
                {"account": ACCOUNT},
            )
        database.migrate()
        with database.transaction() as tx:
            assert trail.scan(tx, since=0) == []  # the old events are dropped
            trail.record(tx, [event(1, resources=("i-a",))])
            assert ids(trail.lookup(tx, ACCOUNT, start=0, end=2**62, filters=[("ResourceName", "i-a")])) == ["E-000001"]
        _alembic(database, "downgrade", "0007")
        with database.engine.connect() as connection:
            assert "document" in {column["name"] for column in inspect(connection).get_columns("trail_events")}
    finally:
        database.close()


# --- the resource filters per block of events ---------------------------------------------------

NAMES = ("i-a", "i-b", "role-x", "i_c%", "I-A")
Filters = tuple[tuple[str, str], ...]


def _matches(e: trail.TrailEvent, key: str, value: str) -> bool:
    if key == "ResourceName":
        return value in (e["resource_names"] or "").split(";")
    return (e["event_name"] if key == "EventName" else e["access_key_id"]) == value


def _expected(events: list[trail.TrailEvent], account: str, filters: Filters, forward: bool) -> list[str]:
    found = [e for e in events if e["account_id"] == account and all(_matches(e, *f) for f in filters)]
    found.sort(key=lambda e: (e["event_time"], e["event_id"]), reverse=not forward)
    return [e["event_id"] for e in found]


def _paged(tx: Any, account: str, filters: Filters, forward: bool, page: int) -> list[str]:
    """Every event matching ``filters``, read ``page`` at a time with the cursor."""
    seen: list[str] = []
    after = None
    while True:
        found = trail.lookup(tx, account, start=0, end=2**62, filters=filters, forward=forward, after=after, limit=page)
        seen += ids(found)
        if len(found) < page:
            return seen
        after = (found[-1].event_time, found[-1].event_id)


def _world(count: int) -> list[trail.TrailEvent]:
    # Times out of order now and then (recorded late, or a clock moved back), two accounts, a
    # rare event name and a rare AccessKey.
    events = []
    for i in range(count):
        named = tuple(name for k, name in enumerate(NAMES) if (i >> k) & 1)
        e = event(i, account=OTHER if i % 7 == 3 else ACCOUNT, resources=named)
        if i % 11 == 5:
            e["event_time"] -= 9_000
        if i % 3 == 0:
            e["event_name"] = "AttachInstanceRamRole"
        if i in (17, 60, 61):
            e["event_name"], e["access_key_id"] = "DetachInstanceRamRole", "STS.rare"
        events.append(e)
    return events


QUERIES: list[Filters] = [
    (("ResourceName", "i-a"),),
    (("ResourceName", "I-A"),),
    (("ResourceName", "i_c%"),),
    (("ResourceName", "role-x"), ("ResourceName", "i-b")),
    (("ResourceName", "i-zz"),),
    (("EventName", "AttachInstanceRamRole"),),
    (("EventName", "DetachInstanceRamRole"),),
    (("EventName", "AttachInstanceRamRole"), ("ResourceName", "i-a")),
    (("EventAccessKeyId", "STS.rare"), ("ResourceName", "i-a")),
    (("EventAccessKeyId", "STS.rare"),),
]


def test_a_rare_value_is_searched_in_its_blocks_only(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trail, "BLOCK_EVENTS", 8)
    events = _world(100)
    with database.transaction() as tx:
        trail.record(tx, events)
        trail.summarise(tx)
        bound = {"start": 0, "end": 2**62, "limit": 20}
        plan = trail._block_plan(tx, ACCOUNT, ["e/DetachInstanceRamRole"], bound, True, None)
        # Events 60 and 61 (numbers 61, 62): block 7, and the events not yet summarised. Event 17
        # has that name too, in the other account: its block is not searched.
        assert plan is not None and [b[0] for b in plan.blocks] == [7] and plan.unsummarised == (96, 100)
        other = trail._block_plan(tx, OTHER, ["e/DetachInstanceRamRole"], bound, True, None)
        assert other is not None and [b[0] for b in other.blocks] == [2]
        common = trail._block_plan(tx, ACCOUNT, ["r/i-a"], bound, False, None)
        assert common is not None and [b[0] for b in common.blocks] == list(range(11, -1, -1))
        # Newest first, a page of 3: the events not yet summarised (numbers 96-100) hold three, and
        # every block is older than the third (block 11's latest is event 94's time): no block.
        searched: list[tuple[int, int]] = []
        statement = trail._lookup_statement(("ResourceName",), False, False, ranged=True)
        page = {**bound, "account_id": ACCOUNT, "v0": ";i-a;", "limit": 3}
        plan = trail._block_plan(tx, ACCOUNT, ["r/i-a"], page, False, None)
        assert plan is not None
        found = trail._search_blocks(_Counting(tx, searched), statement, page, plan)
        assert [row[1] for row in found] == _expected(events, ACCOUNT, (("ResourceName", "i-a"),), False)[:3]
        assert searched == [(96, 100)], searched
        # A page of 5 needs blocks as well, and stops well before the oldest.
        searched.clear()
        page = {**page, "limit": 5}
        plan = trail._block_plan(tx, ACCOUNT, ["r/i-a"], page, False, None)
        assert plan is not None
        found = trail._search_blocks(_Counting(tx, searched), statement, page, plan)
        assert [row[1] for row in found] == _expected(events, ACCOUNT, (("ResourceName", "i-a"),), False)[:5]
        assert 1 < len(searched) < len(plan.blocks) // 2, searched
        monkeypatch.setattr(trail, "MAX_UNSUMMARISED", 4)
        assert trail._block_plan(tx, ACCOUNT, ["r/i-a"], bound, True, None) is None


class _Counting:
    """A transaction that notes the ranges of event numbers it is asked to search."""

    def __init__(self, tx: Any, searched: list[tuple[int, int]]) -> None:
        self.tx, self.searched = tx, searched

    def all(self, statement: Any, params: dict[str, Any]) -> list[Any]:
        self.searched.append((params["lo"], params["hi"]))
        return self.tx.all(statement, params)  # type: ignore[no-any-return]


def test_a_block_is_summarised_only_once_complete(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trail, "BLOCK_EVENTS", 8)
    with database.transaction() as tx:
        trail.record(tx, [event(i, resources=("i-a",)) for i in range(1, 7)])  # numbers 1-6 of block 0 (0-7)
        assert trail.summarise(tx) == 0
        trail.record(tx, [event(7, resources=("i-b",))])  # 7: block 0 is complete (SQLite numbers from 1)
        assert trail.summarise(tx) == 1
        assert [row[0] for row in tx.all(_BLOCKS)] == [0]
        trail.record(tx, [event(i) for i in range(8, 30)])
        assert trail.summarise(tx, max_blocks=1) == 1 and trail.summarise(tx) == 1
        assert [row[0] for row in tx.all(_BLOCKS)] == [0, 1, 2]
        # Blocks 1 and 2 named nothing: their filters are empty and never searched.
        assert (
            trail.lookup(tx, ACCOUNT, start=0, end=2**62, filters=[("ResourceName", "i-b")])[0].event_id == "E-000007"
        )
        # Pruning drops the filters of blocks whose every event is gone, not of a block in part.
        assert trail.prune(tx, older_than=None, max_events=10) == 19  # numbers 1-19 go
        assert [row[0] for row in tx.all(_BLOCKS)] == [2]
        assert trail.lookup(tx, ACCOUNT, start=0, end=2**62, filters=[("ResourceName", "i-b")]) == []


def test_the_filter_has_no_false_negatives_and_few_false_positives() -> None:
    names = [(ACCOUNT, f"r/i-{n:020x}") for n in range(1500)]
    bits = trail.bloom(f"{account}/{name}" for account, name in names)
    assert len(bits) == trail.BLOOM_BYTES and trail.bloom([]) == b""
    assert all(trail.may_hold(bits, trail.bloom_positions(*pair)) for pair in names)
    others = [trail.bloom_positions(ACCOUNT, f"r/i-{n:020x}") for n in range(10_000, 20_000)]
    others += [trail.bloom_positions(OTHER, name) for _account, name in names]  # another account's
    false_positives = sum(trail.may_hold(bits, positions) for positions in others)
    assert false_positives < 0.03 * len(others), false_positives
    assert not trail.may_hold(b"", trail.bloom_positions(ACCOUNT, "i-a"))


def test_migration_0010_back_rebuilds_the_resource_rows(database: Database) -> None:
    from sqlalchemy import text

    with database.transaction() as tx:
        trail.record(tx, [event(1, resources=("i-a", "role-x")), event(2), event(3, account=OTHER, resources=("i-a",))])
    _alembic(database, "downgrade", "0009")
    with database.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT account_id, resource_name, event_id FROM trail_resources ORDER BY event_id, resource_name")
        ).fetchall()
    assert [tuple(row) for row in rows] == [
        (ACCOUNT, "i-a", "E-000001"),
        (ACCOUNT, "role-x", "E-000001"),
        (OTHER, "i-a", "E-000003"),
    ]
    _alembic(database, "upgrade", "head")
    with database.transaction() as tx:
        assert ids(trail.lookup(tx, OTHER, start=0, end=2**62, filters=[("ResourceName", "i-a")])) == ["E-000003"]
