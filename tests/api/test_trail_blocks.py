"""The trail's block filters on the configured backend (SQLite, or PostgreSQL in its pass):
lookups by resource, event name and AccessKey find the same events before, while and after the
blocks are summarised, and a summary waits for the events still being written (PostgreSQL
numbers events when they are inserted, not when they commit)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from ecsram.store import trail
from ecsram.store.database import Database
from tests.api.test_trail import describe_regions, events
from tests.conftest import Sdk
from tests.support.metadata import Metadata
from tests.unit.test_trail_store import ACCOUNT, OTHER, QUERIES, _expected, _paged, _world, event


@pytest.fixture
def store(database_factory: Callable[[], str]) -> Iterator[Database]:
    database = Database(database_factory())
    database.migrate()
    yield database
    database.close()


@pytest.mark.parametrize("forward", [True, False])
def test_lookups_agree_before_and_after_the_summary(
    store: Database, monkeypatch: pytest.MonkeyPatch, forward: bool
) -> None:
    monkeypatch.setattr(trail, "BLOCK_EVENTS", 8)
    events = _world(100)
    queries = [(a, q) for a in (ACCOUNT, OTHER) for q in QUERIES]
    expected = {q: _expected(events, *q, forward) for q in queries}
    assert expected[(ACCOUNT, QUERIES[0])] and expected[(OTHER, QUERIES[3])] and expected[(ACCOUNT, QUERIES[6])]
    assert not expected[(ACCOUNT, QUERIES[4])]
    with store.transaction() as tx:
        trail.record(tx, events)
    with store.transaction() as tx:
        before = {q: _paged(tx, *q, forward, page=3) for q in queries}
    with store.transaction() as tx:
        assert trail.summarise(tx, max_blocks=5) == 5
    with store.transaction() as tx:
        partly = {q: _paged(tx, *q, forward, page=4) for q in queries}
    with store.transaction() as tx:
        assert trail.summarise(tx) == 7  # 100 events: 12 whole blocks of 8; the last is not complete
        assert trail.summarise(tx) == 0
    with store.transaction() as tx:
        after = {q: _paged(tx, *q, forward, page=5) for q in queries}
    monkeypatch.setattr(trail, "MAX_UNSUMMARISED", 0)  # the walk by time instead of the blocks
    with store.transaction() as tx:
        walked = {q: _paged(tx, *q, forward, page=50) for q in queries}
    assert before == partly == after == walked == expected


def test_a_summary_waits_for_events_still_being_written(
    store: Database, database_factory: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trail, "BLOCK_EVENTS", 8)
    writer = Database(store.url)
    try:
        with store.transaction() as tx:
            trail.record(tx, [event(i) for i in range(7)])  # one short of a whole first block
        started, release = threading.Event(), threading.Event()

        def slow_writer() -> None:
            # Takes its number first and commits last, with the name the lookup looks for.
            with writer.transaction() as tx:
                trail.record(tx, [event(100, resources=("i-late",))])
                started.set()
                release.wait(10)

        thread = threading.Thread(target=slow_writer)
        thread.start()
        assert started.wait(10)
        if store.dialect.name == "postgresql":
            with store.transaction() as tx:
                trail.record(tx, [event(i) for i in range(200, 210)])  # later numbers, committed first
            summary = threading.Thread(target=lambda: _summarise(store))
            summary.start()
            time.sleep(0.3)
            assert summary.is_alive()  # waiting for the slow writer's transaction to end
            release.set()
            summary.join(10)
            assert not summary.is_alive()
        else:
            release.set()  # SQLite: one writer at a time, numbered in commit order
        thread.join(10)
        _summarise(store)
        with store.transaction() as tx:
            found = trail.lookup(tx, ACCOUNT, start=0, end=2**62, filters=[("ResourceName", "i-late")])
        assert [e.event_id for e in found] == ["E-000100"]
    finally:
        writer.close()


def _summarise(store: Database) -> None:
    with store.transaction() as tx:
        trail.summarise(tx)


@pytest.mark.parametrize("traffic", ["api", "metadata"])
def test_a_running_server_summarises_blocks_and_lookup_events_finds_them(sdk: Sdk, traffic: str) -> None:
    # Events written straight into the store (2,100 of them, so at least one whole block), then
    # requests of one kind only (API calls, or metadata fetches: a worker that only serves
    # instances keeps house too): the server's housekeeping summarises the complete blocks
    # between requests, and the official SDK's LookupEvents finds an event in them by a
    # resource it named.
    store = Database(sdk.database_url)
    marker = f"i-{uuid.uuid4().hex[:12]}"
    now_ms = int(time.time() * 1000)
    metadata = Metadata(sdk.endpoint, None)
    try:
        seeded = [event(i, account=sdk.account_id) for i in range(2100)]
        for i, e in enumerate(seeded):
            e["event_id"], e["event_time"] = f"SEEDED-{uuid.uuid4()}", now_ms - 60_000 + i
        seeded[1000]["resource_names"] = marker
        with store.transaction() as tx:
            trail.record(tx, seeded)
            newest = tx.scalar(trail._NEWEST_SEQ)
        wanted_block = newest // trail.BLOCK_EVENTS - 1  # complete: an event after it exists
        deadline = time.monotonic() + 20
        while True:
            if traffic == "api":
                describe_regions(sdk)
            else:
                metadata.get("/latest/meta-data/")
            with store.transaction(write=False) as tx:
                last = tx.scalar(trail._LAST_BLOCK)
            if last is not None and last >= wanted_block:
                break
            assert time.monotonic() < deadline, f"no summary of block {wanted_block} yet (last: {last})"
            time.sleep(0.2)
    finally:
        store.close()
    found = events(sdk, ("ResourceName", marker))
    assert [e["requestId"] for e in found] == [seeded[1000]["event_id"]]
    assert events(sdk, ("ResourceName", f"{marker}-absent")) == []


def test_summaries_racing_in_two_connections_write_each_block_once(
    store: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two workers' housekeeping at the same moment: neither fails on the other's block.
    monkeypatch.setattr(trail, "BLOCK_EVENTS", 8)
    with store.transaction() as tx:
        trail.record(tx, [event(i, resources=(f"i-{i % 13}",)) for i in range(400)])
    other = Database(store.url)
    failures: list[BaseException] = []
    start = threading.Barrier(2)

    def summarise_all(database: Database) -> None:
        try:
            start.wait(10)
            while True:
                with database.transaction() as tx:
                    if trail.summarise(tx, max_blocks=2) == 0:
                        return
        except BaseException as exc:
            failures.append(exc)

    try:
        threads = [threading.Thread(target=summarise_all, args=(db,)) for db in (store, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        other.close()
    assert not failures, failures
    with store.transaction() as tx:
        blocks = [row[0] for row in tx.all(trail._BLOCK_FILTERS, {"start": 0, "end": 2**62})]
        assert blocks == list(range(len(blocks))) and len(blocks) == 400 // 8  # numbers 1-400: blocks 0-49
        found = trail.lookup(tx, ACCOUNT, start=0, end=2**62, filters=[("ResourceName", "i-5")], limit=100)
    assert len(found) == len([i for i in range(400) if i % 13 == 5])
