"""The web console at ``/_ecsram/console``: server-rendered pages over the store, and forms whose
actions are requests to the API itself (docs/console.md).

Who may use it:

- a loopback-only server (the default) answers loopback peers, with no login; a request whose
  Host is not a loopback name is refused too (a page of another site resolving its own name to
  127.0.0.1 must not reach the console);
- beyond loopback, or with ``--console-login``, only a browser that logged in with an account's
  root AccessKey (ID and secret, checked against the store), and only for that account.

Every POST carries the CSRF token of its session (see session.py) and, when the browser sends
one, an Origin that is this server's. Secrets are never read out for a page.

What an action does: attach, detach, stop and start are API calls (``AttachInstanceRamRole``, ...)
that the console signs with the account's root AccessKey and hands to the application as any
request to ``/``, so they run the same checks and answer the same errors, and the audit trail
records them. Reset and fault rules are requests to ``/_ecsram/reset`` and ``/_ecsram/faults`` for
a loopback console, and their signed forms (``ResetAccount``, ``AddFaultRule``,
``RemoveFaultRules``) for a logged-in one: the same code either way.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jinja2
import orjson

from ecsram.clock import Clock
from ecsram.config import Settings, is_loopback, parse_duration
from ecsram.console import queries
from ecsram.console.session import LOCAL, LOGIN, Session, SessionKeys, cookie_header, cookie_value
from ecsram.faults import rules
from ecsram.responses import Response
from ecsram.store import accounts, users
from ecsram.store import faults as stored_faults
from ecsram.store.accounts import ACCOUNT_ID
from ecsram.store.database import Database, DatabaseUnavailable

CONSOLE_PATH = "/_ecsram/console"
_PREFIX = CONSOLE_PATH + "/"
HTML = b"text/html;charset=utf-8"
FLASH_COOKIE = "ecsram_console_flash"
ECS_VERSION = "2014-05-26"
ECSRAM_VERSION = "2026-11-01"
LOGIN_FAILURE_DELAY = 0.5
# Login attempts per root AccessKey: a burst of LOGIN_ATTEMPTS, then one every LOGIN_REFILL_SECONDS.
LOGIN_ATTEMPTS = 10
LOGIN_REFILL_SECONDS = 90.0
# The bucket's action name in the store's throttle table, which no API action can have.
LOGIN_BUCKET = "console:login"

Scope = dict[str, Any]
Asgi = Callable[[Scope, Callable[[], Awaitable[dict[str, Any]]], Callable[[dict[str, Any]], Awaitable[None]]], Any]
Signer = Callable[[str, str, Mapping[str, str]], bytes]

_SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
    (b"x-frame-options", b"DENY"),
]
_STATIC = {"console.css": b"text/css;charset=utf-8", "console.js": b"text/javascript;charset=utf-8"}
_INSTANCE_ID = re.compile(r"i-[a-z0-9][a-z0-9\-]{0,62}")
_REGION = re.compile(r"[a-z0-9\-]{1,32}")
_AFTER = re.compile(r"[a-z0-9\-]{1,32}/i-[a-z0-9][a-z0-9\-]{0,62}")
_ROLE_AFTER = re.compile(r"[a-z0-9.\-_]{1,64}")  # a role's name key
_USER_AFTER = re.compile(r"[a-z0-9.@\-_]{1,64}")  # a RAM user's name key
_ACTION = re.compile(r"[A-Za-z0-9]{1,128}")
_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2})?Z?)?")
SINCE_CHOICES = ("15m", "1h", "24h", "7d")


def is_console_path(path: str) -> bool:
    return path == CONSOLE_PATH or path.startswith(_PREFIX)


@dataclass
class Outcome:
    """What an action answered: shown on the next page."""

    ok: bool
    text: str


class Forbidden(Exception):
    pass


class Console:
    """One per worker process: renders pages, checks sessions, and sends actions through ``app``."""

    def __init__(
        self, settings: Settings, database: Database, clock: Clock, app: Asgi, sign: Signer, token_secret: bytes
    ) -> None:
        """``token_secret``: the store's token secret (``store.settings.ensure_token_secret``),
        from which the session keys are derived."""
        self.settings = settings
        self.database = database
        self.clock = clock
        self.app = app
        self.sign = sign
        self.keys = SessionKeys(token_secret)
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("ecsram.console", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.static = {name: (resources.files("ecsram.console") / "static" / name).read_bytes() for name in _STATIC}

    # --- entry ------------------------------------------------------------------------------------

    async def handle(self, scope: Scope, body: bytes) -> Response:
        started = time.perf_counter()
        path = scope["path"]
        page = path[len(_PREFIX) :] if path.startswith(_PREFIX) else ""
        method = scope["method"]
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        if page.startswith("static/") and page[7:] in _STATIC:
            response = Response(200, self.static[page[7:]], _STATIC[page[7:]])
            response.headers = [(b"cache-control", b"max-age=300"), (b"x-content-type-options", b"nosniff")]
            return response
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            return self._message(403, "Not here", refusal)
        session = self.keys.read(cookie_value(headers.get("cookie", "")))
        set_cookie: list[bytes] = []
        if session is None or (session.kind == LOGIN and not self._login_valid(session)):
            fresh = self.keys.issue(LOCAL)
            session = self.keys.read(fresh)
            assert session is not None
            set_cookie.append(cookie_header(fresh, secure=self._secure(scope)))
            if method == "POST" and page != "login":
                return self._with_cookies(self._redirect(scope, "login" if self._needs_login else ""), set_cookie)
        try:
            if method == "POST":
                form = self._form(headers, body)
                if not self._origin_ok(scope, headers) or not self.keys.csrf_ok(session, form.get("csrf", "")):
                    return self._message(
                        403, "Form expired", "This form is stale or did not come from this console: reload the page."
                    )
                response = await self._post(scope, session, page, form)
            elif method in ("GET", "HEAD"):
                response = self._get(scope, session, page, headers, started)
            else:
                response = self._message(405, "Method not allowed", "The console takes GET and POST.")
                response.headers.append((b"allow", b"GET, HEAD, POST"))
        except DatabaseUnavailable as exc:
            response = self._message(503, "Database unavailable", str(exc))
        except Forbidden as exc:
            response = self._message(403, "Not allowed", str(exc))
        return self._with_cookies(response, set_cookie)

    @property
    def _needs_login(self) -> bool:
        return self.settings.console_needs_login

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> str | None:
        if self._needs_login:
            return None
        client = scope.get("client")
        if not client or not is_loopback(str(client[0])):
            return "This console answers loopback clients only."
        host = headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if host and not is_loopback(name.strip("[]")):
            return "This console answers requests for a loopback address or localhost only."
        return None

    def _secure(self, scope: Scope) -> bool:
        return scope.get("scheme") == "https"

    def _origin_ok(self, scope: Scope, headers: dict[str, str]) -> bool:
        origin = headers.get("origin")
        if origin is None:
            return True
        return origin == f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"

    def _login_valid(self, session: Session) -> bool:
        with self.database.transaction(write=False) as tx:
            key = accounts.find_access_key(tx, session.access_key_id)
        return (
            key is not None
            and key.user_id is None
            and key.account_id == session.account_id
            and key.status == accounts.ACTIVE
        )

    @staticmethod
    def _form(headers: dict[str, str], body: bytes) -> dict[str, str]:
        if headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            return {}
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100))
        except (UnicodeDecodeError, ValueError):
            return {}

    # --- responses ----------------------------------------------------------------------------

    def _render(self, template: str, status: int = 200, **context: Any) -> Response:
        html = self.templates.get_template(template).render(**context)
        return Response(status, html.encode(), HTML, headers=list(_SECURITY_HEADERS))

    def _message(self, status: int, title: str, text: str) -> Response:
        return self._render("message.html", status, title=title, text=text, nav=None, csrf="", flash=None)

    def _redirect(self, scope: Scope, page: str, query: Mapping[str, str] | None = None) -> Response:
        target = f"{_PREFIX}{page}" if page else CONSOLE_PATH
        if query:
            target += "?" + urlencode({k: v for k, v in query.items() if v})
        return Response(303, b"", HTML, headers=[(b"location", target.encode()), *_SECURITY_HEADERS])

    @staticmethod
    def _with_cookies(response: Response, cookies: list[bytes]) -> Response:
        response.headers.extend((b"set-cookie", cookie) for cookie in cookies)
        return response

    def _flash_cookie(self, scope: Scope, outcome: Outcome) -> bytes:
        value = base64.urlsafe_b64encode(orjson.dumps({"ok": outcome.ok, "text": outcome.text[:1500]})).decode()
        secure = "; Secure" if self._secure(scope) else ""
        return f"{FLASH_COOKIE}={value}; Path=/_ecsram/console; Max-Age=60; HttpOnly; SameSite=Strict{secure}".encode()

    @staticmethod
    def _read_flash(headers: dict[str, str]) -> Outcome | None:
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == FLASH_COOKIE and value:
                try:
                    data = orjson.loads(base64.urlsafe_b64decode(value.encode()))
                    return Outcome(bool(data["ok"]), str(data["text"]))
                except (ValueError, KeyError, TypeError):
                    return None
        return None

    # --- GET ----------------------------------------------------------------------------------

    def _account(self, session: Session, requested: str | None, tx: Any) -> str | None:
        """The account a page shows: the logged-in one, or the one asked for (default: the first)."""
        if session.kind == LOGIN:
            if requested and requested != session.account_id:
                raise Forbidden("You are logged in to another account.")
            return session.account_id
        if requested and ACCOUNT_ID.fullmatch(requested) and queries.account_exists(tx, requested):
            return requested
        ids = queries.account_ids(tx)
        return ids[0] if ids else None

    def _get(self, scope: Scope, session: Session, page: str, headers: dict[str, str], started: float) -> Response:
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), max_num_fields=20))
        if page == "login":
            if not self._needs_login:
                return self._redirect(scope, "")
            return self._render("login.html", csrf=self.keys.csrf_token(session), nav=None, flash=None, error=None)
        if self._needs_login and session.kind != LOGIN:
            return self._redirect(scope, "login")
        flash = self._read_flash(headers)
        pages = {
            "": self._accounts_page,
            "accounts": self._accounts_page,
            "instances": self._instances_page,
            "roles": self._roles_page,
            "users": self._users_page,
            "trail": self._trail_page,
            "faults": self._faults_page,
        }
        if page not in pages:
            return self._message(404, "Not found", f"There is no console page {page[:64]!r}.")
        with self.database.transaction(write=False) as tx:
            account = self._account(session, query.get("account"), tx)
            all_accounts = [account] if session.kind == LOGIN else queries.account_ids(tx)
            if account is not None and account not in all_accounts:
                all_accounts.append(account)
            context: dict[str, Any] = {
                "nav": page or "accounts",
                "csrf": self.keys.csrf_token(session),
                "flash": flash,
                "account": account,
                "accounts": all_accounts,
                "logged_in": session.kind == LOGIN,
                "login_account": session.account_id if session.kind == LOGIN else None,
            }
            template, extra = pages[page](tx, account, query, session)
        context.update(extra)
        if query.get("fragment") == "1" and page == "trail":
            template = "trail_rows.html"
        context["render_ms"] = f"{(time.perf_counter() - started) * 1000:.1f}"
        response = self._render(template, **context)
        response.headers.append((b"server-timing", f"render;dur={context['render_ms']}".encode()))
        if flash is not None:
            response.headers.append((b"set-cookie", f"{FLASH_COOKIE}=; Path=/_ecsram/console; Max-Age=0".encode()))
        return response

    def _accounts_page(self, tx: Any, account: str | None, query: dict[str, str], session: Session) -> Any:
        only = session.account_id if session.kind == LOGIN else None
        total = 1 if only is not None else queries.account_count(tx)
        return "accounts.html", {"views": queries.account_views(tx, only, account), "total_accounts": total}

    def _instances_page(self, tx: Any, account: str | None, query: dict[str, str], session: Session) -> Any:
        if account is None:
            return "instances.html", {"page": None, "roles": [], "role_choices": True, "region": "", "after": ""}
        region = query.get("region", "")
        region = region if _REGION.fullmatch(region) else ""
        after = query.get("after", "")
        after = after if _AFTER.fullmatch(after) else ""
        page = queries.instance_page(tx, account, region=region or None, after=after)
        # One more name than suggested tells whether the account has more roles than that.
        names = queries.role_names(tx, account, limit=queries.ROLE_SUGGESTIONS + 1)
        return "instances.html", {
            "page": page,
            "roles": names[: queries.ROLE_SUGGESTIONS],
            "more_roles": len(names) > queries.ROLE_SUGGESTIONS,
            "role_choices": len(names) <= queries.ROLE_CHOICES,
            "region": region,
            "after": after,
        }

    def _roles_page(self, tx: Any, account: str | None, query: dict[str, str], session: Session) -> Any:
        if account is None:
            return "roles.html", {"page": None, "after": ""}
        after = query.get("after", "")
        after = after if _ROLE_AFTER.fullmatch(after) else ""
        return "roles.html", {"page": queries.role_page(tx, account, after=after), "after": after}

    def _users_page(self, tx: Any, account: str | None, query: dict[str, str], session: Session) -> Any:
        if account is None:
            return "users.html", {"root_keys": [], "page": None, "after": ""}
        after = query.get("after", "")
        after = after if _USER_AFTER.fullmatch(after) else ""
        page = queries.user_page(tx, account, after=after)
        return "users.html", {"root_keys": queries.root_keys(tx, account), "page": page, "after": after}

    def _trail_page(self, tx: Any, account: str | None, query: dict[str, str], session: Session) -> Any:
        action = query.get("action", "").strip()
        since = query.get("since", "").strip() or "1h"
        problems = []
        if action and not _ACTION.fullmatch(action):
            problems.append("Action is an API action name, e.g. AttachInstanceRamRole.")
            action = ""
        since_ms = _since_ms(since)
        if since_ms is None:
            problems.append("Since is an age (15m, 1h, 24h, 7d) or a UTC time (2026-11-30T13:00:00Z).")
            since, since_ms = "1h", _since_ms("1h")
        assert since_ms is not None
        if session.kind == LOGIN:
            filtered: str | None = session.account_id
        else:
            wanted = query.get("account", "")
            filtered = wanted if ACCOUNT_ID.fullmatch(wanted) else None
        events = queries.trail_events_page(tx, account_id=filtered, action=action or None, since_ms=since_ms)
        return "trail.html", {
            "events": events,
            "action": action,
            "since": since,
            "since_choices": SINCE_CHOICES,
            "filtered_account": filtered or "",
            "problems": problems,
            "trail_on": self.settings.trail,
            # A submitted filter form says whether to follow; a link or a first visit follows.
            "live": query.get("live") == "1" or "filtered" not in query,
        }

    def _faults_page(self, tx: Any, account: str | None, query: dict[str, str], session: Session) -> Any:
        only = session.account_id if session.kind == LOGIN else None
        shown = (
            "account",
            "product",
            "instance_id",
            "code",
            "status",
            "message",
            "latency_ms",
            "probability",
            "remaining",
        )
        found = [
            dict.fromkeys((*shown, "expires_at")) | rules.document(rule)
            for rule in queries.fault_rules(tx, only, time.time())
        ]
        return "faults.html", {
            "rules": found,
            "effects": rules.EFFECTS,
            "products": rules.PRODUCTS,
            "known_codes": rules.KNOWN_CODES,
        }

    # --- POST ---------------------------------------------------------------------------------

    async def _post(self, scope: Scope, session: Session, page: str, form: dict[str, str]) -> Response:
        if page == "login":
            return await self._login(scope, session, form)
        if page == "logout":
            response = self._redirect(scope, "login" if self._needs_login else "")
            response.headers.append((b"set-cookie", cookie_header("", secure=self._secure(scope), max_age=0)))
            return response
        if self._needs_login and session.kind != LOGIN:
            return self._redirect(scope, "login")
        actions = {
            "instances/attach": self._attach,
            "instances/detach": self._detach,
            "instances/stop": self._stop,
            "instances/start": self._start,
            "accounts/reset": self._reset,
            "faults/add": self._add_rule,
            "faults/remove": self._remove_rule,
        }
        if page not in actions:
            return self._message(404, "Not found", f"There is no console action {page[:64]!r}.")
        account = form.get("account", "")
        if session.kind == LOGIN:
            if account and account != session.account_id:
                raise Forbidden("You are logged in to another account.")
            account = session.account_id
        elif account and not ACCOUNT_ID.fullmatch(account):
            account = ""
        back_page, back_query, outcome = await actions[page](scope, session, account, form)
        response = self._redirect(scope, back_page, back_query)
        response.headers.append((b"set-cookie", self._flash_cookie(scope, outcome)))
        return response

    async def _login(self, scope: Scope, session: Session, form: dict[str, str]) -> Response:
        if not self._needs_login:
            return self._redirect(scope, "")
        key_id = form.get("access_key_id", "").strip()
        secret = form.get("access_key_secret", "")
        key = None
        allowed = True
        if accounts.ACCESS_KEY_ID.fullmatch(key_id):
            with self.database.transaction() as tx:
                key = accounts.find_access_key(tx, key_id)
                if key is not None:
                    # Every attempt at an existing key takes a token from its bucket in the store
                    # (shared by all workers): a guess at its secret costs as much in parallel.
                    refill = 1.0 / LOGIN_REFILL_SECONDS
                    now = self.clock.wall()
                    allowed = stored_faults.take_token(tx, key_id, LOGIN_BUCKET, now, refill, LOGIN_ATTEMPTS)
        if not allowed:
            error = "Too many login attempts with this AccessKey ID: try again in a few minutes."
            response = await self._login_refused(session, 429, error)
            response.headers.append((b"retry-after", str(int(LOGIN_REFILL_SECONDS)).encode()))
            return response
        good = (
            key is not None
            and key.user_id is None
            and key.status == accounts.ACTIVE
            and hmac.compare_digest(key.secret.encode(), secret.encode())
        )
        if not good or key is None:
            error = "The AccessKey ID or secret is wrong, or the key is not an active root AccessKey of an account."
            return await self._login_refused(session, 401, error)
        issued = self.keys.issue(LOGIN, key.account_id, key.access_key_id)
        response = self._redirect(scope, "")
        response.headers.append((b"set-cookie", cookie_header(issued, secure=self._secure(scope))))
        return response

    async def _login_refused(self, session: Session, status: int, error: str) -> Response:
        await asyncio.sleep(LOGIN_FAILURE_DELAY)
        return self._render("login.html", status, csrf=self.keys.csrf_token(session), nav=None, flash=None, error=error)

    # --- actions ------------------------------------------------------------------------------

    def _root_key(self, session: Session, account: str) -> tuple[str, str] | None:
        with self.database.transaction(write=False) as tx:
            if session.kind == LOGIN:
                key = accounts.find_access_key(tx, session.access_key_id)
                return (key.access_key_id, key.secret) if key is not None else None
            for stored in users.keys_of(tx, account, None):
                if stored.key.status == accounts.ACTIVE:
                    return stored.key.access_key_id, stored.key.secret
        return None

    async def _dispatch(
        self, scope: Scope, method: str, path: str, query: bytes, body: bytes, content_type: bytes
    ) -> tuple[int, dict[str, Any]]:
        """Hand a request to the application as if it had arrived from this browser."""
        inner: Scope = {
            "type": "http",
            "asgi": scope.get("asgi", {"version": "3.0"}),
            "http_version": scope.get("http_version", "1.1"),
            "method": method,
            "scheme": scope.get("scheme", "http"),
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": [
                (b"host", dict(scope["headers"]).get(b"host", b"127.0.0.1")),
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"user-agent", b"ecsram-console"),
            ],
            "client": scope.get("client"),
            "server": scope.get("server"),
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # never: the application reads the body once
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        status = 500
        chunks: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(inner, receive, send)
        try:
            document = orjson.loads(b"".join(chunks))
        except orjson.JSONDecodeError:
            document = {}
        return status, document if isinstance(document, dict) else {}

    async def _api(
        self, scope: Scope, session: Session, account: str, params: dict[str, str]
    ) -> Outcome | dict[str, Any]:
        """An API call as the account's root principal: the answer's body, or the refusal shown."""
        action = params["Action"]
        if not account:
            return Outcome(False, f"{action}: choose an account first.")
        key = self._root_key(session, account)
        if key is None:
            return Outcome(False, f"{action}: account {account} has no active root AccessKey to act with.")
        body = self.sign(key[0], key[1], params)
        status, document = await self._dispatch(scope, "POST", "/", b"", body, b"application/x-www-form-urlencoded")
        if status != 200:
            return _refused(action, status, document)
        return document

    async def _attach(self, scope: Scope, session: Session, account: str, form: dict[str, str]) -> Any:
        back = _instances_back(account, form)
        role = form.get("role", "")
        if not role:
            return "instances", back, Outcome(False, "AttachInstanceRamRole: choose a role to attach.")
        params = {
            "Action": "AttachInstanceRamRole",
            "Version": ECS_VERSION,
            "RegionId": form.get("region", ""),
            "RamRoleName": role,
            "InstanceIds": json.dumps([form.get("instance", "")]),
        }
        result = await self._api(scope, session, account, params)
        return "instances", back, _batch_outcome(result, "AttachInstanceRamRole", f"attached {role} to")

    async def _detach(self, scope: Scope, session: Session, account: str, form: dict[str, str]) -> Any:
        params = {
            "Action": "DetachInstanceRamRole",
            "Version": ECS_VERSION,
            "RegionId": form.get("region", ""),
            "InstanceIds": json.dumps([form.get("instance", "")]),
        }
        result = await self._api(scope, session, account, params)
        return (
            "instances",
            _instances_back(account, form),
            _batch_outcome(result, "DetachInstanceRamRole", "detached the role of"),
        )

    async def _stop(self, scope: Scope, session: Session, account: str, form: dict[str, str]) -> Any:
        return await self._power(scope, session, account, form, "StopInstance", "stopped")

    async def _start(self, scope: Scope, session: Session, account: str, form: dict[str, str]) -> Any:
        return await self._power(scope, session, account, form, "StartInstance", "started")

    async def _power(
        self, scope: Scope, session: Session, account: str, form: dict[str, str], action: str, done: str
    ) -> Any:
        instance = form.get("instance", "")
        params = {"Action": action, "Version": ECS_VERSION, "InstanceId": instance}
        result = await self._api(scope, session, account, params)
        if isinstance(result, Outcome):
            return "instances", _instances_back(account, form), result
        return (
            "instances",
            _instances_back(account, form),
            Outcome(True, f"{action}: {done} {instance} (request {result.get('RequestId', '')})."),
        )

    async def _reset(self, scope: Scope, session: Session, account: str, form: dict[str, str]) -> Any:
        back = {"account": account}
        if not account:
            return "accounts", back, Outcome(False, "Reset: choose an account.")
        if form.get("confirm") != account:
            return (
                "accounts",
                back,
                Outcome(False, f"Reset: type the account ID {account} to confirm; nothing was changed."),
            )
        if session.kind == LOGIN:
            result = await self._api(scope, session, account, {"Action": "ResetAccount", "Version": ECSRAM_VERSION})
            if isinstance(result, Outcome):
                return "accounts", back, result
            return "accounts", back, Outcome(True, f"Reset account {account} (request {result.get('RequestId', '')}).")
        status, document = await self._dispatch(
            scope, "POST", "/_ecsram/reset", urlencode({"account": account}).encode(), b"", b"text/plain"
        )
        if status != 200:
            return "accounts", back, _refused("Reset", status, document)
        return "accounts", back, Outcome(True, f"Reset account {account}: its resources are gone, its seed restored.")

    async def _add_rule(self, scope: Scope, session: Session, account: str, form: dict[str, str]) -> Any:
        back = {"account": account} if session.kind != LOGIN else {}
        declared: dict[str, Any] = {}
        for name in rules.FIELDS:
            if name in ("account", "expires_at"):
                continue  # the account is the console's; a rule from the page expires by ttl_seconds
            value = form.get(name, "").strip()
            if value:
                declared[name] = value
        rule_account = form.get("rule_account", "").strip()
        if session.kind == LOGIN:
            result = await self._api(
                scope,
                session,
                session.account_id,
                {"Action": "AddFaultRule", "Version": ECSRAM_VERSION, "Rule": orjson.dumps(declared).decode()},
            )
            if isinstance(result, Outcome):
                return "faults", back, result
            return "faults", back, Outcome(True, f"Added fault rule {result.get('Rule', {}).get('id', '')}.")
        if rule_account:
            declared["account"] = rule_account
        status, document = await self._dispatch(
            scope, "POST", "/_ecsram/faults", b"", orjson.dumps(declared), b"application/json"
        )
        if status != 201:
            return "faults", back, _refused("Add fault rule", status, document)
        return "faults", back, Outcome(True, f"Added fault rule {document.get('rule', {}).get('id', '')}.")

    async def _remove_rule(self, scope: Scope, session: Session, account: str, form: dict[str, str]) -> Any:
        back = {"account": account} if session.kind != LOGIN else {}
        rule_id = form.get("rule", "")
        if not rules.is_rule_id(rule_id):
            return "faults", back, Outcome(False, "Remove fault rule: that is not a rule ID (fr-...).")
        if session.kind == LOGIN:
            result = await self._api(
                scope,
                session,
                session.account_id,
                {"Action": "RemoveFaultRules", "Version": ECSRAM_VERSION, "RuleId": rule_id},
            )
            if isinstance(result, Outcome):
                return "faults", back, result
            return "faults", back, Outcome(True, f"Removed fault rule {rule_id}.")
        status, document = await self._dispatch(scope, "DELETE", f"/_ecsram/faults/{rule_id}", b"", b"", b"text/plain")
        if status != 200:
            return "faults", back, _refused("Remove fault rule", status, document)
        return "faults", back, Outcome(True, f"Removed fault rule {rule_id}.")


def _instances_back(account: str, form: dict[str, str]) -> dict[str, str]:
    back = {"account": account}
    for name in ("region_filter", "after"):
        value = form.get(name, "")
        if value:
            back["region" if name == "region_filter" else name] = value
    return back


def _refused(action: str, status: int, document: dict[str, Any]) -> Outcome:
    code = document.get("Code") or document.get("code") or f"HTTP {status}"
    message = document.get("Message") or document.get("message") or ""
    request_id = document.get("RequestId")
    suffix = f" (request {request_id})" if request_id else ""
    return Outcome(False, f"{action} refused: {code} ({status}): {message}{suffix}")


def _batch_outcome(result: Outcome | dict[str, Any], action: str, done: str) -> Outcome:
    """Attach and detach answer 200 with a result per instance: a failed one is shown as failed."""
    if isinstance(result, Outcome):
        return result
    key = "AttachInstanceRamRoleResults" if action.startswith("Attach") else "DetachInstanceRamRoleResults"
    item = result.get(key, {}).get(key[:-1], [{}])
    first = item[0] if item else {}
    instance = first.get("InstanceId", "")
    if result.get("FailCount", 0):
        return Outcome(False, f"{action} failed for {instance}: {first.get('Code', '')}: {first.get('Message', '')}")
    return Outcome(True, f"{action}: {done} {instance} (request {result.get('RequestId', '')}).")


def _since_ms(text: str) -> int | None:
    seconds = parse_duration(text)
    if seconds is not None:
        return int((time.time() - seconds) * 1000)
    if _ISO.fullmatch(text):
        shape = (
            "%Y-%m-%d"
            if len(text) == 10
            else ("%Y-%m-%dT%H:%M" if len(text.rstrip("Z")) == 16 else "%Y-%m-%dT%H:%M:%S")
        )
        try:
            moment = datetime.strptime(text.rstrip("Z"), shape).replace(tzinfo=UTC)
        except ValueError:
            return None
        return int(moment.timestamp() * 1000)
    return None
