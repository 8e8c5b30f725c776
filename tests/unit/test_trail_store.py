"""The audit trail in the store: lookups by attribute and cursor, retention by age and count,
and the indexes the lookups use (SQLite's query planner)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ecsram.config import parse_retention
from ecsram.store import trail
from ecsram.store.database import Database
from ecsram.store.schema import trail_resources
from ecsram.store.sql import Statement

_COUNT_RESOURCES = Statement("count_resources", select(func.count()).select_from(trail_resources))
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
        # The pruned events' resource rows went with them.
        assert tx.scalar(_COUNT_RESOURCES) == 10
        # Batches: at most `batch` a call.
        assert trail.prune(tx, older_than=2**62, max_events=None, batch=4) == 4
        assert trail.prune(tx, older_than=None, max_events=100) == 0
        # The newest event always stays (event numbers keep growing).
        assert trail.prune(tx, older_than=2**62, max_events=None) == 5
        assert names(trail.lookup(tx, ACCOUNT, start=0, end=2**62)) == ["E-000019"]
        assert tx.scalar(_COUNT_RESOURCES) == 1
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
        (("EventName",), "ix_trail_events_account_name"),
        (("EventAccessKeyId",), "ix_trail_events_account_time"),
        (("ResourceName",), "trail_resources USING PRIMARY KEY (account_id=? AND resource_name=?"),
        (("EventName", "ResourceName"), "trail_resources USING PRIMARY KEY (account_id=? AND resource_name=?"),
        (("ResourceName", "ResourceName"), "trail_resources USING PRIMARY KEY (account_id=? AND resource_name=?"),
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
    "keys", [("ResourceName",), ("ResourceName", "EventRW:Read"), ("ResourceName", "ResourceName")]
)
def test_a_resource_lookup_finds_each_event_by_its_key(database: Database, keys: tuple[str, ...]) -> None:
    # Not by walking the time window of the account's events for every resource row.
    plan = _plan(database, trail._lookup_statement(keys, False, True))
    assert any(step.startswith("SEARCH trail_events") and "event_time=?" in step for step in plan), plan


def _plan(database: Database, statement: Any) -> list[str]:
    compiled = statement.compiled(database.dialect)
    with database.transaction(write=False) as tx:
        rows = tx._connection.execute("EXPLAIN QUERY PLAN " + compiled.text, {**compiled.constants, **PLAN_SAMPLE})
        return [row[3] for row in rows.fetchall()]


@pytest.mark.parametrize("statement", [trail._PRUNE_EVENTS, trail._PRUNE_RESOURCE, trail._NEWEST_SEQ, trail._SCAN])
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
