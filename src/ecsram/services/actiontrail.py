"""ActionTrail (2020-07-06): LookupEvents over the audit trail the gateway records.

An account sees its own events only; a RAM user or role session needs ``actiontrail:LookupEvents``.
Events come newest first (``Direction=Backward``, the default) or oldest first (``Forward``),
``MaxResults`` (1 to 50, default 20) at a time, with a ``NextToken`` while more match.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ecsram.contract import paging
from ecsram.contract.call import Call
from ecsram.contract.catalogue import vendor
from ecsram.contract.catalogue.params import Checked, Param
from ecsram.contract.errors import ApiError
from ecsram.contract.operation import Operation, operation
from ecsram.store import trail
from ecsram.store.times import iso

DEFAULT_RESULTS = 20
MAX_RESULTS = 50
# Without StartTime, LookupEvents looks back this far (ActionTrail keeps 90 days of events).
DEFAULT_LOOKBACK_SECONDS = 90 * 86400
MAX_ATTRIBUTES = 2  # LookupAttribute maxItems in the vendor catalogue
MAX_VALUE_LENGTH = 256
EVENT_RW_VALUES = ("Read", "Write", "All")
_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})")
_INDEX = re.compile(r"[1-9][0-9]{0,2}")


def _error(code: str, detail: str | None = None) -> ApiError:
    err = vendor.api_error("actiontrail", "LookupEvents", code)
    return ApiError(err.code, err.status, f"{err.message} {detail}" if detail else err.message)


def _time(code: str) -> Any:
    def parse(raw: str) -> int:
        if not _ISO.fullmatch(raw):
            raise _error(code, "Use ISO 8601 in UTC, e.g. 2026-11-30T10:00:00Z.")
        try:
            return int(datetime.fromisoformat(raw).timestamp() * 1000)
        except (ValueError, OverflowError):
            raise _error(code) from None

    return parse


def _max_results(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw[:4]) <= MAX_RESULTS or len(raw) > 4:
        raise _error("InvalidQueryParameter", f"MaxResults must be an integer from 1 to {MAX_RESULTS}.")
    return int(raw)


def _direction(raw: str) -> bool:
    """True for Forward (oldest first), False for Backward (newest first)."""
    if raw not in ("Forward", "Backward"):
        raise _error("InvalidQueryParameter", "Direction must be Forward or Backward.")
    return raw == "Forward"


def _next_token(raw: str) -> tuple[int, str]:
    """The cursor a NextToken carries: the last event's time and ID."""
    try:
        time_text, _, event_id = paging.decode(raw).partition("|")
        if not time_text.isascii() or not time_text.isdigit() or not event_id or len(time_text) > 18:
            raise ValueError(raw)
    except ValueError:
        raise _error("InvalidQueryParameter", "NextToken is not one this service returned.") from None
    return int(time_text), event_id


@dataclass(frozen=True, slots=True)
class LookupAttributes(Param):
    """``LookupAttribute.N.Key`` / ``.Value``: the filters, all of which an event must match."""

    def read(self, raw: Mapping[str, str]) -> Any:
        prefix = f"{self.name}."
        items: dict[str, dict[str, str]] = {}
        for key, value in raw.items():
            if not key.startswith(prefix):
                continue
            index, _, field = key[len(prefix) :].partition(".")
            if not _INDEX.fullmatch(index) or int(index) > MAX_ATTRIBUTES or field not in ("Key", "Value"):
                raise _error(
                    "InvalidQueryParameter",
                    f"Use {prefix}1.Key/Value to {prefix}{MAX_ATTRIBUTES}.Key/Value.",
                )
            items.setdefault(index, {})[field] = value
        return [items[index] for index in sorted(items, key=int)] or None

    def parse(self, raw: Any) -> Any:
        filters: list[tuple[str, str]] = []
        for item in raw:
            key, value = item.get("Key", ""), item.get("Value", "")
            if key not in trail.FILTER_KEYS:
                raise _error(
                    "InvalidQueryParameter", f"LookupAttribute Key must be one of {', '.join(trail.FILTER_KEYS)}."
                )
            if not value or len(value) > MAX_VALUE_LENGTH or "\x00" in value:
                raise _error(
                    "InvalidQueryParameter",
                    f"LookupAttribute Value must be 1 to {MAX_VALUE_LENGTH} characters.",
                )
            if key == "EventRW":
                if value not in EVENT_RW_VALUES:
                    raise _error("InvalidQueryParameter", "EventRW must be Read, Write or All.")
                if value == "All":
                    continue
            filters.append((key, value))
        return tuple(filters)


def lookup_events(call: Call) -> dict[str, Any]:
    args = call.args
    now_ms = int(call.now * 1000)
    end = args["EndTime"] if args["EndTime"] is not None else now_ms
    start = args["StartTime"] if args["StartTime"] is not None else end - DEFAULT_LOOKBACK_SECONDS * 1000
    if end < start:
        raise _error("InvalidParameterCombination")
    limit = args["MaxResults"] or DEFAULT_RESULTS
    forward = bool(args["Direction"])
    found = trail.lookup(
        call.store,
        call.caller.account_id,
        start=start,
        end=end,
        filters=args["LookupAttribute"] or (),
        forward=forward,
        after=args["NextToken"],
        limit=limit + 1,
    )
    page, more = found[:limit], len(found) > limit
    next_token = paging.encode(f"{page[-1].event_time}|{page[-1].event_id}") if more else ""
    return {
        "Events": [event.document() for event in page],
        "NextToken": next_token,
        "StartTime": iso(start // 1000),
        "EndTime": iso(end // 1000),
    }


OPERATIONS: list[Operation] = [
    operation(
        "actiontrail",
        "LookupEvents",
        lookup_events,
        params=(
            Checked("StartTime", check=_time("InvalidParameterStartTime")),
            Checked("EndTime", check=_time("InvalidParameterEndTime")),
            Checked("MaxResults", check=_max_results),
            Checked("Direction", check=_direction),
            Checked("NextToken", check=_next_token),
            LookupAttributes("LookupAttribute"),
        ),
    ),
]
