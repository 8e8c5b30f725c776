"""A fault rule: what it matches, what it does, how often and until when; and its checks.

One declaration format for every way in (the ``/_ecsram/faults`` endpoint's JSON body, ``ecsram
faults add``, the ``faults:`` section of a seed file). Every field is checked before anything is
stored; a ``RuleError`` names the field and what is wrong with it.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ecsram.store.faults import StoredRule

EFFECTS = ("error", "latency", "drop")
PRODUCTS = ("ecs", "ram", "sts", "ecsram")
FIELDS = (
    "account",
    "action",
    "product",
    "instance_id",
    "effect",
    "code",
    "status",
    "message",
    "latency_ms",
    "probability",
    "count",
    "ttl_seconds",
    "expires_at",
)

# Codes whose status and message ecsram knows when the catalogue has no entry for the action.
# The messages are the vendor's (see the catalogue's ECS entries for these codes).
KNOWN_CODES: dict[str, tuple[int, str]] = {
    "Throttling": (400, "Request was denied due to request throttling."),
    "Throttling.User": (400, "Request was denied due to user flow control."),
    "Throttling.Api": (400, "Request was denied due to api flow control."),
    "ServiceUnavailable": (503, "The request has failed due to a temporary failure of the server."),
    "InternalError": (500, "The request processing has failed due to some unknown error."),
}

MAX_LATENCY_MS = 600_000
MAX_COUNT = 1_000_000
MAX_TTL_SECONDS = 366 * 24 * 3600

_ACCOUNT = re.compile(r"[0-9]{16}")
_GLOB = re.compile(r"[A-Za-z0-9*?]{1,128}")
_CODE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}(\.[A-Za-z0-9][A-Za-z0-9_\-]{0,63})*")
_INSTANCE = re.compile(r"i-[a-z0-9][a-z0-9\-]{0,62}")
_MESSAGE = re.compile(r"[\x20-\x7e]{1,512}")
_RULE_ID = re.compile(r"fr-[0-9a-f]{16}")


class RuleError(ValueError):
    """A declaration that cannot become a rule: ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def is_rule_id(text: str) -> bool:
    return _RULE_ID.fullmatch(text) is not None


def new_rule_id() -> str:
    return "fr-" + secrets.token_hex(8)


def _shown(value: Any) -> str:
    return repr(value)[:64]


def _text(raw: Mapping[str, Any], name: str, pattern: re.Pattern[str], what: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise RuleError(name, f"{_shown(value)} is not {what}")
    return value


def _integer(raw: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,12}", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RuleError(name, f"{_shown(value)} is not a whole number from {low} to {high}")
    return value


def _number(raw: Mapping[str, Any], name: str, low: float, high: float) -> float | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise RuleError(name, f"{_shown(value)} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(name, f"{_shown(value)} is not a number")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise RuleError(name, f"{_shown(value)} is not a number from {low:g} to {high:g}")
    return number


def _expiry(raw: Mapping[str, Any], now: float) -> float | None:
    ttl = _number(raw, "ttl_seconds", 0.001, MAX_TTL_SECONDS)
    value = raw.get("expires_at")
    if ttl is not None and value is not None:
        raise RuleError("expires_at", "give ttl_seconds or expires_at, not both")
    if ttl is not None:
        return now + ttl
    if value is None:
        return None
    if isinstance(value, datetime):  # YAML reads an unquoted timestamp as one
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.timestamp()
    if not isinstance(value, str) or len(value) > 40:
        raise RuleError("expires_at", f"{_shown(value)} is not a time (ISO 8601, e.g. 2026-12-01T12:00:00Z)")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RuleError("expires_at", f"{_shown(value)} is not a time (ISO 8601, e.g. 2026-12-01T12:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse(raw: Any, now: float) -> StoredRule:
    """Check a declaration (a mapping of FIELDS) and make it a rule; RuleError if it is wrong."""
    if not isinstance(raw, Mapping):
        raise RuleError("(rule)", "expected a JSON object (a mapping) of rule fields")
    for name in raw:
        if name not in FIELDS:
            raise RuleError(str(name)[:64], f"unknown field; expected one of {', '.join(FIELDS)}")
    account = _text(raw, "account", _ACCOUNT, "an account ID (16 digits)")
    action = _text(raw, "action", _GLOB, "an action name or glob (letters, digits, * and ?)") or "*"
    product = raw.get("product")
    if product is not None:
        if not isinstance(product, str) or product.lower() not in PRODUCTS:
            raise RuleError("product", f"{_shown(product)} is not one of {', '.join(PRODUCTS)}")
        product = product.lower()
    instance_id = _text(raw, "instance_id", _INSTANCE, "an instance ID (i-...)")
    effect = raw.get("effect")
    if effect is None:
        effect = "error"
    if effect not in EFFECTS:
        raise RuleError("effect", f"{_shown(effect)} is not one of {', '.join(EFFECTS)}")

    code = _text(raw, "code", _CODE, "an error code (e.g. ServiceUnavailable or Throttling.User)")
    status = _integer(raw, "status", 400, 599)
    message = _text(raw, "message", _MESSAGE, "a message (1 to 512 printable ASCII characters)")
    latency_ms = _integer(raw, "latency_ms", 0, MAX_LATENCY_MS)
    if effect == "error":
        if code is None:
            raise RuleError("code", "an error rule needs a code (e.g. ServiceUnavailable)")
        if status is None and code not in KNOWN_CODES:
            known = ", ".join(KNOWN_CODES)
            raise RuleError("status", f"give the HTTP status of {code} (ecsram knows those of {known})")
        if latency_ms is not None:
            raise RuleError("latency_ms", "only a latency rule takes latency_ms")
    else:
        for name in ("code", "status", "message"):
            if raw.get(name) is not None:
                raise RuleError(name, "only an error rule takes code, status and message")
    if effect == "latency" and latency_ms is None:
        raise RuleError("latency_ms", "a latency rule needs latency_ms (milliseconds, 0 or more)")
    if effect == "drop" and latency_ms is not None:
        raise RuleError("latency_ms", "only a latency rule takes latency_ms")

    probability = _number(raw, "probability", 0.0, 1.0)
    count = _integer(raw, "count", 1, MAX_COUNT)
    if probability is not None and count is not None:
        raise RuleError("count", "give probability or count (the next N calls), not both")
    expires_at = _expiry(raw, now)
    return StoredRule(
        rule_id=new_rule_id(),
        account_id=account,
        action=action,
        product=product,
        instance_id=instance_id,
        effect=effect,
        code=code,
        status=status,
        message=message,
        latency_ms=latency_ms,
        probability=probability,
        remaining=count,
        expires_at=expires_at,
        created_at=now,
    )


def _time(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def document(rule: StoredRule) -> dict[str, Any]:
    """The rule as the endpoint and the CLI show it."""
    shown: dict[str, Any] = {"id": rule.rule_id, "effect": rule.effect, "action": rule.action}
    optional = {
        "account": rule.account_id,
        "product": rule.product,
        "instance_id": rule.instance_id,
        "code": rule.code,
        "status": rule.status,
        "message": rule.message,
        "latency_ms": rule.latency_ms,
        "probability": rule.probability,
        "remaining": rule.remaining,
        "expires_at": None if rule.expires_at is None else _time(rule.expires_at),
    }
    shown.update({name: value for name, value in optional.items() if value is not None})
    shown["created_at"] = _time(rule.created_at)
    return shown
