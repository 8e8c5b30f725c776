"""Parameter specs: what an operation accepts, checked before any handler runs.

Each ``Param`` turns one raw query/form string into a typed value or raises the ``ApiError``
the cloud gives for it. Operations take most of their specs from the vendor catalogue
(``catalogue.vendor``) and override the few whose rules the catalogue does not carry.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from ecsram.contract import errors
from ecsram.contract.errors import ApiError

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
_INTEGER = re.compile(r"-?[0-9]{1,19}")
_DIGITS = re.compile(r"[0-9]+")
# NUL (which PostgreSQL cannot store), the other C0 control characters but TAB, LF and CR, and DEL.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def has_control_character(text: str) -> bool:
    """Whether ``text`` holds a character no stored name or value may hold (the wire refuses them
    in parameters; this is for strings decoded from JSON, where ``\\u0000`` spells one)."""
    return _CONTROL.search(text) is not None


# Larger than any list's limit: what an index of more digits than an int64 holds counts as.
HUGE_INDEX = 10**18


def list_index(text: str) -> int | None:
    """The N of a ``Name.N`` parameter, or None unless it is ASCII digits (``str.isdigit`` also
    takes '²', which ``int`` refuses). An index of more than 18 digits counts as ``HUGE_INDEX``."""
    if not _DIGITS.fullmatch(text):
        return None
    return int(text) if len(text) <= 18 else HUGE_INDEX


@dataclass(frozen=True, slots=True)
class Param:
    """A parameter: its name, whether it is required, and how its raw text is checked."""

    name: str
    required: bool = False
    default: Any = None
    # Checked after every other parameter (e.g. the region: its error is a 404 that the cloud
    # reports only once the request is otherwise well-formed).
    late: bool = False
    # A blank value counts as absent unless the parameter says a blank is itself invalid.
    blank_is_absent: bool = True

    def read(self, raw: Mapping[str, str]) -> Any:
        """The raw value of this parameter in the request, or None when absent."""
        value = raw.get(self.name)
        if value == "" and self.blank_is_absent:
            return None
        return value

    def parse(self, raw: Any) -> Any:
        return raw

    def invalid(self, reason: str | None = None) -> ApiError:
        return errors.invalid_parameter(self.name, reason)


@dataclass(frozen=True, slots=True)
class String(Param):
    min_length: int = 0
    max_length: int | None = None
    choices: tuple[str, ...] | None = None
    pattern: re.Pattern[str] | None = None
    pattern_hint: str = ""

    def parse(self, raw: Any) -> Any:
        if len(raw) < self.min_length:
            raise self.invalid(f"It must be at least {self.min_length} characters long.")
        if self.max_length is not None and len(raw) > self.max_length:
            raise self.invalid(f"It must be at most {self.max_length} characters long.")
        if self.choices is not None and raw not in self.choices:
            raise self.invalid(f"It must be one of: {', '.join(self.choices)}.")
        if self.pattern is not None and not self.pattern.fullmatch(raw):
            raise self.invalid(self.pattern_hint or None)
        return raw


@dataclass(frozen=True, slots=True)
class Integer(Param):
    minimum: int = INT64[0]
    maximum: int = INT64[1]

    def parse(self, raw: Any) -> Any:
        if not _INTEGER.fullmatch(raw):
            raise self.invalid("It must be an integer.")
        value = int(raw)
        if not self.minimum <= value <= self.maximum:
            raise self.invalid(f"It must be between {self.minimum} and {self.maximum}.")
        return value


@dataclass(frozen=True, slots=True)
class Boolean(Param):
    def parse(self, raw: Any) -> Any:
        lowered = raw.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
        raise self.invalid("It must be true or false.")


@dataclass(frozen=True, slots=True)
class Number(Param):
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, raw: Any) -> Any:
        try:
            value = float(raw)
        except ValueError:
            raise self.invalid("It must be a number.") from None
        if not math.isfinite(value):
            raise self.invalid("It must be a finite number.")
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            raise self.invalid(f"It must be between {self.minimum} and {self.maximum}.")
        return value


@dataclass(frozen=True, slots=True)
class JsonStringList(Param):
    """A JSON array of strings sent as one string parameter, e.g. ``InstanceIds=["i-a","i-b"]``.

    Duplicates are removed (first occurrence kept); the result is a tuple in request order.
    """

    min_items: int = 1
    max_items: int = 100
    max_item_length: int = 128
    error: Callable[[], ApiError] | None = None

    def invalid(self, reason: str | None = None) -> ApiError:
        return self.error() if self.error is not None else errors.invalid_parameter(self.name, reason)

    def parse(self, raw: Any) -> Any:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise self.invalid("It must be a JSON array of strings.") from None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.invalid("It must be a JSON array of strings.")
        if not self.min_items <= len(value) <= self.max_items:
            raise self.invalid(f"It must hold between {self.min_items} and {self.max_items} items.")
        if any(not item or len(item) > self.max_item_length or has_control_character(item) for item in value):
            raise self.invalid(f"Each item must be a non-empty string of at most {self.max_item_length} characters.")
        return tuple(dict.fromkeys(value))


@dataclass(frozen=True, slots=True)
class FlatList(Param):
    """A list sent flattened as ``Name.1``, ``Name.2``, ... (how RPC clients send array parameters).

    Duplicates are removed (first occurrence kept); the result is a tuple in index order.
    """

    max_items: int = 100
    max_item_length: int = 128

    def read(self, raw: Mapping[str, str]) -> Any:
        prefix = f"{self.name}."
        items = [(key[len(prefix) :], value) for key, value in raw.items() if key.startswith(prefix)]
        if not items:
            return None
        indexed = [(list_index(index), value) for index, value in items]
        if not all(index is not None and 1 <= index <= self.max_items for index, _ in indexed):
            raise self.invalid(f"Use {self.name}.1 to {self.name}.{self.max_items}.")
        return [value for _index, value in sorted(indexed, key=lambda item: item[0] or 0)]

    def parse(self, raw: Any) -> Any:
        values: list[str] = raw
        if any(not value or len(value) > self.max_item_length for value in values):
            raise self.invalid(f"Each item must be a non-empty string of at most {self.max_item_length} characters.")
        return tuple(dict.fromkeys(values))


@dataclass(frozen=True, slots=True)
class Checked(Param):
    """A parameter checked by a function that returns the value or raises ``ApiError``."""

    check: Callable[[str], Any] = field(default=lambda raw: raw)

    def parse(self, raw: Any) -> Any:
        return self.check(raw)


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """An operation's parameters, in the order they are checked."""

    params: tuple[Param, ...]

    def __post_init__(self) -> None:
        ordered = tuple(p for p in self.params if not p.late) + tuple(p for p in self.params if p.late)
        object.__setattr__(self, "params", ordered)

    def validate(self, raw: Mapping[str, str]) -> dict[str, Any]:
        """Missing required parameters first (in declaration order), then each value."""
        values = [(param, param.read(raw)) for param in self.params]
        for param, value in values:
            if param.required and (value is None or value == ""):
                raise errors.missing_parameter(param.name)
        return {param.name: param.default if value is None else param.parse(value) for param, value in values}


def replace_params(base: Sequence[Param], overrides: Sequence[Param]) -> tuple[Param, ...]:
    """``base`` with each override taking the place of the same-named param (or appended)."""
    by_name = {p.name: p for p in overrides}
    merged = [by_name.pop(p.name, p) for p in base]
    merged.extend(by_name.values())
    return tuple(merged)
