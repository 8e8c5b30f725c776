"""What the console's pages read: a few read-only queries over the store, each bounded.

Every listing is a page (a ``LIMIT``) found through an index, so a page costs the same with ten
instances or a hundred thousand: instances by (account, region, InstanceId) keyset, roles and
users by name key (with the instances holding just those roles), trail events by (account, time),
tags only for the rows shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import bindparam, desc, func, select, tuple_

from ecsram.iam.system_policies import SYSTEM_POLICIES
from ecsram.store import accounts, policies, roles, tags, users, world
from ecsram.store import faults as stored_faults
from ecsram.store import trail as stored_trail
from ecsram.store.faults import StoredRule
from ecsram.store.instances import Instance
from ecsram.store.named import name_key
from ecsram.store.schema import access_keys, instances, trail_events
from ecsram.store.sql import Statement, Tx, in_list

INSTANCE_PAGE = 50
ROLE_PAGE = 50
USER_PAGE = 50
TRAIL_PAGE = 100
ROLE_HOLDERS_SHOWN = 50
# The instances page's role picker: a list per row while the account has this many roles or
# fewer; beyond, one shared list of the first ROLE_SUGGESTIONS names suggests while a name is typed.
ROLE_CHOICES = 20
ROLE_SUGGESTIONS = 100
INSTANCE_TAG = "instance"

View = TypeVar("View")
Entity = TypeVar("Entity")


def _role_name(role: roles.Role) -> str:
    return role.role_name


def _user_name(user: users.User) -> str:
    return user.user_name


_INSTANCE_COLUMNS = [instances.c[name] for name in Instance.__dataclass_fields__]


def _instance_page(after: bool, region: bool) -> Statement:
    # In the order of the (account, region, InstanceId) index, so that a page is the next rows of
    # the index whatever the number of instances; ``after`` is the (region, InstanceId) last shown.
    conditions = [instances.c.account_id == bindparam("account_id")]
    if region:
        conditions.append(instances.c.region_id == bindparam("region_id"))
    if after:
        conditions.append(
            tuple_(instances.c.region_id, instances.c.instance_id)
            > tuple_(bindparam("after_region"), bindparam("after_id"))
        )
    name = f"console_instances{'_region' if region else ''}{'_after' if after else ''}"
    return Statement(
        name,
        select(*_INSTANCE_COLUMNS)
        .where(*conditions)
        .order_by(instances.c.region_id, instances.c.instance_id)
        .limit(bindparam("limit")),
    )


_INSTANCE_PAGES = {(a, r): _instance_page(a, r) for a in (False, True) for r in (False, True)}
_COUNT_INSTANCES = Statement(
    "console_count_instances",
    select(func.count()).select_from(instances).where(instances.c.account_id == bindparam("account_id")),
)
_COUNT_INSTANCES_REGION = Statement(
    "console_count_instances_region",
    select(func.count())
    .select_from(instances)
    .where(instances.c.account_id == bindparam("account_id"), instances.c.region_id == bindparam("region_id")),
)
_REGIONS = Statement(
    "console_regions",
    select(instances.c.region_id)
    .where(instances.c.account_id == bindparam("account_id"))
    .group_by(instances.c.region_id)
    .order_by(instances.c.region_id),
)
# The instances holding the roles of one page, by the roles' name keys (bound instances only: the
# partial role index).
_HOLDERS = Statement(
    "console_role_holders",
    select(instances.c.instance_id, instances.c.region_id, instances.c.ram_role_name)
    .where(
        instances.c.account_id == bindparam("account_id"),
        instances.c.ram_role_name.isnot(None),
        in_list(func.lower(instances.c.ram_role_name), "keys"),
    )
    .order_by(instances.c.instance_id),
    lists=("keys",),
)
_KEY_COUNTS = Statement(
    "console_key_counts",
    select(access_keys.c.account_id, func.count()).group_by(access_keys.c.account_id),
)


@dataclass(frozen=True, slots=True)
class InstancePage:
    total: int
    rows: list[Instance]
    tags: dict[str, list[tuple[str, str]]]
    next_after: str | None
    regions: list[str]


def instance_page(
    tx: Tx, account_id: str, *, region: str | None, after: str, limit: int = INSTANCE_PAGE
) -> InstancePage:
    bound: dict[str, Any] = {"account_id": account_id, "limit": limit + 1}
    if region:
        bound["region_id"] = region
    if after:
        bound["after_region"], _, bound["after_id"] = after.partition("/")
    rows = [Instance(*row) for row in tx.all(_INSTANCE_PAGES[(bool(after), bool(region))], bound)]
    more = len(rows) > limit
    rows = rows[:limit]
    total = int(tx.scalar(_COUNT_INSTANCES_REGION if region else _COUNT_INSTANCES, bound))
    found: dict[str, list[tuple[str, str]]] = {}
    for tag in tags.of_resources(tx, account_id, INSTANCE_TAG, [row.instance_id for row in rows]):
        found.setdefault(tag.resource_id, []).append((tag.key, tag.value))
    regions = [row[0] for row in tx.all(_REGIONS, {"account_id": account_id})]
    next_after = f"{rows[-1].region_id}/{rows[-1].instance_id}" if more else None
    return InstancePage(total, rows, found, next_after, regions)


def role_names(tx: Tx, account_id: str, limit: int) -> list[str]:
    """The account's first ``limit`` role names, in name order."""
    return [role.role_name for role in roles.list_page(tx, account_id, after="", limit=limit)]


def _policy_name(tx: Tx, account_id: str, policy_type: str, name_key: str) -> str:
    if policy_type == policies.CUSTOM:
        found = policies.find(tx, account_id, name_key)
        return found.policy_name if found is not None else name_key
    return next((name for name in SYSTEM_POLICIES if name.lower() == name_key), name_key)


def _pretty(document: str) -> str:
    try:
        return orjson.dumps(orjson.loads(document), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        return document


@dataclass(frozen=True, slots=True)
class RoleView:
    name: str
    role_id: str
    arn: str
    description: str
    max_session_duration: int
    trust: str
    policies: list[str]
    holders: list[tuple[str, str]]
    holder_count: int


@dataclass(frozen=True, slots=True)
class NamePage(Generic[View]):
    """A page of an account's roles or users in name order (keyset paging by name key)."""

    total: int
    views: list[View]
    next_after: str | None  # the name key the next page starts after


def _cut(found: list[Entity], limit: int, name: Callable[[Entity], str]) -> tuple[list[Entity], str | None]:
    """A page read with one entity beyond ``limit``: the page, and the cursor of the next if any."""
    if len(found) <= limit:
        return found, None
    return found[:limit], name_key(name(found[limit - 1]))


def _attached(tx: Tx, account_id: str, principal_type: str, principal_id: str) -> list[str]:
    return [
        f"{a.policy_type}:{_policy_name(tx, account_id, a.policy_type, a.policy_name_key)}"
        for a in policies.attachments_of(tx, account_id, principal_type, principal_id)
    ]


def role_page(tx: Tx, account_id: str, *, after: str, limit: int = ROLE_PAGE) -> NamePage[RoleView]:
    """A page of the account's roles in name order, each with its policies and the instances
    holding it."""
    found, next_after = _cut(roles.list_page(tx, account_id, after=after, limit=limit + 1), limit, _role_name)
    holders: dict[str, list[tuple[str, str]]] = {}
    if found:
        keys = [name_key(role.role_name) for role in found]
        for instance_id, region_id, role_name in tx.all(_HOLDERS, {"account_id": account_id, "keys": keys}):
            holders.setdefault(name_key(role_name), []).append((instance_id, region_id))
    views = []
    for role in found:
        attached = _attached(tx, account_id, policies.ROLE, role.role_id)
        held = holders.get(name_key(role.role_name), [])
        views.append(
            RoleView(
                name=role.role_name,
                role_id=role.role_id,
                arn=f"acs:ram::{account_id}:role/{role.role_name.lower()}",
                description=role.description,
                max_session_duration=role.max_session_duration,
                trust=_pretty(role.assume_role_policy),
                policies=attached,
                holders=held[:ROLE_HOLDERS_SHOWN],
                holder_count=len(held),
            )
        )
    return NamePage(roles.count(tx, account_id), views, next_after)


@dataclass(frozen=True, slots=True)
class KeyView:
    access_key_id: str
    status: str
    created_at: str


@dataclass(frozen=True, slots=True)
class UserView:
    name: str
    user_id: str
    display_name: str
    keys: list[KeyView]
    policies: list[str]


def _keys(tx: Tx, account_id: str, user_id: str | None) -> list[KeyView]:
    # Only the ID, status and creation time of a key are ever read out for a page: never its secret.
    return [KeyView(k.key.access_key_id, k.key.status, k.created_at) for k in users.keys_of(tx, account_id, user_id)]


def root_keys(tx: Tx, account_id: str) -> list[KeyView]:
    return _keys(tx, account_id, None)


def user_page(tx: Tx, account_id: str, *, after: str, limit: int = USER_PAGE) -> NamePage[UserView]:
    """A page of the account's RAM users in name order, each with its AccessKeys (never their
    secrets) and attached policies."""
    found, next_after = _cut(users.list_page(tx, account_id, after=after, limit=limit + 1), limit, _user_name)
    views = [
        UserView(
            name=user.user_name,
            user_id=user.user_id,
            display_name=user.display_name,
            keys=_keys(tx, account_id, user.user_id),
            policies=_attached(tx, account_id, policies.USER, user.user_id),
        )
        for user in found
    ]
    return NamePage(users.count(tx, account_id), views, next_after)


@dataclass(frozen=True, slots=True)
class AccountView:
    account_id: str
    instances: int
    roles: int
    users: int
    keys: int


ACCOUNTS_SHOWN = 200


def account_ids(tx: Tx) -> list[str]:
    return world.account_ids(tx)[:ACCOUNTS_SHOWN]


def account_count(tx: Tx) -> int:
    return accounts.count_accounts(tx)


def account_exists(tx: Tx, account_id: str) -> bool:
    return world.account_exists(tx, account_id)


def account_views(tx: Tx, only: str | None, shown: str | None = None) -> list[AccountView]:
    """One account's, or the first ACCOUNTS_SHOWN accounts' (and the one ``shown``, first)."""
    ids = [only] if only is not None else account_ids(tx)
    if shown is not None and shown not in ids:
        ids.insert(0, shown)
    key_counts = {account: int(count) for account, count in tx.all(_KEY_COUNTS)}
    return [
        AccountView(
            account_id=account,
            instances=int(tx.scalar(_COUNT_INSTANCES, {"account_id": account})),
            roles=roles.count(tx, account),
            users=users.count(tx, account),
            keys=key_counts.get(account, 0),
        )
        for account in ids
    ]


# --- the trail --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventView:
    time: str
    account_id: str
    name: str
    service: str
    principal: str
    source_ip: str
    resources: str
    status: str
    error_code: str
    request_id: str


def _trail_statement(account: bool, name: bool) -> Statement:
    conditions = [trail_events.c.event_time >= bindparam("since")]
    if account:
        conditions.append(trail_events.c.account_id == bindparam("account_id"))
    if name:
        conditions.append(trail_events.c.event_name == bindparam("event_name"))
    # One account's events come newest first by its (account, time) index; every account's by
    # the order they were written (seq), which needs no index of its own.
    order = (desc(trail_events.c.event_time), desc(trail_events.c.event_id)) if account else (desc(trail_events.c.seq),)
    return Statement(
        f"console_trail{'_account' if account else ''}{'_name' if name else ''}",
        select(*stored_trail.STORED_COLUMNS).where(*conditions).order_by(*order).limit(bindparam("limit")),
    )


_TRAIL = {(a, n): _trail_statement(a, n) for a, n in ((False, False), (False, True), (True, False))}


def _principal(identity: dict[str, Any]) -> str:
    kind = identity.get("type") or "?"
    name = identity.get("userName") or identity.get("principalId") or ""
    return f"{kind}: {name}" if name else str(kind)


def trail_events_page(
    tx: Tx, *, account_id: str | None, action: str | None, since_ms: int, limit: int = TRAIL_PAGE
) -> list[EventView]:
    bound: dict[str, Any] = {"since": since_ms, "limit": limit}
    if account_id:
        bound["account_id"] = account_id
    if action:
        bound["event_name"] = action
    if account_id and action:
        # One account's events of one action: the trail's block filters find a rare one at once.
        found = stored_trail.lookup(
            tx, account_id, start=since_ms, end=2**62, filters=[("EventName", action)], limit=limit
        )
    else:
        statement = _TRAIL[(bool(account_id), bool(action))]
        found = [stored_trail.StoredEvent(row[0], tuple(row[1:])) for row in tx.all(statement, bound)]
    views = []
    for event in found:
        document = event.document()
        identity = document.get("userIdentity") or {}
        status = (document.get("additionalEventData") or {}).get("httpStatus")
        views.append(
            EventView(
                time=str(document.get("eventTime", "")),
                account_id=event.account_id,
                name=str(document.get("eventName", "")),
                service=str(document.get("serviceName", "")),
                principal=_principal(identity),
                source_ip=str(document.get("sourceIpAddress") or ""),
                resources=str(document.get("resourceName") or ""),
                status=str(status or ""),
                error_code=str(document.get("errorCode") or ""),
                request_id=str(document.get("requestId") or ""),
            )
        )
    return views


# --- fault rules ------------------------------------------------------------------------------


def fault_rules(tx: Tx, account_id: str | None, now: float) -> list[StoredRule]:
    return [
        rule
        for rule in stored_faults.live_rules(tx, now)
        if account_id is None or rule.account_id in (None, account_id)
    ]
