"""Start a server: prepare the store, refuse unsafe set-ups, bind, and run the workers."""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from ecsram.bootstrap import Bootstrap, StartupRefused, prepare_store, seed_store
from ecsram.config import (
    DEFAULT_ROOT_ACCESS_KEY_ID,
    DEFAULT_ROOT_ACCESS_KEY_SECRET,
    Settings,
    is_loopback,
    parse_metadata_listener,
)
from ecsram.requestlog import RequestLog
from ecsram.store import accounts
from ecsram.store.database import Database, describe_url


class SingleProcessServer(uvicorn.Server):
    """Stops gracefully on SIGINT/SIGTERM and then exits 0 (uvicorn would re-raise the signal)."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _root_keys(database: Database) -> list[tuple[str, str, str]]:
    with database.transaction(write=False) as tx:
        return accounts.root_keys(tx)


def check_safe_to_serve(settings: Settings, bootstrap: Bootstrap) -> None:
    if settings.loopback_only:
        return
    if any(
        key_id == DEFAULT_ROOT_ACCESS_KEY_ID and status == accounts.ACTIVE for key_id, _a, status in bootstrap.root_keys
    ):
        raise StartupRefused(
            f"refusing to listen on {settings.host}: the store holds the well-known default root key "
            f"{DEFAULT_ROOT_ACCESS_KEY_ID}, which anyone can use. Start on a new database with "
            "ECSRAM_ROOT_ACCESS_KEY_ID and ECSRAM_ROOT_ACCESS_KEY_SECRET set, or listen on 127.0.0.1."
        )
    if settings.test_clock:
        raise StartupRefused(f"refusing to listen on {settings.host} with --test-clock: it lets any caller move time.")


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def bind_metadata_listeners(settings: Settings) -> tuple[Settings, list[socket.socket]]:
    """Bind each dedicated metadata listener; port 0 becomes the real port in the settings the
    workers receive, so they know which socket answers as which instance."""
    sockets = []
    resolved = []
    for spec in settings.metadata_listeners:
        instance, (host, port) = parse_metadata_listener(spec)
        if not is_loopback(host) and settings.loopback_only:
            raise StartupRefused(f"metadata listener {spec} is beyond loopback while the API is not; use --host too")
        sock = bind(host, port)
        sockets.append(sock)
        shown = f"[{host}]" if ":" in host else host
        resolved.append(f"{instance + '@' if instance else ''}{shown}:{sock.getsockname()[1]}")
    return replace(settings, metadata_listeners=tuple(resolved)), sockets


def banner(settings: Settings, sock: socket.socket, bootstrap: Bootstrap) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    workers = f"{settings.workers} worker{'s' if settings.workers > 1 else ''}"
    lines = [
        f"ecsram listening on http://{shown}:{port} ({workers})",
        f"  database: {describe_url(settings.database_url)}",
    ]
    active = [(key_id, account_id) for key_id, account_id, status in bootstrap.root_keys if status == accounts.ACTIVE]
    for key_id, account_id in active[:3]:
        secret = (
            f"  AccessKeySecret {DEFAULT_ROOT_ACCESS_KEY_SECRET} (default)"
            if key_id == DEFAULT_ROOT_ACCESS_KEY_ID
            else ""
        )
        lines.append(f"  account {account_id}: AccessKeyId {key_id}{secret}")
    if len(active) > 3:
        lines.append(f"  ... and {len(active) - 3} more accounts")
    lines.append(f"  metadata service: proxy http://<instance-id>:@{shown}:{port} to reach http://100.100.100.200")
    for listener in settings.metadata_listeners:
        instance, _, address = listener.rpartition("@")
        lines.append(f"  metadata listener: http://{address} ({instance or 'any instance, named by the proxy user'})")
    # Last, so that whoever reads the banner knows it is complete when this line arrives.
    lines.append(f"  SDK endpoint: {shown}:{port}   health: http://{shown}:{port}/_ecsram/health")
    return "\n".join(lines)


def serve(settings: Settings) -> None:
    if settings.in_memory and settings.workers > 1:
        raise StartupRefused(
            f"an in-memory database ({describe_url(settings.database_url)}) lives inside one process, so it "
            "cannot be shared by several workers: use --workers 1, or a file (sqlite:///PATH) or PostgreSQL"
        )
    database = Database(settings.database_url)
    try:
        bootstrap = prepare_store(database)
        # Applied here so that a bad seed stops the start with its message; an in-memory store is
        # a new one in the worker, which seeds it again (app.py).
        seeded = seed_store(database, settings.seed_file) if settings.seed_file else None
        if seeded is not None:
            bootstrap = Bootstrap(bootstrap.created_account, _root_keys(database))
    finally:
        database.close()
    check_safe_to_serve(settings, bootstrap)
    sock = bind(settings.host, settings.port)
    settings, metadata_sockets = bind_metadata_listeners(settings)
    os.environ.update(settings.to_env())
    # The server's own messages (and, with one worker, the worker's) go where the request log goes.
    server_log = RequestLog(level=settings.log_level, log_format=settings.log_format, log_file=settings.log_file)
    server_log.configure_logging()
    server_log.close()
    if seeded is not None:
        print(f"seeded from {settings.seed_file}: {seeded}", flush=True)
    print(banner(settings, sock, bootstrap), flush=True)

    config = uvicorn.Config(
        "ecsram.app:create_app",
        factory=True,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,  # ecsram writes its own request log (requestlog.py)
        log_level=settings.log_level,
        log_config=None,  # the workers send uvicorn's messages where ecsram's go (RequestLog.configure_logging)
        server_header=False,
        date_header=False,
        # acs:SourceIp is the TCP peer: X-Forwarded-For from a local client must not forge it.
        proxy_headers=False,
        timeout_graceful_shutdown=5,
        workers=settings.workers,
    )
    if settings.workers > 1:
        supervisor = Multiprocess(config, sockets=[sock, *metadata_sockets])
        supervisor.run()
        if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
            sys.exit(STARTUP_FAILURE)
    else:
        server = SingleProcessServer(config)
        server.run(sockets=[sock, *metadata_sockets])
        if not server.started:
            sys.exit(STARTUP_FAILURE)
