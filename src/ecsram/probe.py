"""The store as /_ecsram/health (liveness) and /_ecsram/ready (readiness) report it: checked on a
connection and in a thread of their own, so that neither waits for the requests' store work nor
holds up the event loop, and answered within PROBE_TIMEOUT_SECONDS whatever the database does."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from ecsram.store.database import Database, DatabaseUnusable

# How long /_ecsram/health and /_ecsram/ready wait for the store before answering without it.
PROBE_TIMEOUT_SECONDS = 1.0
# The bound on a probe's own store calls, so that a probe thread ends even if the store never answers.
PROBE_CALL_BOUND_SECONDS = 5.0


def probe_store(url: str, *, write: bool) -> tuple[str, str | None]:
    """("ok", None), or the store's state and why: ("read-only", ...) or ("unavailable", ...).
    On a connection of its own, so that it can run beside the event loop's."""
    try:
        database = Database(url, timeout=PROBE_CALL_BOUND_SECONDS)
    except DatabaseUnusable as exc:
        return "read-only", str(exc)
    try:
        return probe_database(database, write=write)
    finally:
        database.close()


def probe_database(database: Database, *, write: bool) -> tuple[str, str | None]:
    try:
        database.check_readable()
        if write:
            database.check_writable()
    except DatabaseUnusable as exc:
        return "read-only", str(exc)
    except Exception as exc:  # whatever the reason, the store does not serve; say which
        return "unavailable", str(exc) or type(exc).__name__
    return "ok", None


class StoreProbe:
    """Checks of the store for /_ecsram/health and /_ecsram/ready that never hold up the event
    loop: each runs in a daemon thread, and a caller waits at most PROBE_TIMEOUT_SECONDS for it.
    One check of each kind runs at a time; callers that come meanwhile wait for that one.
    While the worker's own store circuit is open (a call overran --db-timeout), the answer is
    "unavailable" with its reason at once, without a check."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._running: dict[bool, asyncio.Future[tuple[str, str | None]]] = {}
        # An in-memory store exists only on the worker's own connection: probe that one, in the
        # loop (memory cannot hang).
        self.in_process: Database | None = None
        # The worker's own Database, whose circuit says the store is stuck.
        self.database: Database | None = None

    async def check(self, *, write: bool) -> tuple[str, str | None]:
        if self.database is not None and (stuck := self.database.unavailable_reason) is not None:
            return "unavailable", stuck
        if self.in_process is not None:
            return probe_database(self.in_process, write=write)
        future = self._running.get(write)
        if future is None:
            loop = asyncio.get_running_loop()
            future = self._running[write] = loop.create_future()
            future.add_done_callback(lambda _done: self._running.pop(write, None))
            threading.Thread(target=self._run, args=(loop, future, write), daemon=True, name="store-probe").start()
        try:
            return await asyncio.wait_for(asyncio.shield(future), PROBE_TIMEOUT_SECONDS)
        except TimeoutError:
            return "unavailable", f"the store did not answer within {PROBE_TIMEOUT_SECONDS:g} s"

    def _run(
        self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[tuple[str, str | None]], write: bool
    ) -> None:
        result = probe_store(self.url, write=write)

        def settle() -> None:
            if not future.done():
                future.set_result(result)

        with contextlib.suppress(RuntimeError):  # the worker is shutting down and its loop has closed
            loop.call_soon_threadsafe(settle)
