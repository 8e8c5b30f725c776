"""What ECS and RAM tagging share: the rules for keys and values, and the parameters that carry tags.

ECS sends tags flattened (``Tag.N.Key`` / ``Tag.N.Value``, ``ResourceId.N``, ``TagKey.N``); RAM sends
them as JSON strings (``Tag=[{"Key":..,"Value":..}]``, ``ResourceNames=[..]``, ``TagKeys=[..]``). Both
refuse keys that start with ``aliyun`` or ``acs:`` and keys or values that contain ``http://`` or
``https://`` (the vendor's documented rules); each product supplies its own error codes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ecsram.contract import paging
from ecsram.contract.catalogue.params import FlatList, Param, has_control_character, list_index
from ecsram.contract.errors import ApiError

MAX_TAGS_PER_RESOURCE = 20
MAX_KEY_LENGTH = 128
_RESERVED_PREFIXES = ("aliyun", "acs:")
_URL_MARKERS = ("http://", "https://")

# A tag as a request gives it: (key, value); a filter's value may be None (any value).
Pair = tuple[str, str]
Filter = tuple[str, str | None]


@dataclass(frozen=True, slots=True)
class TagErrors:
    """A product's errors for bad tags."""

    too_many: Callable[[], ApiError]
    bad_key: Callable[[str], ApiError]
    bad_value: Callable[[str], ApiError]
    duplicate_key: Callable[[str], ApiError]
    # A value given without its key (ECS ``Tag.N.Value`` alone), or a malformed item.
    mismatch: Callable[[], ApiError]


def _has_url(text: str) -> bool:
    lowered = text.lower()
    return any(marker in lowered for marker in _URL_MARKERS)


def check_key(key: str, errors: TagErrors, *, reserved: bool = True) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or _has_url(key) or has_control_character(key):
        raise errors.bad_key(key)
    if reserved and key.lower().startswith(_RESERVED_PREFIXES):
        raise errors.bad_key(key)
    return key


def check_value(value: str, errors: TagErrors, max_length: int) -> str:
    if len(value) > max_length or _has_url(value) or has_control_character(value):
        raise errors.bad_value(value)
    return value


def checked_tags(
    items: list[tuple[str | None, str | None]], errors: TagErrors, *, max_tags: int, value_max: int
) -> tuple[Pair, ...]:
    """Tags to set: each needs a key; a missing value is the empty string; keys unique."""
    if len(items) > max_tags:
        raise errors.too_many()
    seen: set[str] = set()
    pairs: list[Pair] = []
    for key, value in items:
        if key is None:
            raise errors.mismatch()
        check_key(key, errors)
        if key in seen:
            raise errors.duplicate_key(key)
        seen.add(key)
        pairs.append((key, check_value(value or "", errors, value_max)))
    return tuple(pairs)


def checked_filters(
    items: list[tuple[str | None, str | None]], errors: TagErrors, *, max_tags: int, value_max: int
) -> tuple[Filter, ...]:
    """Tag filters: each needs a key (reserved prefixes allowed, as filters only read); the value
    may be absent, meaning any value."""
    if len(items) > max_tags:
        raise errors.too_many()
    filters: list[Filter] = []
    for key, value in items:
        if key is None:
            raise errors.mismatch()
        check_key(key, errors, reserved=False)
        filters.append((key, None if value is None else check_value(value, errors, value_max)))
    return tuple(filters)


def matching_resources(tags_by_resource: Mapping[str, Mapping[str, str]], filters: tuple[Filter, ...]) -> set[str]:
    """The resources carrying every filter's key (and its value, when the filter names one)."""
    return {
        resource
        for resource, carried in tags_by_resource.items()
        if all(key in carried and (value is None or carried[key] == value) for key, value in filters)
    }


# --- ECS: flattened parameters ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlatTags(FlatList):
    """``Tag.N.Key`` / ``Tag.N.Value``: tags to set, or (``filters``) tag filters."""

    tag_errors: TagErrors | None = None
    filters: bool = False
    value_max: int = 128

    def read(self, raw: Mapping[str, str]) -> Any:
        prefix = f"{self.name}."
        items = [(key[len(prefix) :], value) for key, value in raw.items() if key.startswith(prefix)]
        return items or None

    def parse(self, raw: Any) -> Any:
        assert self.tag_errors is not None
        by_index: dict[int, dict[str, str]] = {}
        for suffix, value in raw:
            text, _, field = suffix.partition(".")
            index = list_index(text)
            if index is None or index < 1 or field not in ("Key", "Value"):
                raise self.invalid(f"Use {self.name}.N.Key and {self.name}.N.Value, N from 1.")
            if index > self.max_items:
                raise self.tag_errors.too_many()
            by_index.setdefault(index, {})[field] = value
        items = [(entry.get("Key"), entry.get("Value")) for _index, entry in sorted(by_index.items())]
        check = checked_filters if self.filters else checked_tags
        return check(items, self.tag_errors, max_tags=self.max_items, value_max=self.value_max)


@dataclass(frozen=True, slots=True)
class FlatStrings(FlatList):
    """``Name.N`` strings (``ResourceId.N``, ``TagKey.N``) with the product's error for too many."""

    too_many: Callable[[], ApiError] | None = None

    def read(self, raw: Mapping[str, str]) -> Any:
        prefix = f"{self.name}."
        items = [(key[len(prefix) :], value) for key, value in raw.items() if key.startswith(prefix)]
        if not items:
            return None
        indexed = [(list_index(index), value) for index, value in items]
        if not all(index is not None and index >= 1 for index, _ in indexed):
            raise self.invalid(f"Use {self.name}.1, {self.name}.2, ...")
        if self.too_many is not None and (
            len(items) > self.max_items or any((index or 0) > self.max_items for index, _ in indexed)
        ):
            raise self.too_many()
        return [value for _index, value in sorted(indexed, key=lambda item: item[0] or 0)]


# --- RAM: JSON parameters ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JsonTags(Param):
    """``Tag=[{"Key": "k", "Value": "v"}, ...]``: tags to set, or (``filters``) tag filters."""

    tag_errors: TagErrors | None = None
    filters: bool = False
    max_items: int = MAX_TAGS_PER_RESOURCE
    value_max: int = 256

    def parse(self, raw: Any) -> Any:
        assert self.tag_errors is not None
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise self.tag_errors.mismatch() from None
        if not isinstance(value, list) or not value:
            raise self.tag_errors.mismatch()
        items: list[tuple[str | None, str | None]] = []
        for item in value:
            if not isinstance(item, dict) or set(item) - {"Key", "Value"}:
                raise self.tag_errors.mismatch()
            key, tag_value = item.get("Key"), item.get("Value")
            if not isinstance(key, str | None) or not isinstance(tag_value, str | None):
                raise self.tag_errors.mismatch()
            if not self.filters and tag_value is None:
                raise self.tag_errors.mismatch()
            items.append((key, tag_value))
        check = checked_filters if self.filters else checked_tags
        return check(items, self.tag_errors, max_tags=self.max_items, value_max=self.value_max)


def position_token(resource_id: str, key: str) -> str:
    """The NextToken of a ListTagResources page that ended at (resource, key)."""
    return paging.encode(orjson.dumps([resource_id, key]).decode())


def read_position(raw: str) -> tuple[str, str] | None:
    """The (resource, key) a ListTagResources NextToken carries; None if it is not one of ours."""
    try:
        position = orjson.loads(paging.decode(raw))
    except (ValueError, orjson.JSONDecodeError):
        return None
    if not (isinstance(position, list) and len(position) == 2 and all(isinstance(p, str) for p in position)):
        return None
    if any(has_control_character(p) for p in position):
        return None
    return position[0], position[1]
