"""The audit trail step of the pipeline: one event per API call, in the call's own transaction.

``Trail.record`` runs at the end of a group-commit transaction, before COMMIT, and writes the
events of every call in it with one batched INSERT (inside a savepoint: a failure to record is
logged and never fails the calls). ``Trail.record_apart`` writes, in a small transaction of
its own, the events of calls that never reached a committed transaction (refused before it,
or in one the database aborted) when the account they belong to is known.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson

from ecsram.clock import Clock
from ecsram.contract.call import Call
from ecsram.contract.catalogue.vendor import PRODUCTS
from ecsram.contract.errors import ApiError
from ecsram.gateway import credentials, signing
from ecsram.iam.principal import Principal, PrincipalKind
from ecsram.store import trail
from ecsram.store.database import Database, DatabaseUnavailable
from ecsram.store.sql import Tx

log = logging.getLogger("ecsram.trail")

# Never in requestParameters: secrets, and what only serves the signature or the protocol.
OMITTED = frozenset(
    (
        "AccessKeySecret",
        "Password",
        "NewPassword",
        "OldPassword",
        "SecurityToken",
        "Signature",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureNonce",
        "SignatureType",
        "AccessKeyId",
        "Timestamp",
        "Action",
        "Version",
        "Format",
    )
)
POLICY_PARAMETERS = frozenset(
    ("Policy", "PolicyDocument", "AssumeRolePolicyDocument", "NewPolicyDocument", "NewAssumeRolePolicyDocument")
)
MAX_DOCUMENT_BYTES = 2048  # a policy document longer than this is omitted (its length is kept)
MAX_VALUE_CHARS = 1024  # any other value is truncated to this
MAX_PARAMETERS = 100
MAX_RESOURCES = 20
MAX_NAME_CHARS = 256
# Parameters that name a resource, and its ActionTrail resource type.
RESOURCE_PARAMETERS = {
    "InstanceId": "ACS::ECS::Instance",
    "InstanceIds": "ACS::ECS::Instance",
    "RamRoleName": "ACS::RAM::Role",
    "RoleName": "ACS::RAM::Role",
    "NewRoleName": "ACS::RAM::Role",
    "UserName": "ACS::RAM::User",
    "NewUserName": "ACS::RAM::User",
    "GroupName": "ACS::RAM::Group",
    "PolicyName": "ACS::RAM::Policy",
    "RoleArn": "ACS::RAM::Role",
    "ResourceId": "ACS::ECS::Instance",
}
_SERVICES = {version: name for name, version in PRODUCTS.values()}


def _clean(text: str, limit: int = MAX_NAME_CHARS) -> str:
    # NUL cannot be stored in a PostgreSQL text column; lone surrogates cannot be encoded.
    if len(text) <= limit and text.isascii() and "\x00" not in text:
        return text
    return text[:limit].replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def identity(principal: Principal) -> tuple[int, str | None, str | None]:
    """The event's ``kind``, principal ID and user name (both None for the root account)."""
    if principal.kind is PrincipalKind.ROOT:
        return trail.ROOT, None, None
    if principal.kind is PrincipalKind.USER:
        return trail.USER, principal.user_id or "", principal.user_name or ""
    session = principal.session_name
    return trail.ROLE, f"{principal.role_id}:{session}", f"{principal.role_name}:{session}"


def _names(key: str, value: str) -> list[str]:
    if key == "InstanceIds" and value.startswith("["):
        try:
            items = orjson.loads(value)
        except orjson.JSONDecodeError:
            return [value]
        return [item for item in items if isinstance(item, str)] if isinstance(items, list) else [value]
    if key == "RoleArn":
        return [value.rpartition("/")[2]] if "/" in value else [value]
    return [value]


def resources(params: dict[str, str]) -> list[tuple[str, str]]:
    """The (type, name) of each resource the parameters name."""
    found: list[tuple[str, str]] = []
    for base, kind in RESOURCE_PARAMETERS.items():
        value = params.get(base)
        if value:
            found.extend((kind, _clean(name)) for name in _names(base, value) if name)
    if "ResourceId.1" in params:  # the tag operations: ResourceId.N
        found.extend(
            (RESOURCE_PARAMETERS["ResourceId"], _clean(value))
            for key, value in params.items()
            if key.startswith("ResourceId.") and value
        )
    return found[:MAX_RESOURCES]


def request_parameters(params: dict[str, str]) -> dict[str, Any]:
    """The call's parameters as recorded: secrets left out, long policy documents omitted."""
    kept: dict[str, Any] = {}
    for key, value in params.items():
        if key in OMITTED or ("." in key and key.partition(".")[0] in OMITTED):
            continue
        if len(kept) >= MAX_PARAMETERS:
            break
        if key in POLICY_PARAMETERS and len(value) > MAX_DOCUMENT_BYTES // 4:
            size = len(value.encode("utf-8", "replace"))
            if size > MAX_DOCUMENT_BYTES:
                kept[_clean(key, 128)] = f"(omitted: {size} bytes)"
                continue
        kept[_clean(key, 128)] = _clean(value, MAX_VALUE_CHARS)
    return kept


def _resource_columns(params: dict[str, str]) -> tuple[str | None, str | None]:
    """The event's ``resource_names`` and ``resource_types``: ``resources`` joined, each without
    repeats (the hot path of ``build``, so it does not make the pairs)."""
    if "ResourceId.1" in params:  # the tag operations (ResourceId.N): rare, the plain way
        return _resource_strings(resources(params))
    names: dict[str, None] = {}
    types: dict[str, None] = {}
    count = 0
    for base, kind in RESOURCE_PARAMETERS.items():
        value = params.get(base)
        if not value:
            continue
        for name in _names(base, value) if base in _PARSED else (value,):
            if name and count < MAX_RESOURCES:
                names[_clean(name).replace(";", "")] = None
                types[kind] = None
                count += 1
    if not count:
        return None, None
    return ";".join(names) or None, ";".join(types)


_PARSED = frozenset(("InstanceIds", "RoleArn"))


def _resource_strings(named: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    if not named:
        return None, None
    return trail.join_resources([name for _kind, name in named]), ";".join(dict.fromkeys(t for t, _name in named))


def build(call: Call, principal: Principal, outcome: dict[str, Any] | ApiError, event_time: int) -> tuple[Any, ...]:
    """The stored row of a call's event, in ``trail.COLUMNS`` order (the document is rebuilt
    from it when read)."""
    action = _clean(call.action or "Unknown", 128)
    if call.operation is not None:
        service_name = PRODUCTS[call.operation.product][0]
    else:
        service_name = _SERVICES.get(call.version or "", "Unknown")
    params = call.raw_params
    kind, principal_id, user_name = identity(principal)
    resource_names, resource_types = _resource_columns(params)
    region = params.get("RegionId")
    if isinstance(outcome, ApiError):
        status, error_code, error_message = outcome.status, outcome.code, _clean(outcome.message, 1024)
    else:
        status, error_code, error_message = 200, None, None
    return (
        call.request_id,
        principal.account_id,
        event_time,
        action,
        service_name,
        kind,
        _clean(principal.access_key_id),
        principal_id,
        user_name,
        _clean(call.http.client_ip, 64),
        _clean(call.http.headers.get("user-agent", ""), 512),
        _clean(region, 64) if region else None,
        resource_names,
        resource_types,
        orjson.dumps(request_parameters(params)).decode() if trail.event_rw(action) == "Write" else None,
        status,
        error_code,
        error_message,
    )


PRUNE_INTERVAL_SECONDS = 10.0
# How often a process writes the resource filters of the blocks of events completed since, and
# at most how many each time (a few milliseconds of work between requests: up to 16 blocks, or
# ~16,000 events, a second). A lookup searches the events not yet summarised directly, so this
# bounds the lookups' work, never what they find.
SUMMARY_INTERVAL_SECONDS = 0.25
SUMMARY_MAX_BLOCKS = 4


class Trail:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        *,
        retention_seconds: float | None = None,
        max_events: int | None = None,
    ) -> None:
        self.database = database
        self.clock = clock
        self.retention_seconds = retention_seconds
        self.max_events = max_events
        self._next_prune = 0.0
        self._next_summary = 0.0

    def housekeeping(self, wall: float) -> None:
        """Summarise the completed blocks of events and prune events beyond the retention, each
        at most once per its interval per process."""
        if wall >= self._next_summary:
            self._next_summary = wall + SUMMARY_INTERVAL_SECONDS
            self._summarise()
        if wall < self._next_prune or (self.retention_seconds is None and self.max_events is None):
            return
        self._next_prune = wall + PRUNE_INTERVAL_SECONDS
        try:
            with self.database.transaction() as tx:
                now = self.clock.now(tx)
                older_than = None if self.retention_seconds is None else int((now - self.retention_seconds) * 1000)
                trail.prune(tx, older_than=older_than, max_events=self.max_events)
        except DatabaseUnavailable as exc:
            log.warning("trail pruning skipped: %s", exc)
        except Exception:
            log.exception("trail pruning skipped")

    def _summarise(self) -> None:
        try:
            with self.database.transaction() as tx:
                trail.summarise(tx, max_blocks=SUMMARY_MAX_BLOCKS)
        except DatabaseUnavailable as exc:
            log.warning("trail summary skipped: %s", exc)
        except Exception:
            log.exception("trail summary skipped")

    def record(self, tx: Tx, calls: Sequence[Call], outcomes: Sequence[dict[str, Any] | ApiError]) -> None:
        """Record the calls of a transaction, in it (before COMMIT)."""
        events = []
        for call, outcome in zip(calls, outcomes, strict=True):
            principal = call.caller_if_known or call.claimed
            if principal is None:
                continue
            try:
                events.append(build(call, principal, outcome, int(call.now * 1000)))
            except Exception:
                log.exception("request %s: its trail event could not be built", call.request_id)
        if not events:
            return
        # On PostgreSQL a failed statement aborts the transaction: a savepoint keeps the calls'
        # work if the events cannot be written. SQLite undoes just the failed statement.
        savepoint = tx.savepoint() if tx.dialect_name != "sqlite" else None
        try:
            trail.record_rows(tx, events)
        except self.database.driver_errors:
            log.exception("the trail events of %d calls could not be written", len(events))
            if savepoint is not None:
                savepoint.rollback()
        if savepoint is not None:
            savepoint.release()

    def record_apart(self, calls: Sequence[Call], outcomes: Sequence[dict[str, Any] | ApiError]) -> None:
        """Record calls that never reached a committed transaction, in a small one of their own.
        Only calls whose account is known (or named by their AccessKeyId) are recorded."""
        pending = [(call, outcome) for call, outcome in zip(calls, outcomes, strict=True) if _key_of(call)]
        if not pending:
            return
        try:
            with self.database.transaction() as tx:
                now = self.clock.now(tx)
                events = []
                for call, outcome in pending:
                    principal = call.caller_if_known or call.claimed or _claimed(tx, call, now)
                    if principal is not None:
                        events.append(build(call, principal, outcome, int(now * 1000)))
                trail.record_rows(tx, events)
        except DatabaseUnavailable as exc:  # the calls were answered 503 already; nothing to add
            log.warning("the trail events of %d calls could not be written: %s", len(pending), exc)
        except Exception:
            log.exception("the trail events of %d refused calls could not be written", len(pending))


def _key_of(call: Call) -> str | None:
    if call.caller_if_known is not None or call.claimed is not None:
        return call.request_id
    if call.http.headers.get("authorization", "").startswith("ACS3-"):
        try:
            return signing.parse_v3_authorization(call.http.headers["authorization"]).access_key_id
        except signing.MalformedAuthorization:
            return None
    return call.raw_params.get("AccessKeyId") or None


def _claimed(tx: Tx, call: Call, now: float) -> Principal | None:
    """Who the call's AccessKeyId (and STS token) names; its signature is not verified."""
    access_key_id = _key_of(call)
    if access_key_id is None:
        return None
    token = call.raw_params.get("SecurityToken") or call.http.headers.get("x-acs-security-token") or None
    try:
        _secret, principal = credentials.resolve(tx, call.tokens, access_key_id, token, now)
    except ApiError:
        return None
    return principal
