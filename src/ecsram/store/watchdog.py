"""A watchdog thread that breaks store calls which overrun their deadline.

A store call runs on the worker's event loop, so a database that stops answering (a frozen
PostgreSQL, a SQLite file whose write lock another process holds) would hold the whole worker.
Arming a deadline is one attribute write: before a transaction the database sets
``deadline = monotonic() + timeout``, and clears it afterwards. One daemon thread per process
looks at every armed deadline each ``TICK_SECONDS`` and, once one has passed, calls that
guarded object's ``overdue()`` (once per deadline), which breaks the call from outside (see
``Database._overdue``). So a stuck call holds its thread at most ``timeout + TICK_SECONDS``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from typing import Protocol

log = logging.getLogger("ecsram.store")

# How often the watchdog looks at the armed deadlines: the most a call can overrun its bound.
TICK_SECONDS = 0.05


class Guarded(Protocol):
    # monotonic() time by which the current call must end; 0.0 while no call runs.
    deadline: float

    def overdue(self) -> None:
        """Break the current call (called from the watchdog thread, once per deadline)."""


class _Entry:
    __slots__ = ("fired", "ref")

    def __init__(self, guarded: Guarded) -> None:
        self.ref = weakref.ref(guarded)
        self.fired = 0.0  # the deadline overdue() was last called for


class Watchdog:
    def __init__(self) -> None:
        # Replaced whole (never changed in place), so that the thread reads it without a lock.
        self._watched: tuple[_Entry, ...] = ()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def watch(self, guarded: Guarded) -> None:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's thread is not here
                self._thread, self._pid = None, os.getpid()
            alive = tuple(entry for entry in self._watched if entry.ref() is not None)
            self._watched = (*alive, _Entry(guarded))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ecsram-store-watchdog", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        # Kept cheap: it runs TICK_SECONDS apart for the life of the process, busy or idle.
        while True:
            time.sleep(TICK_SECONDS)
            now = time.monotonic()
            for entry in self._watched:
                guarded = entry.ref()
                if guarded is None:
                    continue
                deadline = guarded.deadline
                if deadline and now > deadline and entry.fired != deadline:
                    entry.fired = deadline
                    try:
                        guarded.overdue()
                    except Exception:  # the watchdog must keep watching the others
                        log.exception("breaking an overdue store call failed")
                del guarded


WATCHDOG = Watchdog()
