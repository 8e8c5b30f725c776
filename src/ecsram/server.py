"""Start a server: prepare the store, refuse unsafe set-ups, bind, and run the workers."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import uvicorn
import uvloop
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
from ecsram.tls import ServerFiles, ensure_server_files, server_context, tls_dir


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


class ListenerAwareLoop(uvloop.Loop):
    """uvicorn serves every socket it is given with one TLS setting; ecsram's dedicated metadata
    listeners stay plain HTTP (as the real 100.100.100.200 is) while the API port speaks TLS. This
    event loop, which each worker runs, serves the metadata listener sockets without TLS. It tells
    them apart by local port, the same rule the app uses to route them (Settings.metadata_listeners
    holds their real ports by the time the workers start)."""

    plain_ports: frozenset[int] = frozenset()

    async def create_server(self, *args: Any, **kwargs: Any) -> asyncio.Server:
        sock = kwargs.get("sock")
        if sock is not None and sock.getsockname()[1] in self.plain_ports:
            kwargs["ssl"] = None
        # uvloop's stubs type the result as AbstractServer; uvicorn uses it as an asyncio.Server.
        return cast(asyncio.Server, await super().create_server(*args, **kwargs))


def listener_aware_loop() -> asyncio.AbstractEventLoop:
    """uvicorn's loop factory (``loop="ecsram.server:listener_aware_loop"``) for a server with TLS."""
    loop = ListenerAwareLoop()
    loop.plain_ports = frozenset(Settings.from_env().pinned_metadata_instances())
    return loop


def prepare_tls(settings: Settings) -> tuple[Settings, ServerFiles | None]:
    """Find (or create) the certificate and key to serve, and check that they load.

    The settings returned name them, so that every worker loads the same files. TlsSetupError,
    naming the file, when they cannot be used."""
    if not settings.tls:
        return settings, None
    if settings.tls_cert or settings.tls_key:
        files = ServerFiles(Path(settings.tls_cert).absolute(), Path(settings.tls_key).absolute(), None)
    else:
        files = ensure_server_files(tls_dir(settings.tls_dir))
    server_context(files.cert, files.key)
    return replace(settings, tls_cert=str(files.cert), tls_key=str(files.key)), files


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
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except OSError as exc:  # named here, so that each listener's failure names its own address
        sock.close()
        shown = f"[{host.strip('[]')}]" if ":" in host else host
        raise StartupRefused(f"cannot listen on {shown}:{port}: {exc.strerror or exc}") from None
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


def banner(settings: Settings, sock: socket.socket, bootstrap: Bootstrap, tls: ServerFiles | None = None) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    scheme = settings.scheme
    workers = f"{settings.workers} worker{'s' if settings.workers > 1 else ''}"
    lines = [
        f"ecsram listening on {scheme}://{shown}:{port} ({workers})",
        f"  database: {describe_url(settings.database_url)}",
    ]
    if tls is not None and tls.ca is not None:
        lines.append(f"  TLS CA: {tls.ca} (trust this file in clients; see docs/tools.md)")
    elif tls is not None:
        lines.append(f"  TLS certificate: {tls.cert}")
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
    lines.append(f"  metadata service: proxy {scheme}://<instance-id>:@{shown}:{port} to reach http://100.100.100.200")
    for listener in settings.metadata_listeners:
        instance, _, address = listener.rpartition("@")
        lines.append(f"  metadata listener: http://{address} ({instance or 'any instance, named by the proxy user'})")
    login = " (root AccessKey login)" if settings.console_needs_login else ""
    lines.append(f"  web console: {scheme}://{shown}:{port}/_ecsram/console{login}")
    # Last, so that whoever reads the banner knows it is complete when this line arrives.
    lines.append(f"  SDK endpoint: {shown}:{port}   health: {scheme}://{shown}:{port}/_ecsram/health")
    return "\n".join(lines)


def serve(settings: Settings) -> None:
    if settings.in_memory and settings.workers > 1:
        raise StartupRefused(
            f"an in-memory database ({describe_url(settings.database_url)}) lives inside one process, so it "
            "cannot be shared by several workers: use --workers 1, or a file (sqlite:///PATH) or PostgreSQL"
        )
    database = Database(settings.database_url, create_directory=settings.uses_default_database)
    try:
        bootstrap = prepare_store(database)
        # Applied here so that a bad seed stops the start with its message; an in-memory store is
        # a new one in the worker, which seeds it again (app.py).
        seeded = seed_store(database, settings.seed_file) if settings.seed_file else None
        if seeded is not None:
            bootstrap = Bootstrap(_root_keys(database))
    finally:
        database.close()
    check_safe_to_serve(settings, bootstrap)
    settings, tls = prepare_tls(settings)
    sock = bind(settings.host, settings.port)
    settings, metadata_sockets = bind_metadata_listeners(settings)
    if tls and sock.getsockname()[1] in settings.pinned_metadata_instances():
        # Listeners are told apart by port (see ListenerAwareLoop): the API would lose its TLS.
        raise StartupRefused("with --tls, a --metadata-listen listener cannot share the API's port number")
    os.environ.update(settings.to_env())
    # The server's own messages (and, with one worker, the worker's) go where the request log goes.
    server_log = RequestLog(level=settings.log_level, log_format=settings.log_format, log_file=settings.log_file)
    server_log.configure_logging()
    server_log.close()
    if seeded is not None:
        print(f"seeded from {settings.seed_file}: {seeded}", flush=True)
    print(banner(settings, sock, bootstrap, tls), flush=True)

    # httptools with a deadline for each request and a connection limit (see transport.py);
    # ecsram writes its own request log (requestlog.py), and uvicorn's messages go where it goes.
    options: dict[str, Any] = {
        "http": "ecsram.transport:DeadlineHttpToolsProtocol",
        "log_level": settings.log_level,
        "log_config": None,
    }
    if tls:
        options.update(ssl_certfile=settings.tls_cert, ssl_keyfile=settings.tls_key)
        options["loop"] = "ecsram.server:listener_aware_loop"  # plain HTTP on metadata listeners
    config = stack_config("ecsram.app:create_app", workers=settings.workers, factory=True, **options)
    run_workers(config, [sock, *metadata_sockets])


def stack_config(app: str, *, workers: int, **options: Any) -> uvicorn.Config:
    """The server stack ecsram runs on (uvicorn, httptools, uvloop), as the benchmark's baseline
    runs on it too; ``options`` adds to or overrides these settings."""
    settings: dict[str, Any] = {
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "access_log": False,
        "log_level": "warning",
        "server_header": False,
        "date_header": False,
        # acs:SourceIp is the TCP peer: X-Forwarded-For from a local client must not forge it.
        "proxy_headers": False,
        "timeout_graceful_shutdown": 5,
        "workers": workers,
        **options,
    }
    return uvicorn.Config(app, **settings)


def run_workers(config: uvicorn.Config, sockets: list[socket.socket]) -> None:
    """Serve on ``sockets`` until SIGINT/SIGTERM: in this process, or in ``config.workers`` children."""
    if config.workers > 1:
        supervisor = Multiprocess(config, sockets=sockets)
        supervisor.run()
        if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
            sys.exit(STARTUP_FAILURE)
    else:
        server = SingleProcessServer(config)
        server.run(sockets=sockets)
        if not server.started:
            sys.exit(STARTUP_FAILURE)
