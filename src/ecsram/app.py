"""The ASGI application: routes a request to the API gateway, health or admin endpoints.

Kept as a plain ASGI callable: the API has one path, and a framework's routing and request
objects would cost more per request than everything ecsram does with a signed call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from types import FrameType
from typing import Any

import orjson

from ecsram.admin import accounts as admin_accounts
from ecsram.admin import faults as admin_faults
from ecsram.admin import http as admin_http
from ecsram.admin.operations import served_operations
from ecsram.batcher import Batcher
from ecsram.clock import Clock
from ecsram.config import Settings, parse_retention
from ecsram.console.web import Console, is_console_path
from ecsram.contract import errors
from ecsram.contract.call import Call, HttpRequest
from ecsram.contract.errors import ApiError
from ecsram.contract.operation import Registry
from ecsram.faults.injector import Drop, FaultInjector, Latency
from ecsram.gateway import render
from ecsram.gateway.batching import GroupCommitter
from ecsram.gateway.internal import signed_form
from ecsram.gateway.pipeline import Gateway, read
from ecsram.gateway.request import http_request_from_scope
from ecsram.gateway.trail import Trail
from ecsram.iam.tokens import TokenAuthority
from ecsram.imds.http import is_metadata_request, metadata_request, to_response
from ecsram.imds.service import MetadataRequest, MetadataService
from ecsram.probe import StoreProbe
from ecsram.requestlog import RequestLog
from ecsram.responses import JSON_CONTENT_TYPE, TEXT_CONTENT_TYPE, Response
from ecsram.store import settings as stored_settings
from ecsram.store.database import Database, DatabaseUnavailable, DatabaseUnusable, is_in_memory
from ecsram.transport import send_whole

log = logging.getLogger("ecsram")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

HEALTH_PATH = "/_ecsram/health"
READY_PATH = "/_ecsram/ready"
CLOCK_PATH = "/_ecsram/clock"
# How often a worker whose start-up found the store unavailable tries it again.
STORE_WAIT_SECONDS = 1.0


# A body beyond this size that is still arriving needs one of a worker's large-body slots; the
# slots hold LARGE_BODIES_BUDGET bytes of bodies at their size limit. A worker therefore buffers
# at most that much for clients that send big bodies slowly; the SDKs' bodies are a few KiB.
LARGE_BODY_BYTES = 64 * 1024
LARGE_BODIES_BUDGET = 32 * 1024 * 1024


def _metadata_failure() -> Response:
    return Response(500, b"The metadata service failed to answer; see the server log.", TEXT_CONTENT_TYPE)


class ClientDisconnected(Exception):
    pass


class StopWaiting:
    """Notes SIGINT and SIGTERM while a worker's start-up waits, and passes each on to the
    handler that was there (uvicorn's, which shuts the server down once it serves)."""

    def __init__(self) -> None:
        self.requested = False

    @contextlib.contextmanager
    def on_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach the main thread only; nothing to note here
            return
        previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def note(sig: int, frame: FrameType | None) -> None:
            self.requested = True
            handler = previous[sig]
            if callable(handler):
                handler(sig, frame)

        for sig in previous:
            signal.signal(sig, note)
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class LargeBodies:
    """The large-body slots of one worker process (its requests share one event loop)."""

    def __init__(self, slots: int) -> None:
        self.free = slots

    def take(self) -> None:
        if self.free <= 0:
            raise ApiError(
                "ServiceUnavailable",
                503,
                "Too many large request bodies are arriving at this server at once; try again.",
            )
        self.free -= 1

    def give_back(self) -> None:
        self.free += 1


async def read_body(receive: Receive, limit: int, large: LargeBodies | None = None) -> bytes:
    chunks: list[bytes] = []
    size = 0
    holds_slot = False
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise errors.request_too_large(limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
            if size > LARGE_BODY_BYTES and large is not None and not holds_slot:
                large.take()
                holds_slot = True
    finally:
        if holds_slot and large is not None:
            large.give_back()


def _header_bytes(scope: Scope) -> int:
    return (
        len(scope.get("raw_path") or b"")
        + len(scope.get("query_string", b""))
        + sum(len(name) + len(value) for name, value in scope["headers"])
    )


def _host(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"host":
            return str(value.decode("latin-1"))
    return ""


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def send_response(send: Send, response: Response, scope: Scope | None = None) -> None:
    cycle = scope.get("ecsram.cycle") if scope is not None else None
    if cycle is not None:  # uvicorn's cycle of this request: one write (transport.py)
        await send_whole(cycle, response)
        return
    await send({"type": "http.response.start", "status": response.status, "headers": response.asgi_headers()})
    await send({"type": "http.response.body", "body": response.body})


class EcsramApp:
    """One per worker process; everything it holds is per-process (state lives in the store)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = Clock(adjustable=settings.test_clock)
        self.registry = Registry(served_operations())
        self.pinned_instances = settings.pinned_metadata_instances()
        self.database: Database | None = None
        self.gateway: Gateway | None = None
        self.faults: FaultInjector | None = None
        self.committer: GroupCommitter | None = None
        self.metadata: MetadataService | None = None
        self.metadata_batcher: Batcher[MetadataRequest] | None = None
        self.tokens: TokenAuthority | None = None
        self.console: Console | None = None
        self.large_bodies = LargeBodies(max(1, LARGE_BODIES_BUDGET // max(1, settings.max_body_bytes)))
        self.probe = StoreProbe(settings.database_url)
        self.request_log = RequestLog(
            level=settings.log_level, log_format=settings.log_format, log_file=settings.log_file
        )

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self.request_log.configure_logging()
        self.database = Database(self.settings.database_url, timeout=self.settings.db_timeout, circuit=True)
        self.probe.database = self.database
        if self.database.memory:
            # An in-memory store exists only in this process: prepare (and seed) it here, not
            # in the parent that checked the settings (see server.py).
            from ecsram.bootstrap import prepare_store, seed_store

            prepare_store(self.database)
            if self.settings.seed_file:
                seed_store(self.database, self.settings.seed_file)
        token_secret = self._token_secret()
        tokens = TokenAuthority(token_secret)
        self.tokens = tokens
        if is_in_memory(self.settings.database_url):
            self.probe.in_process = self.database
        self.faults = FaultInjector(self.database, self.settings.throttle_rate())
        trail = None
        if self.settings.trail:
            retention_seconds, max_events = parse_retention(self.settings.trail_retention)
            trail = Trail(self.database, self.clock, retention_seconds=retention_seconds, max_events=max_events)
        self.gateway = Gateway(self.database, self.registry, self.clock, tokens, faults=self.faults, trail=trail)
        self.committer = GroupCommitter(self.gateway)
        # Beyond loopback anyone could name an instance, so metadata requests must prove they
        # speak for it with its access secret (see docs/metadata.md).
        self.metadata = MetadataService(
            self.database, self.clock, tokens, require_secret=not self.settings.loopback_only, trail=self.settings.trail
        )
        # Metadata requests ready together share one transaction, as API calls do.
        self.metadata_batcher = Batcher(self._metadata_many, failed=_metadata_failure, after=self._housekeeping)
        # The web console's actions are requests to this application, signed by ecsram (console/).
        self.console = Console(self.settings, self.database, self.clock, self, signed_form, token_secret)

    def _token_secret(self) -> bytes:
        """The store's token secret, waiting for a store that does not answer: the server checked
        the store before it started its workers, so a worker (re)starting during an outage waits
        for the store instead of failing its start-up, which would stop the whole server. A
        store that answers but cannot be used fails at once, and so does the wait when the
        worker is told to stop (SIGINT, SIGTERM)."""
        assert self.database is not None
        stop = StopWaiting()
        with stop.on_signals():
            waited_since = time.monotonic()
            while True:
                try:
                    return self._read_token_secret()
                except DatabaseUnusable:
                    raise
                except DatabaseUnavailable as exc:
                    if self.database.memory or stop.requested:
                        raise
                    log.warning(
                        "worker start-up waits for the store (%.0f s so far): %s", time.monotonic() - waited_since, exc
                    )
                time.sleep(STORE_WAIT_SECONDS)
                if stop.requested:
                    raise DatabaseUnavailable("stopped while waiting for the store")

    def _read_token_secret(self) -> bytes:
        assert self.database is not None
        with self.database.transaction() as tx:
            return stored_settings.ensure_token_secret(tx)

    def stop(self) -> None:
        if self.database is not None:
            self.database.close()
        self.request_log.close()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.start()
                except Exception as exc:  # reported to the server, which exits
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # --- requests -----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        path = scope["path"]
        try:
            if _header_bytes(scope) > self.settings.max_header_bytes:
                raise errors.request_header_too_large(self.settings.max_header_bytes)
            declared = _declared_length(scope)
            if declared is not None and declared > self.settings.max_body_bytes:
                raise errors.request_too_large(self.settings.max_body_bytes)
            body = await read_body(receive, self.settings.max_body_bytes, self.large_bodies)
        except ClientDisconnected:
            return
        except ApiError as exc:
            response = render.error(render.new_request_id(), exc, product=None, xml=False)
            if exc.status == 503:  # refused mid-body: the rest of the body is not read
                response.headers.append((b"connection", b"close"))
            await send_response(send, response)
            if self.request_log.enabled:
                self._log(response, started)
            return

        metadata = self._metadata_request(scope)
        if metadata is not None:
            assert self.metadata_batcher is not None
            response = await self.metadata_batcher.submit(metadata)
            await send_response(send, response, scope)
        elif path == "/":
            assert self.committer is not None and self.faults is not None
            http = http_request_from_scope(scope, body)
            self.faults.refresh()
            if self.faults.has_early_rules:
                early = self._early_fault(http)
                if isinstance(early, Drop):
                    drop = scope.get("ecsram.drop")
                    if drop is not None:
                        drop()
                        await receive()  # the disconnect; no answer is sent
                        return
                elif early is not None:
                    await asyncio.sleep(early.seconds)
            response = await self.committer.submit(http)
            await send_response(send, response, scope)
            if self.request_log.enabled:
                self._log(response, started)
        elif path == HEALTH_PATH:
            await send_response(send, await self._health())
        elif path == READY_PATH:
            await send_response(send, await self._ready())
        elif path == CLOCK_PATH:
            await send_response(send, self._clock(scope, body))
        elif path == admin_accounts.ACCOUNTS_PATH:
            await send_response(send, self._accounts(scope))
        elif admin_faults.is_faults_path(path):
            assert self.database is not None
            response = await admin_faults.handle(self.database, self.faults, scope, path, body)
            response.request_id = render.new_request_id()
            await send_response(send, response)
            if self.request_log.enabled:
                self._log_admin(scope, path, response, started)
        elif is_console_path(path):
            assert self.console is not None
            await send_response(send, await self.console.handle(scope, body))
        elif path in admin_http.PATHS:
            assert self.database is not None
            response = admin_http.handle(self.database, self.clock, scope, path)
            response.request_id = render.new_request_id()
            await send_response(send, response)
            if self.request_log.enabled:
                self._log_admin(scope, path, response, started)
        else:
            err = ApiError(
                "InvalidAction.NotFound", 404, f"Specified path {path[:128]} is not found; the API is served at /."
            )
            await send_response(send, render.error(render.new_request_id(), err, product=None, xml=False))

    def _metadata_request(self, scope: Scope) -> MetadataRequest | None:
        """The metadata request this is (on a pinned listener, or to the metadata address or a
        metadata path), or None for any other request."""
        server = scope.get("server")
        listener_port: int = server[1] if server else -1
        if listener_port not in self.pinned_instances and not is_metadata_request(scope["path"], _host(scope)):
            return None
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        return metadata_request(scope, headers, self.pinned_instances.get(listener_port))

    def _metadata_many(self, requests: Sequence[MetadataRequest]) -> list[Response]:
        assert self.metadata is not None
        return [to_response(answer) for answer in self.metadata.handle_many(requests)]

    def _housekeeping(self) -> None:
        """After each batch of metadata requests: a worker that only serves instances keeps house too."""
        if self.gateway is not None:
            self.gateway.housekeeping()

    def answer_directly(self, scope: Scope, body: bytes, answer: Callable[[Response], None]) -> bool:
        """Answer a complete API or metadata request without ASGI (see transport.py): the
        same steps as ``__call__``, without its task, messages and awaits. False for a request
        that needs more than that (another path, a limit exceeded, a fault rule that delays or
        drops requests before their batch): ``__call__`` then answers it."""
        if (
            self.committer is None
            or self.faults is None
            or len(body) > self.settings.max_body_bytes
            or _header_bytes(scope) > self.settings.max_header_bytes
        ):
            return False
        metadata = self._metadata_request(scope)
        if metadata is not None:
            assert self.metadata_batcher is not None
            self.metadata_batcher.submit_then(metadata, answer)
            return True
        if scope["path"] != "/":
            return False
        self.faults.refresh()
        if self.faults.has_early_rules:
            return False
        http = http_request_from_scope(scope, body)
        if not self.request_log.enabled:
            self.committer.submit_then(http, answer)
            return True
        started = time.perf_counter()

        def answer_and_log(response: Response) -> None:
            answer(response)
            self._log(response, started)

        self.committer.submit_then(http, answer_and_log)
        return True

    def _early_fault(self, http: HttpRequest) -> Latency | Drop | None:
        """The latency or drop a fault rule gives this request before it joins a batch."""
        assert self.faults is not None and self.tokens is not None
        call = Call(request_id="", http=http, tokens=self.tokens)
        try:
            read(call)
            call.operation = self.registry.resolve(call.action, call.version)
        except Exception:  # an ApiError, or a bug: either way the pipeline answers (and logs) it
            return None
        return self.faults.before_batch(call)

    def _log_admin(self, scope: Scope, path: str, response: Response, started: float) -> None:
        self.request_log.write(
            request_id=response.request_id,
            account=None,
            principal=None,
            action=f"{scope['method'][:16]} {path[:64]}",
            status=response.status,
            error_code=response.error_code,
            started=started,
        )

    def _log(self, response: Response, started: float) -> None:
        call = response.call
        principal = call.caller_if_known if call is not None else None
        self.request_log.write(
            request_id=response.request_id,
            account=principal.account_id if principal is not None else None,
            principal=principal.arn if principal is not None else None,
            action=call.action if call is not None else None,
            status=response.status,
            error_code=response.error_code,
            started=started,
        )

    def _accounts(self, scope: Scope) -> Response:
        assert self.database is not None
        status, body = admin_accounts.create_account(self.settings, self.database, self.clock, scope)
        return Response(status, body, JSON_CONTENT_TYPE)

    async def _health(self) -> Response:
        """Liveness: 200 while this worker serves HTTP, with the store's state as it reads it."""
        store, reason = await self.probe.check(write=False)
        document = {"status": "ok", "store": store} | ({"reason": reason} if reason else {})
        return Response(200, orjson.dumps(document), JSON_CONTENT_TYPE)

    async def _ready(self) -> Response:
        """Readiness: 200 when the store answers and takes writes, else 503 with the reason."""
        store, reason = await self.probe.check(write=True)
        if reason is None:
            return Response(200, orjson.dumps({"status": "ready"}), JSON_CONTENT_TYPE)
        document = {"status": "not ready", "store": store, "reason": reason}
        return Response(503, orjson.dumps(document), JSON_CONTENT_TYPE)

    def _clock(self, scope: Scope, body: bytes) -> Response:
        """``POST /_ecsram/clock?advance=SECONDS`` moves the service clock (``--test-clock`` only)."""
        assert self.database is not None
        if not self.clock.adjustable:
            return Response(404, b'{"status":"the service clock is fixed"}', JSON_CONTENT_TYPE)
        if scope["method"] != "POST":
            return Response(405, b'{"status":"use POST"}', JSON_CONTENT_TYPE)
        query = dict(pair.split("=", 1) for pair in scope["query_string"].decode("latin-1").split("&") if "=" in pair)
        try:
            seconds = float(query.get("advance", ""))
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds):
            return Response(400, b'{"status":"advance=SECONDS (a finite number) is required"}', JSON_CONTENT_TYPE)
        try:
            with self.database.transaction() as tx:
                offset = self.clock.advance(tx, seconds)
        except ValueError as exc:
            return Response(400, orjson.dumps({"status": str(exc)}), JSON_CONTENT_TYPE)
        except DatabaseUnavailable as exc:
            return Response(503, orjson.dumps({"status": f"the store is unavailable: {exc}"}), JSON_CONTENT_TYPE)
        return Response(200, orjson.dumps({"offsetSeconds": offset}), JSON_CONTENT_TYPE)


def create_app() -> EcsramApp:
    """The worker processes' entry point: settings come from the environment (see config.py)."""
    return EcsramApp(Settings.from_env())
