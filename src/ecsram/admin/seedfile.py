"""Reading a seed file: YAML (or JSON, which YAML reads too) into checked, typed declarations.

Every value keeps the line it came from (PyYAML's node marks), so that an error, here or when
the declarations are applied, names the file, the line and the field: ``seed.yaml:14:
accounts[0].roles[1].trust: ...``. A seed kept in the store for reset is read back from its
JSON form, without lines; errors then name the field alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from ecsram.contract.catalogue.params import has_control_character
from ecsram.faults.rules import RuleError, parse

Path_ = tuple[str | int, ...]

_ACCOUNT_ID = re.compile(r"[0-9]{16}")
_INSTANCE_ID = re.compile(r"i-[a-z0-9][a-z0-9\-]{0,29}")
_POLICY_TYPES = ("System", "Custom")
_STATUSES = ("Running", "Stopped")
_KEY_STATUSES = ("Active", "Inactive")


class SeedError(ValueError):
    """A seed file that cannot be applied; the message names the file, line and field."""


def describe_path(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


class Located:
    """Plain data from a seed file, with the line of each value (1-based; 0 when unknown)."""

    def __init__(self, source: str, lines: dict[Path_, int]) -> None:
        self.source = source
        self.lines = lines

    def line(self, path: Path_) -> int:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 0)

    def error(self, path: Path_, message: str) -> SeedError:
        line = self.line(path)
        where = f"{self.source}:{line}" if line else self.source
        return SeedError(f"{where}: {describe_path(path)}: {message}")


# --- parsing ----------------------------------------------------------------------------------


def _plain(node: yaml.Node, path: Path_, lines: dict[Path_, int], source: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise SeedError(f"{source}:{key_node.start_mark.line + 1}: a key must be a plain name")
            key = str(key_node.value)
            if key in out:
                raise SeedError(f"{source}:{key_node.start_mark.line + 1}: {describe_path((*path, key))}: given twice")
            out[key] = _plain(value_node, (*path, key), lines, source)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, (*path, index), lines, source) for index, item in enumerate(node.value)]
    # Scalars: let YAML resolve the tag (ints, bools, null), as a loader would.
    return yaml.safe_load(yaml.serialize(node))


def parse_text(text: str, source: str) -> tuple[Any, Located]:
    """The plain data of a YAML/JSON document and where each value is."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise SeedError(f"{source}{line}: not valid YAML or JSON: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise SeedError(f"{source}: not valid YAML or JSON: {exc}") from None
    lines: dict[Path_, int] = {}
    if node is None:
        raise SeedError(f"{source}: the file is empty")
    data = _plain(node, (), lines, source)
    return data, Located(source, lines)


def read_file(path: str | Path) -> Seed:
    """Read and check a seed file; SeedError names what is wrong and where."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError(f"{path}: cannot read the seed file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SeedError(f"{path}: the seed file is not UTF-8 text") from None
    data, located = parse_text(text, str(path))
    return check(data, located)


def from_stored(document: str) -> Seed:
    """A seed kept in the store (its JSON form), read back for reset."""
    return check(orjson.loads(document), Located("stored seed", {}))


# --- declarations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyDecl:
    path: Path_
    access_key_id: str
    secret: str
    status: str = "Active"


@dataclass(frozen=True)
class PolicyRef:
    path: Path_
    policy_type: str
    name: str


@dataclass(frozen=True)
class PolicyDecl:
    path: Path_
    name: str
    description: str
    document: str


@dataclass(frozen=True)
class RoleDecl:
    path: Path_
    name: str
    description: str
    trust: str | None
    max_session_duration: int | None
    policies: tuple[PolicyRef, ...]


@dataclass(frozen=True)
class GroupDecl:
    path: Path_
    name: str
    comments: str
    policies: tuple[PolicyRef, ...]


@dataclass(frozen=True)
class UserDecl:
    path: Path_
    name: str
    display_name: str | None
    comments: str
    keys: tuple[KeyDecl, ...]
    groups: tuple[tuple[Path_, str], ...]
    policies: tuple[PolicyRef, ...]


@dataclass(frozen=True)
class InstanceDecl:
    path: Path_
    instance_id: str
    region: str
    name: str | None
    image_id: str
    instance_type: str
    vswitch_id: str | None
    status: str
    role: str | None
    role_policy: str | None


@dataclass(frozen=True)
class AccountDecl:
    path: Path_
    account_id: str
    root_keys: tuple[KeyDecl, ...]
    policies: tuple[PolicyDecl, ...]
    roles: tuple[RoleDecl, ...]
    groups: tuple[GroupDecl, ...]
    users: tuple[UserDecl, ...]
    instances: tuple[InstanceDecl, ...]
    # The account's part of the file as plain data: what the store keeps for reset.
    plain: dict[str, Any] = field(compare=False)


@dataclass(frozen=True)
class FaultDecl:
    """A fault rule (docs/faults.md), checked; made a rule with the time it is applied at."""

    path: Path_
    index: int
    plain: dict[str, Any]


@dataclass(frozen=True)
class Seed:
    located: Located
    accounts: tuple[AccountDecl, ...]
    faults: tuple[FaultDecl, ...] = ()


DEFAULT_IMAGE = "aliyun_3_x64_20G_alibase_20240819.vhd"
DEFAULT_INSTANCE_TYPE = "ecs.g7.large"
DEFAULT_VSWITCH = "vsw-ecsram-seed"


class _Reader:
    """Type and shape checks, each failing with the path (and so the line) of the value."""

    def __init__(self, located: Located) -> None:
        self.located = located

    def mapping(
        self, value: Any, path: Path_, allowed: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.located.error(path, f"expected a mapping with {', '.join(allowed)}")
        for key in value:
            if key not in allowed:
                raise self.located.error((*path, key), f"unknown field {key!r}; expected one of {', '.join(allowed)}")
        for key in required:
            if value.get(key) is None:
                raise self.located.error(path, f"{key!r} is required")
        return value

    def items(self, value: Any, path: Path_) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.located.error(path, "expected a list")
        return value

    def text(self, value: Any, path: Path_, *, default: str | None = None, choices: tuple[str, ...] = ()) -> str:
        if value is None:
            if default is None:
                raise self.located.error(path, "a value is required")
            return default
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.located.error(path, "expected text")
        text = str(value)
        if has_control_character(text):  # a YAML "\0" would otherwise reach the store
            raise self.located.error(path, "text may not hold a control character (only TAB, LF and CR)")
        if choices and text not in choices:
            raise self.located.error(path, f"{text!r} is not one of {', '.join(choices)}")
        return text

    def optional_text(self, value: Any, path: Path_) -> str | None:
        return None if value is None else self.text(value, path)

    def document(self, value: Any, path: Path_) -> str:
        """A policy document: a mapping (written as JSON for the API) or a JSON string."""
        if isinstance(value, dict):
            return orjson.dumps(value).decode()
        if isinstance(value, str):
            try:
                parsed = orjson.loads(value)
            except orjson.JSONDecodeError:
                raise self.located.error(path, "expected a policy document: a mapping, or JSON text") from None
            if not isinstance(parsed, dict):
                raise self.located.error(path, "a policy document is a JSON object")
            return value
        raise self.located.error(path, "expected a policy document: a mapping, or JSON text")

    def key(self, value: Any, path: Path_) -> KeyDecl:
        item = self.mapping(value, path, ("id", "secret", "status"), ("id", "secret"))
        return KeyDecl(
            path,
            self.text(item["id"], (*path, "id")),
            self.text(item["secret"], (*path, "secret")),
            self.text(item.get("status"), (*path, "status"), default="Active", choices=_KEY_STATUSES),
        )

    def policy_refs(self, value: Any, path: Path_, custom_names: set[str]) -> tuple[PolicyRef, ...]:
        refs = []
        for index, item in enumerate(self.items(value, path)):
            where = (*path, index)
            if isinstance(item, dict):
                ref = self.mapping(item, where, ("name", "type"), ("name",))
                name = self.text(ref["name"], (*where, "name"))
                default_type = "Custom" if name.lower() in custom_names else "System"
                kind = self.text(ref.get("type"), (*where, "type"), default=default_type, choices=_POLICY_TYPES)
            else:
                text = self.text(item, where)
                kind, sep, name = text.partition(":")
                if not sep:
                    kind, name = ("Custom" if text.lower() in custom_names else "System"), text
                elif kind not in _POLICY_TYPES:
                    raise self.located.error(where, f"{text!r}: write System:NAME, Custom:NAME or just NAME")
            refs.append(PolicyRef(where, kind, name))
        return tuple(refs)


def check(data: Any, located: Located) -> Seed:
    reader = _Reader(located)
    top = reader.mapping(data, (), ("accounts", "faults"))
    if top.get("accounts") is None and top.get("faults") is None:
        raise located.error((), "'accounts' is required (or a 'faults' section)")
    declared: list[AccountDecl] = []
    seen_accounts: set[str] = set()
    for index, raw in enumerate(reader.items(top.get("accounts"), ("accounts",))):
        account = _account(reader, raw, ("accounts", index))
        if account.account_id in seen_accounts:
            raise located.error((*account.path, "id"), f"account {account.account_id} is declared twice")
        seen_accounts.add(account.account_id)
        declared.append(account)
    faults = tuple(
        _fault(reader, raw, ("faults", index), index)
        for index, raw in enumerate(reader.items(top.get("faults"), ("faults",)))
    )
    return Seed(located, tuple(declared), faults)


def _fault(reader: _Reader, raw: Any, path: Path_, index: int) -> FaultDecl:
    if not isinstance(raw, dict):
        raise reader.located.error(path, "expected a mapping of rule fields (see docs/faults.md)")
    try:
        parse(raw, 0.0)
    except RuleError as exc:
        where = (*path, exc.field) if exc.field in raw else path
        raise reader.located.error(where, exc.message) from None
    return FaultDecl(path, index, raw)


def _unique(reader: _Reader, names: list[tuple[Path_, str]], what: str) -> None:
    seen: set[str] = set()
    for path, name in names:
        if name.lower() in seen:
            raise reader.located.error(path, f"{what} {name!r} is declared twice")
        seen.add(name.lower())


def _account(reader: _Reader, raw: Any, path: Path_) -> AccountDecl:
    fields_ = ("id", "root_keys", "policies", "roles", "groups", "users", "instances")
    item = reader.mapping(raw, path, fields_, ("id",))
    account_id = reader.text(item["id"], (*path, "id"))
    if not _ACCOUNT_ID.fullmatch(account_id):
        raise reader.located.error((*path, "id"), f"{account_id!r} is not an account ID (16 digits; quote it)")
    root_keys = tuple(
        reader.key(key, (*path, "root_keys", i))
        for i, key in enumerate(reader.items(item.get("root_keys"), (*path, "root_keys")))
    )
    policies = []
    for i, raw_policy in enumerate(reader.items(item.get("policies"), (*path, "policies"))):
        where = (*path, "policies", i)
        policy = reader.mapping(raw_policy, where, ("name", "description", "document"), ("name", "document"))
        policies.append(
            PolicyDecl(
                where,
                reader.text(policy["name"], (*where, "name")),
                reader.text(policy.get("description"), (*where, "description"), default=""),
                reader.document(policy["document"], (*where, "document")),
            )
        )
    _unique(reader, [((*p.path, "name"), p.name) for p in policies], "policy")
    custom = {p.name.lower() for p in policies}

    roles = []
    for i, raw_role in enumerate(reader.items(item.get("roles"), (*path, "roles"))):
        where = (*path, "roles", i)
        role = reader.mapping(
            raw_role, where, ("name", "description", "trust", "max_session_duration", "policies"), ("name",)
        )
        duration = role.get("max_session_duration")
        if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int)):
            raise reader.located.error((*where, "max_session_duration"), "expected a number of seconds")
        roles.append(
            RoleDecl(
                where,
                reader.text(role["name"], (*where, "name")),
                reader.text(role.get("description"), (*where, "description"), default=""),
                None if role.get("trust") is None else reader.document(role["trust"], (*where, "trust")),
                duration,
                reader.policy_refs(role.get("policies"), (*where, "policies"), custom),
            )
        )
    _unique(reader, [((*r.path, "name"), r.name) for r in roles], "role")

    groups = []
    for i, raw_group in enumerate(reader.items(item.get("groups"), (*path, "groups"))):
        where = (*path, "groups", i)
        group = reader.mapping(raw_group, where, ("name", "comments", "policies"), ("name",))
        groups.append(
            GroupDecl(
                where,
                reader.text(group["name"], (*where, "name")),
                reader.text(group.get("comments"), (*where, "comments"), default=""),
                reader.policy_refs(group.get("policies"), (*where, "policies"), custom),
            )
        )
    _unique(reader, [((*g.path, "name"), g.name) for g in groups], "group")

    users = []
    for i, raw_user in enumerate(reader.items(item.get("users"), (*path, "users"))):
        where = (*path, "users", i)
        user = reader.mapping(
            raw_user, where, ("name", "display_name", "comments", "keys", "groups", "policies"), ("name",)
        )
        keys = tuple(
            reader.key(key, (*where, "keys", k))
            for k, key in enumerate(reader.items(user.get("keys"), (*where, "keys")))
        )
        member_of = tuple(
            ((*where, "groups", g), reader.text(name, (*where, "groups", g)))
            for g, name in enumerate(reader.items(user.get("groups"), (*where, "groups")))
        )
        users.append(
            UserDecl(
                where,
                reader.text(user["name"], (*where, "name")),
                reader.optional_text(user.get("display_name"), (*where, "display_name")),
                reader.text(user.get("comments"), (*where, "comments"), default=""),
                keys,
                member_of,
                reader.policy_refs(user.get("policies"), (*where, "policies"), custom),
            )
        )
    _unique(reader, [((*u.path, "name"), u.name) for u in users], "user")

    instances = []
    for i, raw_instance in enumerate(reader.items(item.get("instances"), (*path, "instances"))):
        where = (*path, "instances", i)
        allowed = ("id", "region", "name", "image_id", "instance_type", "vswitch_id", "status", "role", "role_policy")
        instance = reader.mapping(raw_instance, where, allowed, ("id", "region"))
        instance_id = reader.text(instance["id"], (*where, "id"))
        if not _INSTANCE_ID.fullmatch(instance_id):
            raise reader.located.error(
                (*where, "id"), f"{instance_id!r} is not an instance ID: i- then up to 30 lower-case letters, digits, -"
            )
        role_policy = instance.get("role_policy")
        instances.append(
            InstanceDecl(
                where,
                instance_id,
                reader.text(instance["region"], (*where, "region")),
                reader.optional_text(instance.get("name"), (*where, "name")),
                reader.text(instance.get("image_id"), (*where, "image_id"), default=DEFAULT_IMAGE),
                reader.text(instance.get("instance_type"), (*where, "instance_type"), default=DEFAULT_INSTANCE_TYPE),
                # A role needs a VPC instance, so seeded instances are on a VSwitch unless told otherwise.
                reader.text(instance.get("vswitch_id"), (*where, "vswitch_id"), default=DEFAULT_VSWITCH) or None,
                reader.text(instance.get("status"), (*where, "status"), default="Running", choices=_STATUSES),
                reader.optional_text(instance.get("role"), (*where, "role")),
                None if role_policy is None else reader.document(role_policy, (*where, "role_policy")),
            )
        )
        if instances[-1].role_policy is not None and instances[-1].role is None:
            raise reader.located.error((*where, "role_policy"), "an attach Policy needs a role")
    seen_ids: set[str] = set()
    for declared in instances:
        if declared.instance_id in seen_ids:
            raise reader.located.error((*declared.path, "id"), f"instance {declared.instance_id} is declared twice")
        seen_ids.add(declared.instance_id)

    return AccountDecl(
        path,
        account_id,
        root_keys,
        tuple(policies),
        tuple(roles),
        tuple(groups),
        tuple(users),
        tuple(instances),
        plain=raw,
    )
