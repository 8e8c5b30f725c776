"""The request path, as a pipeline of small steps around one ``Call``.

    read      method, parameters, V1/V3, Action, Version, Format
    resolve   (Action, Version) -> Operation
    -- one transaction for the requests ready together (group commit, see batching.py);
       run again if the database aborts it to break a deadlock, or without a request whose
       driver error left it unusable --
      -- a savepoint per request: a failure undoes that request alone, but keeps its nonce --
      authenticate   signature, timestamp, AccessKey / STS token, nonce
      faults    emulated throttling and injected errors (faults/): the call ends here, its
                nonce spent and nothing else changed
      validate  parameters against the operation's spec
      authorize RAM policy check for users and role sessions
      invoke    the operation's handler
      render    JSON / XML, status, x-acs-request-id: inside the savepoint, so that a result
                that cannot be rendered undoes its request alone
    -- commit --
    (errors are rendered after the transaction; that cannot fail)

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
# A batch whose transaction this many requests broke in a row is answered 503: the database is down.
MAX_EXCLUDED = 3

Outcome = dict[str, Any] | ApiError


class _TransactionBroken(Exception):
    """A request's driver error left the batch's transaction unusable."""

    def __init__(self, call: Call) -> None:
        super().__init__(call.request_id)
        self.call = call


_FALLBACK_ERROR = errors.internal_error()
# The answer of a request left out of its batch's transaction (it broke it): built once, only read.
_NOT_COMMITTED = errors.service_unavailable()


def _render_error(call: Call, err: ApiError) -> Response:
    """An error answer; rendering cannot fail (a message that cannot be rendered is InternalError)."""
    product = call.operation.product if call.operation else None
    try:
        return render.error(call.request_id, err, product=product, xml=call.xml)
    except Exception:
        log.exception("request %s: its error could not be rendered", call.request_id)
        return render.error(call.request_id, _FALLBACK_ERROR, product=product, xml=call.xml)


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

        Each request runs inside a savepoint of its own and its answer is rendered there, before
        the batch commits: whatever fails in one request (validation, the handler, the driver,
        rendering) undoes that request alone and answers it alone. The requests share only the
        cost of BEGIN and COMMIT, which is the largest single cost of a request on SQLite. A
        request is answered success exactly when its work committed. Requests refused before the
        database is needed (unreadable parameters, an unknown action or version) never join the
        transaction."""
        calls = [Call(request_id=render.new_request_id(), http=http, tokens=self.tokens) for http in requests]
        outcomes: list[Outcome] = [errors.internal_error()] * len(calls)
        responses: list[Response | None] = [None] * len(calls)
        ready: list[int] = []
        committed: list[int] = []
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
            batch = [calls[index] for index in ready]
            try:
                results, rendered, kept = self._transaction(batch)
                committed = [ready[position] for position in kept]
            except DatabaseUnavailable as exc:
                log.warning("database unavailable: %s", exc)
                results, rendered = [errors.service_unavailable()] * len(ready), [None] * len(ready)
            except Exception:
                log.exception("requests %s failed unexpectedly", [call.request_id for call in batch])
                results, rendered = [errors.internal_error()] * len(ready), [None] * len(ready)
            for index, result, response in zip(ready, results, rendered, strict=True):
                outcomes[index] = result
                responses[index] = response
        if self.trail is not None and len(committed) < len(calls):
            kept_set = set(committed)
            apart = [index for index in range(len(calls)) if index not in kept_set]
            self.trail.record_apart([calls[i] for i in apart], [outcomes[i] for i in apart])
        answers = []
        for call, outcome, early in zip(calls, outcomes, responses, strict=True):
            response = early or _render_error(call, outcome if isinstance(outcome, ApiError) else _FALLBACK_ERROR)
            response.call = call  # for the request log
            answers.append(response)
        if log.isEnabledFor(logging.DEBUG):  # for tests that check which accounts shared a batch
            accounts = sorted({c.caller_if_known.account_id for c in calls if c.caller_if_known is not None})
            log.debug("group commit: %d requests, %d committed, accounts %s", len(calls), len(committed), accounts)
        return answers

    def _transaction(self, calls: Sequence[Call]) -> tuple[list[Outcome], list[Response | None], list[int]]:
        """Run the calls in one transaction: their outcomes, their rendered successes, and the
        positions of the calls whose work committed.

        A transaction the database aborted to break a deadlock is run again from the start (it
        changed nothing). A request whose driver error left the transaction unusable (its
        savepoint could not be rolled back: a lost connection, an I/O error) is answered 503 and
        the others are run again without it, in a new transaction."""
        outcomes: list[Outcome] = [_NOT_COMMITTED] * len(calls)
        responses: list[Response | None] = [None] * len(calls)
        remaining = list(range(len(calls)))
        conflicts = excluded = 0
        while remaining:
            try:
                with self.database.transaction() as tx:
                    now, wall = self.clock.now(tx), self.clock.wall()
                    ran = [self._run(calls[position], tx, now, wall) for position in remaining]
                    results = [outcome for outcome, _response in ran]
                    if self.trail is not None:
                        self.trail.record(tx, [calls[position] for position in remaining], results)
            except TransientConflict:
                conflicts += 1
                if conflicts == TRANSACTION_ATTEMPTS:
                    raise
                log.info("transaction conflict, attempt %d", conflicts)
                continue
            except _TransactionBroken as broken:
                offender = next(p for p in remaining if calls[p] is broken.call)
                log.warning(
                    "request %s left the transaction unusable (%s); its batch runs again without it",
                    broken.call.request_id,
                    broken.__cause__,
                )
                remaining.remove(offender)
                excluded += 1
                if excluded == MAX_EXCLUDED:
                    raise DatabaseUnavailable(f"{excluded} requests in a row broke their transaction") from broken
                continue
            for position, (outcome, response) in zip(remaining, ran, strict=True):
                outcomes[position], responses[position] = outcome, response
            return outcomes, responses, remaining
        return outcomes, responses, []

    def _run(self, call: Call, tx: Tx, now: float, wall: float) -> tuple[Outcome, Response | None]:
        """One call in its own savepoint, with its success rendered there: on any failure its
        effects are undone, except that a correctly signed request has used its nonce, which is
        recorded again. A driver error is answered like any failure if the savepoint can be rolled
        back (PostgreSQL allows it after an error); if it cannot, the transaction is unusable and
        ``_TransactionBroken`` ends it."""
        call.begin(tx, now)
        savepoint = tx.savepoint()
        try:
            call.authenticated(authenticate(call, wall_now=wall, keys=self.keys))
            if self.faults is not None and (refused := self.faults.check(call, tx, wall)) is not None:
                savepoint.release()  # keeps the nonce and a counted rule's claim; nothing else ran
                return refused, None
            validate(call)
            authorize(call)
            result = invoke(call)
            assert call.operation is not None
            response = render.success(call.request_id, call.operation.action, result, xml=call.xml)
        except ApiError as exc:
            outcome: ApiError = exc
        except self.database.conflicts:
            raise  # a deadlock or serialization failure: the whole transaction runs again
        except Exception as exc:  # a driver error, a bug, or a result that cannot be rendered
            outcome = self._unexpected(call, exc)
        else:
            savepoint.release()
            return result, response
        try:
            savepoint.rollback()
            if call.nonce is not None:
                nonces.remember(tx, call.nonce[0], call.nonce[1], wall)
            savepoint.release()
        except self.database.driver_errors as exc:
            raise _TransactionBroken(call) from exc
        return outcome, None

    def _unexpected(self, call: Call, exc: Exception) -> ApiError:
        """The answer to a request whose handler, driver or rendering failed unexpectedly: a value
        the database cannot hold (an input that slipped past validation) is the caller's 400, a
        database that is busy or slow (a statement or lock timeout) a 503, anything else a bug
        (InternalError)."""
        if isinstance(exc, self.database.data_errors):
            log.warning("request %s: the database refused a value: %s", call.request_id, exc)
            return ApiError("InvalidParameter", 400, "A parameter value is outside what the service can store.")
        if isinstance(exc, self.database.unavailable_errors):
            log.warning("request %s: the database could not serve it: %s", call.request_id, exc)
            return _NOT_COMMITTED
        log.error("request %s failed unexpectedly", call.request_id, exc_info=exc)
        return errors.internal_error()

    def housekeeping(self) -> None:
        """Prune expired nonces, at most once per interval per process, and the trail's own
        housekeeping, which keeps its intervals (between requests)."""
        wall = self.clock.wall()
        if self.trail is not None:
            self.trail.housekeeping(wall)
        if wall < self._next_prune:
            return
        self._next_prune = wall + NONCE_PRUNE_INTERVAL_SECONDS
        try:
            with self.database.transaction(autocommit=True) as tx:
                nonces.prune(tx, wall)
        except DatabaseUnavailable as exc:
            log.warning("nonce pruning skipped: %s", exc)
