"""Time as ecsram sees it.

Request timestamps are always checked against the real wall clock, because clients sign with
real time. Lifetimes that ecsram itself hands out (STS credentials, metadata tokens) follow the
service clock, which a server started with ``--test-clock`` lets tests move forward
(``POST /_ecsram/clock``); the offset is kept in the store so every worker process agrees.
"""

from __future__ import annotations

import time

from ecsram.store import settings as stored_settings
from ecsram.store.sql import Tx

# 50 years either way: every time the service computes (timestamps, expiries, event times) stays
# a valid date after 1970, and no offset can overflow them.
MAX_OFFSET_SECONDS = 50 * 365 * 86400


class Clock:
    __slots__ = ("adjustable",)

    def __init__(self, *, adjustable: bool = False) -> None:
        self.adjustable = adjustable

    @staticmethod
    def wall() -> float:
        return time.time()

    def now(self, tx: Tx) -> float:
        """The service time: wall time plus the test offset, if this server allows one."""
        if not self.adjustable:
            return time.time()
        offset = stored_settings.get(tx, stored_settings.CLOCK_OFFSET)
        return time.time() + (float(offset) if offset else 0.0)

    def advance(self, tx: Tx, seconds: float) -> float:
        if not self.adjustable:
            raise PermissionError("the service clock is fixed; start the server with --test-clock")
        current = float(stored_settings.get(tx, stored_settings.CLOCK_OFFSET) or 0.0)
        if abs(current + seconds) > MAX_OFFSET_SECONDS:
            raise ValueError(f"the service clock may be moved at most {MAX_OFFSET_SECONDS} seconds either way")
        stored_settings.put(tx, stored_settings.CLOCK_OFFSET, repr(current + seconds))
        return current + seconds
