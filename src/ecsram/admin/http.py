"""``POST /_ecsram/reset`` and ``GET /_ecsram/state``: for loopback peers only.

Anyone who can reach the server on loopback already controls it (and its database file), so
these endpoints need no credentials there. A peer beyond loopback is refused with 403 and told
to use the signed API operations ``ResetAccount`` and ``DescribeAccountState`` (Version
2026-11-01, see services/ecsram.py) with the account's root AccessKey: the request is then
signed like any API call, its secret never travels, and it can act on its own account only.

Bad input (an unknown parameter, a malformed or unknown account, the wrong method) is answered
400/404/405 and changes nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson

from ecsram.admin import world
from ecsram.admin.seedfile import SeedError
from ecsram.clock import Clock
from ecsram.config import is_loopback
from ecsram.responses import JSON_CONTENT_TYPE, Response
from ecsram.store.accounts import ACCOUNT_ID
from ecsram.store.database import Database, DatabaseUnavailable

RESET_PATH = "/_ecsram/reset"
STATE_PATH = "/_ecsram/state"
PATHS = frozenset((RESET_PATH, STATE_PATH))

_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no", "")


def _answer(status: int, document: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    return Response(status, orjson.dumps(document), JSON_CONTENT_TYPE, headers=headers or [])


def _refuse(status: int, code: str, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    response = _answer(status, {"status": "refused", "code": code, "message": message}, headers)
    response.error_code = code
    return response


def _peer_is_loopback(scope: dict[str, Any]) -> bool:
    client: tuple[str, int] | None = scope.get("client")
    if not client:
        return False
    return is_loopback(str(client[0]))


def handle(database: Database, clock: Clock, scope: dict[str, Any], path: str) -> Response:
    if not _peer_is_loopback(scope):
        return _refuse(
            403,
            "Forbidden.NotLoopback",
            f"{path} answers loopback clients only. From elsewhere, call ResetAccount or DescribeAccountState "
            "(Version 2026-11-01) on the API endpoint, signed with the account's root AccessKey.",
        )
    method = scope["method"]
    wanted = "POST" if path == RESET_PATH else "GET"
    if method != wanted and not (wanted == "GET" and method == "HEAD"):
        return _refuse(
            405, "MethodNotAllowed", f"{path} takes {wanted}, not {method[:16]}.", [(b"allow", wanted.encode())]
        )

    allowed = ("account", "forget_seed") if path == RESET_PATH else ("account",)
    query: dict[str, str] = {}
    for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True):
        if name not in allowed:
            return _refuse(
                400, "InvalidParameter", f"unknown parameter {name[:64]!r}: {path} takes {', '.join(allowed)}"
            )
        if name in query:
            return _refuse(400, "InvalidParameter", f"parameter {name!r} is given twice")
        query[name] = value
    account = query.get("account")
    if account is not None and not ACCOUNT_ID.fullmatch(account):
        return _refuse(400, "InvalidParameter.Account", f"account {account[:64]!r} is not an account ID (16 digits)")
    forget = query.get("forget_seed", "").lower()
    if forget not in _TRUE + _FALSE:
        return _refuse(400, "InvalidParameter.ForgetSeed", "forget_seed is true or false")

    try:
        if path == RESET_PATH:
            with database.transaction() as tx:
                result = world.reset(tx, clock.now(tx), account, forget_seed=forget in _TRUE)
            return _answer(200, {"status": "reset", **result})
        with database.transaction(write=False) as tx:
            return _answer(200, world.state(tx, account))
    except world.UnknownAccount as exc:
        return _refuse(404, "EntityNotExist.Account", str(exc))
    except SeedError as exc:  # a stored seed no longer applies (e.g. after a downgrade)
        return _refuse(409, "SeedFailed", f"the reset was undone: {exc}")
    except DatabaseUnavailable as exc:
        return _refuse(503, "ServiceUnavailable", f"database unavailable: {exc}")
