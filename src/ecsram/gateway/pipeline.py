"""The request path, as a pipeline of small steps around one ``Call``.

    read      method, parameters, V1/V3, Action, Version, Format
    resolve   (Action, Version) -> Operation
    -- one transaction for the requests ready together (group commit, see batching.py);
       run again if the database aborts it to break a deadlock --
      -- a savepoint per request: a failure undoes that request alone, but keeps its nonce --
      authenticate   signature, timestamp, AccessKey / STS token, nonce
      faults    emulated throttling and injected errors (faults/): the call ends here, its
                nonce spent and nothing else changed
      validate  parameters against the operation's spec
      authorize RAM policy check for users and role sessions
      invoke    the operation's handler
    -- commit --
    render    JSON / XML, status, x-acs-request-id

A cross-cutting concern (throttling, fault injection, audit) is one more step here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ecsram.clock import Clock
from ecsram.contract import errors
from ecsram.contract.access import authorize
from ecsram.contract.call import Call, HttpRequest
from ecsram.contract.errors import ApiError
from ecsram.contract.operation import Registry
from ecsram.faults.injector import FaultInjector
from ecsram.gateway import render
from ecsram.gateway.authn import authenticate
from ecsram.gateway.credentials import KeyCache
from ecsram.gateway.request import parse_parameters
from ecsram.gateway.trail import Trail
from ecsram.iam.tokens import TokenAuthority
from ecsram.responses import Response
from ecsram.store import nonces
from ecsram.store.database import Database, DatabaseUnavailable, TransientConflict
from ecsram.store.sql import Tx

log = logging.getLogger("ecsram.gateway")


_METHODS = frozenset(("GET", "POST"))
NONCE_PRUNE_INTERVAL_SECONDS = 1.0
TRANSACTION_ATTEMPTS = 3


def read(call: Call) -> None:
    http = call.http
    if http.method not in _METHODS:
        raise errors.unsupported_http_method(http.method[:16])
    parsed = parse_parameters(http)
    call.raw_params = parsed.params
    call.query_pairs = parsed.query_pairs
    call.xml = call.raw_params.get("Format", "").lower() == "xml"
    call.v3 = http.headers.get("authorization", "").startswith("ACS3-")
    if call.v3:
        call.action = http.headers.get("x-acs-action") or call.raw_params.get("Action")
        call.version = http.headers.get("x-acs-version") or call.raw_params.get("Version")
    else:
        call.action = call.raw_params.get("Action")
        call.version = call.raw_params.get("Version")


def validate(call: Call) -> None:
    assert call.operation is not None
    call.args = call.operation.params.validate(call.raw_params)


def invoke(call: Call) -> dict[str, Any]:
    assert call.operation is not None
    return call.operation.handler(call)


class Gateway:
    def __init__(
        self,
        database: Database,
        registry: Registry,
        clock: Clock,
        tokens: TokenAuthority,
        faults: FaultInjector | None = None,
        trail: Trail | None = None,
    ) -> None:
        self.database = database
        self.faults = faults
        self.registry = registry
        self.clock = clock
        self.tokens = tokens
        self.trail = trail  # the audit trail step (gateway/trail.py); None when it is off
        self._next_prune = 0.0
        self.keys = KeyCache()  # AccessKeys verified by this process (gateway/credentials.py)

    def handle_many(self, requests: Sequence[HttpRequest]) -> list[Response]:
        """Answer several requests with one database transaction (group commit).

        Each request runs inside a savepoint of its own, so a failing request is undone alone
        and cannot affect the others; they share only the cost of BEGIN and COMMIT, which is the
        largest single cost of a request on SQLite. Requests refused before the database is
        needed (unreadable parameters, an unknown action or version) never join the transaction."""
        calls = [Call(request_id=render.new_request_id(), http=http, tokens=self.tokens) for http in requests]
        outcomes: list[dict[str, Any] | ApiError] = [errors.internal_error()] * len(calls)
        ready: list[int] = []
        committed: frozenset[int] = frozenset()
        for index, call in enumerate(calls):
            try:
                read(call)
                call.operation = self.registry.resolve(call.action, call.version)
                ready.append(index)
            except ApiError as exc:
                outcomes[index] = exc
            except Exception:
                log.exception("request %s failed unexpectedly", call.request_id)
        if ready:
            try:
                results = self._transaction([calls[index] for index in ready])
                committed = frozenset(ready)
            except DatabaseUnavailable as exc:
                log.warning("database unavailable: %s", exc)
                results = [errors.service_unavailable()] * len(ready)
            except Exception:
                log.exception("requests %s failed unexpectedly", [calls[i].request_id for i in ready])
                results = [errors.internal_error()] * len(ready)
            for index, result in zip(ready, results, strict=True):
                outcomes[index] = result
        if self.trail is not None and len(committed) < len(calls):
            apart = [index for index in range(len(calls)) if index not in committed]
            self.trail.record_apart([calls[i] for i in apart], [outcomes[i] for i in apart])
        responses = [self._render(call, outcome) for call, outcome in zip(calls, outcomes, strict=True)]
        for call, response in zip(calls, responses, strict=True):
            response.call = call  # for the request log
        return responses

    @staticmethod
    def _render(call: Call, outcome: dict[str, Any] | ApiError) -> Response:
        product = call.operation.product if call.operation else None
        if isinstance(outcome, ApiError):
            return render.error(call.request_id, outcome, product=product, xml=call.xml)
        assert call.operation is not None
        return render.success(call.request_id, call.operation.action, outcome, xml=call.xml)

    def _transaction(self, calls: Sequence[Call]) -> list[dict[str, Any] | ApiError]:
        """Run the calls in one transaction; a transaction the database aborted to break a
        deadlock is run again from the start (it changed nothing)."""
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            try:
                with self.database.transaction() as tx:
                    now, wall = self.clock.now(tx), self.clock.wall()
                    results = [self._run(call, tx, now, wall) for call in calls]
                    if self.trail is not None:
                        self.trail.record(tx, calls, results)
                    return results
            except TransientConflict:
                if attempt == TRANSACTION_ATTEMPTS:
                    raise
                log.info("transaction conflict, attempt %d", attempt)
        raise AssertionError("unreachable")

    def _run(self, call: Call, tx: Tx, now: float, wall: float) -> dict[str, Any] | ApiError:
        """One call in its own savepoint: on failure its effects are undone, except that a
        correctly signed request has used its nonce, which is recorded again. A database error
        ends the whole transaction (every call in it is answered 503, or run again)."""
        call.begin(tx, now)
        savepoint = tx.savepoint()
        try:
            call.authenticated(authenticate(call, wall_now=wall, keys=self.keys))
            if self.faults is not None and (refused := self.faults.check(call, tx, wall)) is not None:
                savepoint.release()  # keeps the nonce and a counted rule's claim; nothing else ran
                return refused
            validate(call)
            authorize(call)
            result = invoke(call)
        except ApiError as exc:
            outcome: ApiError = exc
        except self.database.driver_errors:
            raise
        except Exception:
            log.exception("request %s failed unexpectedly", call.request_id)
            outcome = errors.internal_error()
        else:
            savepoint.release()
            return result
        savepoint.rollback()
        if call.nonce is not None:
            nonces.remember(tx, call.nonce[0], call.nonce[1], wall)
        savepoint.release()
        return outcome

    def housekeeping(self) -> None:
        """Prune expired nonces, at most once per interval per process (between requests)."""
        wall = self.clock.wall()
        if wall < self._next_prune:
            return
        self._next_prune = wall + NONCE_PRUNE_INTERVAL_SECONDS
        try:
            with self.database.transaction() as tx:
                nonces.prune(tx, wall)
        except DatabaseUnavailable as exc:
            log.warning("nonce pruning skipped: %s", exc)
        if self.trail is not None:
            self.trail.housekeeping(wall)
