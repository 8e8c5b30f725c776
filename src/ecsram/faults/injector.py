"""Each worker's copy of the fault rules, and their application to calls.

The rules live in the store only. A worker reads them again when a request arrives and its copy
is older than ``REFRESH_SECONDS`` (one small SELECT without BEGIN and COMMIT, so one round trip
on PostgreSQL; at most 20 times a second per worker; with no rule set the request path costs one
clock reading and a comparison). A change made over
HTTP or with the CLI is answered only after ``SETTLE_SECONDS`` (twice the refresh interval): by
then every worker that receives a request reads the rules again before handling it, so a client
that has its answer sees the rule in force on every worker.

Two places apply rules:

* ``before_batch``: added latency (an asynchronous sleep before the call joins its batch, so
  the worker's other requests go on) and dropped connections. The account of an
  account-scoped rule is looked up from the request's AccessKeyId (STS keys are not matched).
* ``check``, inside the batch's transaction right after authentication: emulated throttling
  and error rules. The call's nonce is spent, nothing else is changed.

A counted rule ("the next N calls") is claimed with a conditional UPDATE, so N calls in all are
faulted, whichever workers receive them.
"""

from __future__ import annotations

import logging
import random
import re
import time
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import orjson

from ecsram.contract.call import Call
from ecsram.contract.catalogue.vendor import PRODUCTS, vendor_error
from ecsram.contract.errors import ApiError
from ecsram.faults.rules import KNOWN_CODES
from ecsram.faults.throttle import Rate
from ecsram.store import accounts
from ecsram.store import faults as stored
from ecsram.store.database import Database, DatabaseUnavailable
from ecsram.store.faults import StoredRule
from ecsram.store.sql import Tx

log = logging.getLogger("ecsram.faults")

REFRESH_SECONDS = 0.05
SETTLE_SECONDS = 2 * REFRESH_SECONDS

THROTTLED = ApiError("Throttling.User", 400, "Request was denied due to user flow control.")

_V3_CREDENTIAL = re.compile(r"Credential=([^,\s]+)")
_PRODUCT_BY_NAME = {name.lower(): key for key, (name, _version) in PRODUCTS.items()}


@dataclass(frozen=True, slots=True)
class Latency:
    seconds: float


@dataclass(frozen=True, slots=True)
class Drop:
    pass


def instance_ids(params: dict[str, str]) -> set[str]:
    """The instance IDs a request names: InstanceId, InstanceIds (a JSON list) and InstanceIds.N."""
    found: set[str] = set()
    single = params.get("InstanceId")
    if single:
        found.add(single)
    listed = params.get("InstanceIds")
    if listed:
        try:
            value: Any = orjson.loads(listed)
        except orjson.JSONDecodeError:
            value = listed.split(",")
        if isinstance(value, list):
            found.update(item.strip() for item in value if isinstance(item, str))
    for name, item in params.items():
        if name.startswith(("InstanceIds.", "InstanceId.")):
            found.add(item)
    return found


def product_of(call: Call) -> str | None:
    if call.operation is not None:
        return call.operation.product
    return None


def _error_for(rule: StoredRule, call: Call) -> ApiError:
    assert rule.code is not None
    product = product_of(call)
    published = None
    if product in ("ecs", "ram", "sts") and call.action:
        published = vendor_error(product, call.action, rule.code)
    if published is None or published[1] == "%s":
        published = KNOWN_CODES.get(rule.code, published)
    status = rule.status or (published[0] if published else 500)
    message = rule.message or (published[1] if published and published[1] != "%s" else f"{rule.code} (injected).")
    return ApiError(rule.code, status, message)


class FaultInjector:
    """One per worker process."""

    def __init__(self, database: Database, throttle: Rate | None = None) -> None:
        self.database = database
        self.throttle = throttle
        self._early: tuple[StoredRule, ...] = ()
        self._errors: tuple[StoredRule, ...] = ()
        self._next_refresh = 0.0
        self._key_accounts: dict[str, str | None] = {}

    # --- the copy of the rules ----------------------------------------------------------------

    def refresh(self) -> None:
        """Read the rules again if this worker's copy is older than REFRESH_SECONDS."""
        moment = time.monotonic()
        if moment < self._next_refresh:
            return
        self._next_refresh = moment + REFRESH_SECONDS
        try:
            with self.database.transaction(write=False, autocommit=True) as tx:
                rules = stored.live_rules(tx, time.time())
        except DatabaseUnavailable as exc:
            log.warning("fault rules not read again: %s", exc)
            return
        self._early = tuple(rule for rule in rules if rule.effect != "error")
        self._errors = tuple(rule for rule in rules if rule.effect == "error")

    def invalidate(self) -> None:
        """Read the rules again before the next request (after a change made by this worker)."""
        self._next_refresh = 0.0

    @property
    def has_early_rules(self) -> bool:
        return bool(self._early)

    # --- matching ------------------------------------------------------------------------------

    @staticmethod
    def _matches(rule: StoredRule, call: Call, account_id: str | None) -> bool:
        if rule.expires_at is not None and rule.expires_at <= time.time():
            return False
        if rule.remaining is not None and rule.remaining <= 0:
            return False
        if rule.account_id is not None and rule.account_id != account_id:
            return False
        product = product_of(call)
        # ecsram's own operations (reset, fault rules) are faulted only by a rule that names them.
        if rule.product != product and (rule.product is not None or product == "ecsram"):
            return False
        if rule.action != "*" and not fnmatchcase(call.action or "", rule.action):
            return False
        return rule.instance_id is None or rule.instance_id in instance_ids(call.raw_params)

    @staticmethod
    def _fires(rule: StoredRule, tx: Tx) -> bool:
        if rule.remaining is not None:
            return stored.claim(tx, rule.rule_id)
        return rule.probability is None or random.random() < rule.probability

    # --- before the batch: latency and dropped connections -------------------------------------

    def _account_of(self, call: Call) -> str | None:
        if call.v3:
            found = _V3_CREDENTIAL.search(call.http.headers.get("authorization", ""))
            key_id = found.group(1) if found else ""
        else:
            key_id = call.raw_params.get("AccessKeyId", "")
        if not key_id or key_id.startswith("STS.") or len(key_id) > 64:
            return None
        if key_id not in self._key_accounts:
            with self.database.transaction(write=False) as tx:
                key = accounts.find_access_key(tx, key_id)
            if len(self._key_accounts) > 10_000:
                self._key_accounts.clear()
            self._key_accounts[key_id] = key.account_id if key is not None else None
        return self._key_accounts[key_id]

    def before_batch(self, call: Call) -> Latency | Drop | None:
        """The latency to add to, or the drop of, a read and resolved call (not yet authenticated)."""
        needs_account = any(rule.account_id is not None for rule in self._early)
        try:
            account_id = self._account_of(call) if needs_account else None
            for rule in self._early:
                if not self._matches(rule, call, account_id):
                    continue
                if rule.remaining is not None:
                    with self.database.transaction() as tx:
                        fires = stored.claim(tx, rule.rule_id)
                else:
                    fires = rule.probability is None or random.random() < rule.probability
                if fires:
                    if rule.effect == "drop":
                        return Drop()
                    return Latency((rule.latency_ms or 0) / 1000)
        except DatabaseUnavailable as exc:
            log.warning("fault rules not applied: %s", exc)
        return None

    # --- in the transaction: throttling and errors ---------------------------------------------

    def check(self, call: Call, tx: Tx, wall: float) -> ApiError | None:
        """The error an authenticated call gets instead of its answer, if any."""
        if self.throttle is not None and product_of(call) != "ecsram":
            caller = call.caller
            rate = self.throttle
            if not stored.take_token(tx, caller.access_key_id, call.action or "", wall, rate.per_second, rate.burst):
                return THROTTLED
        if not self._errors:
            return None
        account_id = call.caller.account_id
        for rule in self._errors:
            if self._matches(rule, call, account_id) and self._fires(rule, tx):
                return _error_for(rule, call)
        return None
