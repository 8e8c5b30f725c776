"""RAM policy condition operators: value checking at parse time, and evaluation against a request context.

Pure functions, no I/O. ``prepare`` turns an operator's policy values (strings) into the form the operator
compares against (floats, epoch seconds, networks, compiled globs) and refuses values that do not suit the
operator; ``holds`` decides one condition key against the request context.

Semantics worth knowing:

* The values listed for one key are alternatives (OR). If the context holds several values for the key (a
  list, tuple, set or frozenset), a positive operator holds when any context value matches any policy value.
* Every negated operator (StringNot*, NumericNotEquals, DateNotEquals, NotIpAddress) is the exact complement
  of its positive counterpart. So a key absent from the context (or present as ``None`` or an empty list)
  makes positive operators false and negated operators true, and a context value that cannot be read as the
  operator's type (e.g. ``"abc"`` for IpAddress) never matches: false for the positive operator, true for the
  negated one.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import TypeAlias

__all__ = [
    "SUPPORTED_OPERATORS",
    "ConditionValueError",
    "compile_glob",
    "holds",
    "parse_date",
    "parse_number",
    "prepare",
]

_Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


class ConditionValueError(ValueError):
    """A condition operator is unknown or one of its values does not suit it; str() is the reason."""


# Decimal numbers only: float() alone would also take "nan", "inf", "1_000" and surrounding blanks.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def parse_number(text: str) -> float | None:
    """A finite decimal number, or None when the text is not one."""
    if not _NUMBER.fullmatch(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def parse_date(text: str) -> float | None:
    """Epoch seconds from ISO 8601 text (naive times are UTC) or from a decimal epoch; None when neither."""
    number = parse_number(text)
    if number is not None:
        return number
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    except (ValueError, OverflowError):
        return None


def _glob_body(pattern: str) -> str:
    """Regex source for a glob where ``*`` is any run of characters and ``?`` exactly one.

    Each literal chunk between stars is wrapped as ``(?>.*?chunk)``: the atomic group commits to the
    leftmost occurrence, which is always a correct choice for globs and keeps matching linear in the number
    of stars instead of letting ``.*a.*a.*a`` backtrack polynomially on hostile input.
    """

    def literal(chunk: str) -> str:
        return ".".join(re.escape(part) for part in chunk.split("?"))

    chunks = pattern.split("*")
    if len(chunks) == 1:
        return literal(pattern)
    middle = "".join(f"(?>.*?{literal(chunk)})" for chunk in chunks[1:-1] if chunk)
    return f"{literal(chunks[0])}{middle}.*{literal(chunks[-1])}"


@lru_cache(maxsize=4096)
def compile_glob(patterns: tuple[str, ...], ignore_case: bool) -> re.Pattern[str]:
    """One regex (use with fullmatch) matching any of the glob patterns; cached because policies repeat them."""
    if not patterns:
        return re.compile("(?!)")  # no patterns: matches nothing
    flags = re.DOTALL | (re.IGNORECASE | re.ASCII if ignore_case else 0)
    return re.compile("|".join(f"(?:{_glob_body(pattern)})" for pattern in patterns), flags)


# --- value preparation (parse time) -------------------------------------------------------------------


def _prepare_numbers(operator: str, values: tuple[str, ...]) -> tuple[object, ...]:
    parsed: list[float] = []
    for value in values:
        number = parse_number(value)
        if number is None:
            raise ConditionValueError(f"{operator} needs finite numbers, not {value!r}")
        parsed.append(number)
    return tuple(parsed)


def _prepare_dates(operator: str, values: tuple[str, ...]) -> tuple[object, ...]:
    parsed: list[float] = []
    for value in values:
        moment = parse_date(value)
        if moment is None:
            raise ConditionValueError(
                f"{operator} needs ISO 8601 times such as 2026-01-01T00:00:00Z or epoch seconds, not {value!r}"
            )
        parsed.append(moment)
    return tuple(parsed)


def _prepare_bools(operator: str, values: tuple[str, ...]) -> tuple[object, ...]:
    parsed: list[str] = []
    for value in values:
        lowered = value.lower()
        if lowered not in ("true", "false"):
            raise ConditionValueError(f"{operator} needs true or false, not {value!r}")
        parsed.append(lowered)
    return tuple(parsed)


def _prepare_networks(operator: str, values: tuple[str, ...]) -> tuple[object, ...]:
    parsed: list[_Network] = []
    for value in values:
        try:
            # strict=False: "10.1.2.3/8" means 10.0.0.0/8, as address-with-prefix notation usually does.
            parsed.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ConditionValueError(f"{operator} needs IPv4/IPv6 addresses or CIDR blocks, not {value!r}") from None
    return tuple(parsed)


def _prepare_strings(operator: str, values: tuple[str, ...]) -> tuple[object, ...]:
    return values


def _prepare_folded(operator: str, values: tuple[str, ...]) -> tuple[object, ...]:
    return tuple(value.casefold() for value in values)


def _prepare_globs(operator: str, values: tuple[str, ...]) -> tuple[object, ...]:
    return (compile_glob(values, False),)


# --- context readers (evaluation time): None means "cannot be read as this type" -------------------------


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _as_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return parse_number(value)
    return None


def _as_epoch(value: object) -> float | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, str):
        return parse_date(value)
    return _as_number(value)


def _as_bool(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.lower()
    return None


def _as_address(value: object) -> _Address | None:
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        address: _Address = value
    elif isinstance(value, str):
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return None
    else:
        return None
    # A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; compare those as the IPv4 address.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


# --- positive tests: one context value against the prepared policy values -------------------------------


def _string_equals(value: object, prepared: tuple[object, ...]) -> bool:
    return _as_text(value) in prepared


def _string_equals_folded(value: object, prepared: tuple[object, ...]) -> bool:
    return _as_text(value).casefold() in prepared


def _string_like(value: object, prepared: tuple[object, ...]) -> bool:
    pattern = prepared[0]
    assert isinstance(pattern, re.Pattern)
    return pattern.fullmatch(_as_text(value)) is not None


def _ordered(
    reader: Callable[[object], float | None], compare: Callable[[float, float], bool]
) -> Callable[[object, tuple[object, ...]], bool]:
    """A test reading the context value with ``reader`` and comparing it (left) with each policy value."""

    def test(value: object, prepared: tuple[object, ...]) -> bool:
        number = reader(value)
        if number is None:
            return False
        return any(compare(number, bound) for bound in prepared if isinstance(bound, float))

    return test


def _bool_equals(value: object, prepared: tuple[object, ...]) -> bool:
    text = _as_bool(value)
    return text is not None and text in prepared


def _in_network(value: object, prepared: tuple[object, ...]) -> bool:
    address = _as_address(value)
    if address is None:
        return False
    return any(
        isinstance(network, ipaddress.IPv4Network | ipaddress.IPv6Network)
        and network.version == address.version
        and address in network
        for network in prepared
    )


def _eq(left: float, right: float) -> bool:
    return left == right


def _lt(left: float, right: float) -> bool:
    return left < right


def _le(left: float, right: float) -> bool:
    return left <= right


def _gt(left: float, right: float) -> bool:
    return left > right


def _ge(left: float, right: float) -> bool:
    return left >= right


@dataclass(frozen=True, slots=True)
class _Operator:
    prepare: Callable[[str, tuple[str, ...]], tuple[object, ...]]
    test: Callable[[object, tuple[object, ...]], bool]
    negated: bool


def _table() -> Mapping[str, _Operator]:
    ops: dict[str, _Operator] = {}

    def pair(
        positive: str, negative: str | None, prep: Callable[..., tuple[object, ...]], test: Callable[..., bool]
    ) -> None:
        ops[positive] = _Operator(prep, test, negated=False)
        if negative is not None:
            ops[negative] = _Operator(prep, test, negated=True)

    pair("StringEquals", "StringNotEquals", _prepare_strings, _string_equals)
    pair("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", _prepare_folded, _string_equals_folded)
    pair("StringLike", "StringNotLike", _prepare_globs, _string_like)
    pair("NumericEquals", "NumericNotEquals", _prepare_numbers, _ordered(_as_number, _eq))
    pair("NumericLessThan", None, _prepare_numbers, _ordered(_as_number, _lt))
    pair("NumericLessThanEquals", None, _prepare_numbers, _ordered(_as_number, _le))
    pair("NumericGreaterThan", None, _prepare_numbers, _ordered(_as_number, _gt))
    pair("NumericGreaterThanEquals", None, _prepare_numbers, _ordered(_as_number, _ge))
    pair("DateEquals", "DateNotEquals", _prepare_dates, _ordered(_as_epoch, _eq))
    pair("DateLessThan", None, _prepare_dates, _ordered(_as_epoch, _lt))
    pair("DateLessThanEquals", None, _prepare_dates, _ordered(_as_epoch, _le))
    pair("DateGreaterThan", None, _prepare_dates, _ordered(_as_epoch, _gt))
    pair("DateGreaterThanEquals", None, _prepare_dates, _ordered(_as_epoch, _ge))
    pair("Bool", None, _prepare_bools, _bool_equals)
    pair("IpAddress", "NotIpAddress", _prepare_networks, _in_network)
    return MappingProxyType(ops)


_OPERATORS = _table()

SUPPORTED_OPERATORS: frozenset[str] = frozenset(_OPERATORS)


def prepare(operator: str, values: tuple[str, ...]) -> tuple[object, ...]:
    """The operator's policy values in comparable form; ConditionValueError if unknown or unsuitable."""
    spec = _OPERATORS.get(operator)
    if spec is None:
        raise ConditionValueError(f"unknown condition operator {operator!r}")
    return spec.prepare(operator, values)


_MULTI = (list, tuple, set, frozenset)


def holds(operator: str, prepared: tuple[object, ...], context: Mapping[str, object], key: str) -> bool:
    """Whether the condition ``operator`` on ``key`` with ``prepared`` values holds in ``context``."""
    spec = _OPERATORS[operator]
    value = context.get(key)
    if value is None:
        # Absent key: nothing can match, so positive operators fail and negated ones succeed.
        return spec.negated
    if isinstance(value, _MULTI):
        matched = any(spec.test(item, prepared) for item in value if item is not None)
    else:
        matched = spec.test(value, prepared)
    return matched != spec.negated
