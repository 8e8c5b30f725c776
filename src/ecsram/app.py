"""The ASGI application: routes a request to the API gateway, health or admin endpoints.

Kept as a plain ASGI callable: the API has one path, and a framework's routing and request
objects would cost more per request than everything ecsram does with a signed call.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ecsram.admin import http as admin_http
from ecsram.clock import Clock
from ecsram.config import Settings
from ecsram.gateway import errors, render
from ecsram.gateway.batching import GroupCommitter
from ecsram.gateway.dispatch import Registry
from ecsram.gateway.errors import ApiError
from ecsram.gateway.pipeline import Gateway
from ecsram.gateway.request import http_request_from_scope
from ecsram.iam.tokens import TokenAuthority
from ecsram.imds.http import is_metadata_request, metadata_request, to_response
from ecsram.imds.service import MetadataService
from ecsram.requestlog import RequestLog
from ecsram.services import all_operations
from ecsram.store import settings as stored_settings
from ecsram.store.database import Database, DatabaseUnavailable

log = logging.getLogger("ecsram")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

HEALTH_PATH = "/_ecsram/health"
CLOCK_PATH = "/_ecsram/clock"


class ClientDisconnected(Exception):
    pass


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
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


async def send_response(send: Send, response: render.Response) -> None:
    await send({"type": "http.response.start", "status": response.status, "headers": response.asgi_headers()})
    await send({"type": "http.response.body", "body": response.body})


class EcsramApp:
    """One per worker process; everything it holds is per-process (state lives in the store)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = Clock(adjustable=settings.test_clock)
        self.registry = Registry(all_operations())
        self.pinned_instances = settings.pinned_metadata_instances()
        self.database: Database | None = None
        self.gateway: Gateway | None = None
        self.committer: GroupCommitter | None = None
        self.metadata: MetadataService | None = None
        self.request_log = RequestLog(
            level=settings.log_level, log_format=settings.log_format, log_file=settings.log_file
        )

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self.request_log.configure_logging()
        self.database = Database(self.settings.database_url)
        if self.database.memory:
            # An in-memory store exists only in this process: prepare (and seed) it here, not
            # in the parent that checked the settings (see server.py).
            from ecsram.bootstrap import prepare_store, seed_store

            prepare_store(self.database)
            if self.settings.seed_file:
                seed_store(self.database, self.settings.seed_file)
        with self.database.transaction() as tx:
            tokens = TokenAuthority(stored_settings.ensure_token_secret(tx))
        self.gateway = Gateway(self.database, self.registry, self.clock, tokens)
        self.committer = GroupCommitter(self.gateway)
        # Beyond loopback anyone could name an instance, so metadata requests must prove they
        # speak for it with its access secret (see docs/metadata.md).
        self.metadata = MetadataService(
            self.database, self.clock, tokens, require_secret=not self.settings.loopback_only
        )

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
        if self.gateway is None:  # servers that skip lifespan (tests driving the app directly)
            self.start()
        started = time.perf_counter()
        path = scope["path"]
        try:
            if _header_bytes(scope) > self.settings.max_header_bytes:
                raise errors.request_header_too_large(self.settings.max_header_bytes)
            declared = _declared_length(scope)
            if declared is not None and declared > self.settings.max_body_bytes:
                raise errors.request_too_large(self.settings.max_body_bytes)
            body = await read_body(receive, self.settings.max_body_bytes)
        except ClientDisconnected:
            return
        except ApiError as exc:
            response = render.error(render.new_request_id(), exc, product=None, xml=False)
            await send_response(send, response)
            if self.request_log.enabled:
                self._log(response, started)
            return

        server = scope.get("server")
        listener_port: int = server[1] if server else -1
        if listener_port in self.pinned_instances or is_metadata_request(path, _host(scope)):
            assert self.metadata is not None
            headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
            request = metadata_request(scope, headers, self.pinned_instances.get(listener_port))
            await send_response(send, to_response(self.metadata.handle(request)))
        elif path == "/":
            assert self.committer is not None
            response = await self.committer.submit(http_request_from_scope(scope, body))
            await send_response(send, response)
            if self.request_log.enabled:
                self._log(response, started)
        elif path == HEALTH_PATH:
            await send_response(send, self._health())
        elif path == CLOCK_PATH:
            await send_response(send, self._clock(scope, body))
        elif path in admin_http.PATHS:
            assert self.database is not None
            response = admin_http.handle(self.database, self.clock, scope, path)
            response.request_id = render.new_request_id()
            await send_response(send, response)
            if self.request_log.enabled:
                self.request_log.write(
                    request_id=response.request_id,
                    account=None,
                    principal=None,
                    action=f"{scope['method'][:16]} {path}",
                    status=response.status,
                    error_code=response.error_code,
                    started=started,
                )
        else:
            err = ApiError(
                "InvalidAction.NotFound", 404, f"Specified path {path[:128]} is not found; the API is served at /."
            )
            await send_response(send, render.error(render.new_request_id(), err, product=None, xml=False))

    def _log(self, response: render.Response, started: float) -> None:
        call = response.call
        principal = call.principal if call is not None else None
        self.request_log.write(
            request_id=response.request_id,
            account=principal.account_id if principal is not None else None,
            principal=principal.arn if principal is not None else None,
            action=call.action if call is not None else None,
            status=response.status,
            error_code=response.error_code,
            started=started,
        )

    def _health(self) -> render.Response:
        assert self.database is not None
        try:
            with self.database.transaction(write=False):
                pass
        except DatabaseUnavailable as exc:
            body = orjson.dumps({"status": "unavailable", "reason": str(exc)})
            return render.Response(503, body, render.JSON_CONTENT_TYPE)
        return render.Response(200, orjson.dumps({"status": "ok"}), render.JSON_CONTENT_TYPE)

    def _clock(self, scope: Scope, body: bytes) -> render.Response:
        """``POST /_ecsram/clock?advance=SECONDS`` moves the service clock (``--test-clock`` only)."""
        assert self.database is not None
        if not self.clock.adjustable:
            return render.Response(404, b'{"status":"the service clock is fixed"}', render.JSON_CONTENT_TYPE)
        if scope["method"] != "POST":
            return render.Response(405, b'{"status":"use POST"}', render.JSON_CONTENT_TYPE)
        query = dict(pair.split("=", 1) for pair in scope["query_string"].decode("latin-1").split("&") if "=" in pair)
        try:
            seconds = float(query.get("advance", ""))
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds):
            return render.Response(
                400, b'{"status":"advance=SECONDS (a finite number) is required"}', render.JSON_CONTENT_TYPE
            )
        with self.database.transaction() as tx:
            offset = self.clock.advance(tx, seconds)
        return render.Response(200, orjson.dumps({"offsetSeconds": offset}), render.JSON_CONTENT_TYPE)


def create_app() -> EcsramApp:
    """The worker processes' entry point: settings come from the environment (see config.py)."""
    return EcsramApp(Settings.from_env())
