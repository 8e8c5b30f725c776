"""``/_ecsram/faults``: list, add and remove fault rules (loopback peers only, like reset/state).

Beyond loopback, the signed operations ``AddFaultRule``, ``ListFaultRules`` and
``RemoveFaultRules`` (Version 2026-11-01, admin/operations.py) do the same for the account whose
root AccessKey signs them.

    GET    /_ecsram/faults[?account=ID]       the rules in force (an account's, or all)
    POST   /_ecsram/faults                    add one rule: a JSON object (docs/faults.md)
    DELETE /_ecsram/faults[?account=ID]       remove every rule (or an account's)
    DELETE /_ecsram/faults/<id>               remove one rule

A change is answered once every worker applies it (``SETTLE_SECONDS``, see faults/injector.py).
Bad input is answered 400 and changes nothing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import parse_qsl

import orjson

from ecsram.config import is_loopback
from ecsram.faults import rules
from ecsram.faults.injector import SETTLE_SECONDS, FaultInjector
from ecsram.responses import JSON_CONTENT_TYPE, Response
from ecsram.store import faults as stored
from ecsram.store.accounts import ACCOUNT_ID
from ecsram.store.database import Database, DatabaseUnavailable

FAULTS_PATH = "/_ecsram/faults"
_PREFIX = FAULTS_PATH + "/"


def is_faults_path(path: str) -> bool:
    return path == FAULTS_PATH or path.startswith(_PREFIX)


def _answer(status: int, document: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    return Response(status, orjson.dumps(document), JSON_CONTENT_TYPE, headers=headers or [])


def _refuse(status: int, code: str, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    response = _answer(status, {"status": "refused", "code": code, "message": message}, headers)
    response.error_code = code
    return response


def _account(scope: dict[str, Any]) -> str | Response | None:
    account: str | None = None
    for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True):
        if name != "account":
            return _refuse(400, "InvalidParameter", f"unknown parameter {name[:64]!r}: {FAULTS_PATH} takes account")
        if account is not None:
            return _refuse(400, "InvalidParameter", "parameter 'account' is given twice")
        account = value
    if account is not None and not ACCOUNT_ID.fullmatch(account):
        return _refuse(400, "InvalidParameter.Account", f"account {account[:64]!r} is not an account ID (16 digits)")
    return account


async def handle(
    database: Database, injector: FaultInjector | None, scope: dict[str, Any], path: str, body: bytes
) -> Response:
    client = scope.get("client")
    if not client or not is_loopback(str(client[0])):
        return _refuse(
            403,
            "Forbidden.NotLoopback",
            f"{FAULTS_PATH} answers loopback clients only. From elsewhere, call AddFaultRule, ListFaultRules or "
            "RemoveFaultRules (Version 2026-11-01) on the API endpoint, signed with the account's root AccessKey.",
        )
    method = scope["method"]
    rule_id = path[len(_PREFIX) :] if path.startswith(_PREFIX) else None
    allowed = "DELETE" if rule_id is not None else "GET, HEAD, POST, DELETE"
    if method not in allowed.split(", "):
        return _refuse(
            405, "MethodNotAllowed", f"{path[:64]} takes {allowed}, not {method[:16]}.", [(b"allow", allowed.encode())]
        )
    account = _account(scope)
    if isinstance(account, Response):
        return account
    try:
        if method in ("GET", "HEAD"):
            with database.transaction(write=False) as tx:
                found = stored.live_rules(tx, time.time())
            shown = [rules.document(rule) for rule in found if account is None or rule.account_id == account]
            return _answer(200, {"rules": shown})
        if method == "POST":
            if account is not None:
                return _refuse(400, "InvalidParameter", "give the account in the rule's body, not in the query")
            try:
                declared = orjson.loads(body)
            except orjson.JSONDecodeError:
                return _refuse(400, "InvalidParameter.Body", "the body is not a JSON object of rule fields")
            try:
                rule = rules.parse(declared, time.time())
            except rules.RuleError as exc:
                return _refuse(400, "InvalidParameter.Rule", str(exc))
            with database.transaction() as tx:
                stored.prune(tx, time.time())
                stored.insert_rule(tx, rule)
            await _settle(injector)
            return _answer(201, {"status": "added", "rule": rules.document(rule)})
        if rule_id is not None:
            if not rules.is_rule_id(rule_id):
                return _refuse(400, "InvalidParameter.RuleId", f"{rule_id[:64]!r} is not a rule ID (fr-...)")
            with database.transaction() as tx:
                removed = stored.delete_rule(tx, rule_id, account)
            if not removed:
                return _refuse(404, "EntityNotExist.FaultRule", f"there is no rule {rule_id}")
            await _settle(injector)
            return _answer(200, {"status": "removed", "removed": 1})
        with database.transaction() as tx:
            count = stored.delete_all(tx, account)
        await _settle(injector)
        return _answer(200, {"status": "removed", "removed": count})
    except DatabaseUnavailable as exc:
        return _refuse(503, "ServiceUnavailable", f"database unavailable: {exc}")


async def _settle(injector: FaultInjector | None) -> None:
    if injector is not None:
        injector.invalidate()
    await asyncio.sleep(SETTLE_SECONDS)
