"""``--throttle RATE``: how many calls per AccessKey and action a second (or minute) may bring.

The algorithm is a token bucket per (AccessKey, action), kept in the store (table
``throttle_buckets``) so that every worker process, and every host on a shared PostgreSQL
store, takes from the same bucket. A bucket holds up to ``burst`` tokens (the RATE's count),
refills at ``per_second`` tokens a second, and a call takes one token with a single
INSERT ... ON CONFLICT DO UPDATE ... WHERE statement: atomic in the database, so the limit holds
with any number of workers. A call that finds the bucket empty is answered ``Throttling.User``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RATE = re.compile(r"([0-9]{1,7}(?:\.[0-9]{1,3})?)\s*/\s*(s|sec|second|m|min|minute|h|hour)")
_SECONDS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


@dataclass(frozen=True, slots=True)
class Rate:
    count: float
    period_seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.period_seconds

    @property
    def burst(self) -> float:
        """The bucket's size: a full period's calls may come at once."""
        return max(1.0, self.count)

    def __str__(self) -> str:
        unit = {1: "s", 60: "m", 3600: "h"}.get(int(self.period_seconds), "s")
        return f"{self.count:g}/{unit}"


def parse_rate(text: str) -> Rate:
    """``10/s``, ``600/m``, ``1000/h``; ValueError with the reason otherwise."""
    found = _RATE.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"{text[:32]!r} is not a rate: write COUNT/s, COUNT/m or COUNT/h (e.g. 10/s)")
    count = float(found.group(1))
    if count <= 0:
        raise ValueError(f"{text[:32]!r}: the count must be more than 0")
    return Rate(count, float(_SECONDS[found.group(2)]))
