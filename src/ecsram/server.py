"""Start a server: prepare the store, refuse unsafe set-ups, bind, and run the workers."""

from __future__ import annotations

import os
import socket
import sys
import time
from dataclasses import dataclass

from ecsram.config import DEFAULT_ACCOUNT_ID, DEFAULT_ROOT_ACCESS_KEY_ID, DEFAULT_ROOT_ACCESS_KEY_SECRET, Settings
from ecsram.store import accounts
from ecsram.store import settings as stored_settings
from ecsram.store.database import Database, describe_url


class StartupRefused(Exception):
    """The server must not start as configured; the message says why and what to do."""


@dataclass(frozen=True)
class Bootstrap:
    created_account: accounts.AccessKey | None
    root_keys: list[tuple[str, str, str]]


def _initial_root_key() -> tuple[str, str, str, bool]:
    """Account ID, AccessKeyId, secret for the first account, and whether they are the defaults."""
    account_id = os.environ.get("ECSRAM_ACCOUNT_ID") or DEFAULT_ACCOUNT_ID
    key_id = os.environ.get("ECSRAM_ROOT_ACCESS_KEY_ID", "")
    secret = os.environ.get("ECSRAM_ROOT_ACCESS_KEY_SECRET", "")
    if bool(key_id) != bool(secret):
        raise StartupRefused("set both ECSRAM_ROOT_ACCESS_KEY_ID and ECSRAM_ROOT_ACCESS_KEY_SECRET, or neither")
    if key_id:
        return account_id, key_id, secret, False
    return account_id, DEFAULT_ROOT_ACCESS_KEY_ID, DEFAULT_ROOT_ACCESS_KEY_SECRET, True


def prepare_store(database: Database) -> Bootstrap:
    """Migrate; create the token secret and, on an empty store, the first account."""
    database.migrate()
    created = None
    with database.transaction() as tx:
        stored_settings.ensure_token_secret(tx)
        if accounts.count_accounts(tx) == 0:
            account_id, key_id, secret, _default = _initial_root_key()
            try:
                created = accounts.create_account(
                    tx, time.time(), account_id=account_id, access_key_id=key_id, access_key_secret=secret
                )
            except accounts.AccountConflict as exc:
                raise StartupRefused(f"cannot create the first account: {exc}") from exc
        keys = accounts.root_keys(tx)
    return Bootstrap(created, keys)


def check_safe_to_serve(settings: Settings, bootstrap: Bootstrap) -> None:
    if settings.loopback_only:
        return
    if any(key_id == DEFAULT_ROOT_ACCESS_KEY_ID and status == accounts.ACTIVE for key_id, _a, status in bootstrap.root_keys):
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


def banner(settings: Settings, sock: socket.socket, bootstrap: Bootstrap) -> str:
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    lines = [
        f"ecsram listening on http://{shown_host}:{port} ({settings.workers} worker{'s' if settings.workers > 1 else ''})",
        f"  database: {describe_url(settings.database_url)}",
    ]
    if bootstrap.created_account is not None:
        key = bootstrap.created_account
        lines.append(f"  created account {key.account_id}")
    for key_id, account_id, status in bootstrap.root_keys:
        if status != accounts.ACTIVE:
            continue
        if key_id == DEFAULT_ROOT_ACCESS_KEY_ID:
            lines.append(
                f"  account {account_id}: AccessKeyId {key_id}  AccessKeySecret {DEFAULT_ROOT_ACCESS_KEY_SECRET} (default)"
            )
        else:
            lines.append(f"  account {account_id}: AccessKeyId {key_id}")
    lines.append(f"  endpoint for SDKs: {shown_host}:{port}   health: http://{shown_host}:{port}/_ecsram/health")
    return "\n".join(lines)


def serve(settings: Settings) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    database = Database(settings.database_url)
    try:
        bootstrap = prepare_store(database)
    finally:
        database.close()
    check_safe_to_serve(settings, bootstrap)
    sock = bind(settings.host, settings.port)
    os.environ.update(settings.to_env())
    print(banner(settings, sock, bootstrap), flush=True)

    config = uvicorn.Config(
        "ecsram.app:create_app",
        factory=True,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=5,
        workers=settings.workers,
    )
    if settings.workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        server = uvicorn.Server(config)
        server.run(sockets=[sock])
        if not server.started:
            sys.exit(3)
