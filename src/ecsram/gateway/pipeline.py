"""The request path, as a pipeline of small steps around one ``Call``.

    read      method, parameters, V1/V3, Action, Version, Format
    resolve   (Action, Version) -> Operation
    -- one transaction (run again if the database aborts it to break a deadlock) --
    authenticate   signature, timestamp, AccessKey / STS token, nonce
    validate  parameters against the operation's spec
    authorize RAM policy check for users and role sessions
    invoke    the operation's handler
    -- commit; if the operation failed: roll back, then keep just the nonce --
    render    JSON / XML, status, x-acs-request-id

A cross-cutting concern (throttling, fault injection, audit) is one more step here.
"""

from __future__ import annotations

import logging
from typing import Any

from ecsram.clock import Clock
from ecsram.gateway import errors, render
from ecsram.gateway.authn import authenticate
from ecsram.gateway.authz import authorize
from ecsram.gateway.context import Call
from ecsram.gateway.dispatch import Registry
from ecsram.gateway.errors import ApiError
from ecsram.gateway.request import HttpRequest, parse_parameters
from ecsram.iam.tokens import TokenAuthority
from ecsram.store import nonces
from ecsram.store.database import Database, DatabaseUnavailable, TransientConflict

log = logging.getLogger("ecsram.gateway")


class _OperationFailed(Exception):
    """Carries an operation's ApiError out of its transaction, so the transaction rolls back."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.code)
        self.error = error


_METHODS = frozenset(("GET", "POST"))
NONCE_PRUNE_INTERVAL_SECONDS = 1.0
TRANSACTION_ATTEMPTS = 3


def read(call: Call) -> None:
    http = call.http
    if http.method not in _METHODS:
        raise errors.unsupported_http_method(http.method[:16])
    parsed = parse_parameters(http)
    call.params = parsed.params
    call.query_pairs = parsed.query_pairs
    call.xml = call.params.get("Format", "").lower() == "xml"
    call.v3 = http.headers.get("authorization", "").startswith("ACS3-")
    if call.v3:
        call.action = http.headers.get("x-acs-action") or call.params.get("Action")
        call.version = http.headers.get("x-acs-version") or call.params.get("Version")
    else:
        call.action = call.params.get("Action")
        call.version = call.params.get("Version")


def validate(call: Call) -> None:
    assert call.operation is not None
    call.args = call.operation.params.validate(call.params)


def invoke(call: Call) -> dict[str, Any]:
    assert call.operation is not None
    return call.operation.handler(call)


class Gateway:
    def __init__(self, database: Database, registry: Registry, clock: Clock, tokens: TokenAuthority) -> None:
        self.database = database
        self.registry = registry
        self.clock = clock
        self.tokens = tokens
        self._next_prune = 0.0

    def handle(self, http: HttpRequest) -> render.Response:
        call = Call(request_id=render.new_request_id(), http=http, tokens=self.tokens)
        try:
            read(call)
            call.operation = self.registry.resolve(call.action, call.version)
            outcome = self._transaction(call)
        except ApiError as exc:
            outcome = exc
        except DatabaseUnavailable as exc:
            log.warning("database unavailable: %s", exc)
            outcome = errors.service_unavailable()
        except Exception:
            log.exception("request %s failed unexpectedly", call.request_id)
            outcome = errors.internal_error()
        product = call.operation.product if call.operation else None
        if isinstance(outcome, ApiError):
            return render.error(call.request_id, outcome, product=product, xml=call.xml)
        assert call.operation is not None
        return render.success(call.request_id, call.operation.action, outcome, xml=call.xml)

    def _transaction(self, call: Call) -> dict[str, Any] | ApiError:
        """Authenticate and run the operation in one transaction; a transaction the database
        aborted to break a deadlock is run again from the start (it changed nothing)."""
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            try:
                with self.database.transaction() as tx:
                    call.tx = tx
                    call.now = self.clock.now(tx)
                    call.identity_policies = None
                    call.principal = authenticate(call, wall_now=self.clock.wall())
                    try:
                        validate(call)
                        authorize(call)
                        return invoke(call)
                    except ApiError as exc:
                        raise _OperationFailed(exc) from exc  # undoes everything the operation did
            except _OperationFailed as failed:
                self._keep_nonce(call)
                return failed.error
            except TransientConflict:
                if attempt == TRANSACTION_ATTEMPTS:
                    raise
                log.info("request %s: transaction conflict, attempt %d", call.request_id, attempt)
        raise AssertionError("unreachable")

    def _keep_nonce(self, call: Call) -> None:
        """A correctly signed request whose operation failed still used its nonce. Recorded in a
        transaction of its own, so that the common, successful path needs no savepoint."""
        if call.nonce is None:
            return
        access_key_id, nonce = call.nonce
        try:
            with self.database.transaction() as tx:
                nonces.remember(tx, access_key_id, nonce, self.clock.wall())
        except DatabaseUnavailable as exc:
            log.warning("request %s: nonce of a failed request not kept: %s", call.request_id, exc)

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
