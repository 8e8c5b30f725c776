"""The console's session cookie and its CSRF tokens.

A session is a signed cookie, ``<kind>.<account>.<AccessKeyId>.<expiry>.<nonce>.<mac>``, so any
worker process can check it with the key derived from the store's token secret; nothing about it
is kept in memory. ``kind`` is ``login`` (a root AccessKey was presented; ``account`` and the key
are the ones checked) or ``local`` (a loopback-only console, where no login is asked: the cookie
then exists only to tie each form's CSRF token to this browser). The login is checked against
the store on every request, so disabling or deleting the key ends its sessions at once.

Every form carries a CSRF token, an HMAC of the session cookie: a page of another site can
neither read it nor (SameSite=Strict) send the cookie, so its forged POST is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from ecsram.store.accounts import ACCESS_KEY_ID, ACCOUNT_ID

COOKIE = "ecsram_console"
SESSION_SECONDS = 12 * 3600
LOGIN = "login"
LOCAL = "local"


@dataclass(frozen=True, slots=True)
class Session:
    kind: str
    account_id: str  # "-" for a local session
    access_key_id: str  # "-" for a local session
    expires: int
    cookie: str


class SessionKeys:
    """The MACs of sessions and CSRF tokens, from a key derived from the store's token secret."""

    def __init__(self, token_secret: bytes) -> None:
        self._key = hmac.digest(token_secret, b"ecsram console session v1", "sha256")

    def _mac(self, purpose: str, text: str) -> str:
        return hmac.new(self._key, f"{purpose}\n{text}".encode(), hashlib.sha256).hexdigest()

    def issue(self, kind: str, account_id: str = "-", access_key_id: str = "-") -> str:
        expires = int(time.time()) + SESSION_SECONDS
        body = f"{kind}.{account_id}.{access_key_id}.{expires}.{secrets.token_hex(16)}"
        return f"{body}.{self._mac('session', body)}"

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie value names, if it is ours, intact and not expired."""
        if not cookie or len(cookie) > 400:
            return None
        parts = cookie.split(".")
        if len(parts) != 6:
            return None
        kind, account_id, access_key_id, expires, _nonce, mac = parts
        body = cookie[: -len(mac) - 1]
        if not hmac.compare_digest(mac, self._mac("session", body)):
            return None
        if not expires.isdigit() or int(expires) < time.time():
            return None
        if kind == LOGIN:
            if not ACCOUNT_ID.fullmatch(account_id) or not ACCESS_KEY_ID.fullmatch(access_key_id):
                return None
        elif kind != LOCAL:
            return None
        return Session(kind, account_id, access_key_id, int(expires), cookie)

    def csrf_token(self, session: Session) -> str:
        return self._mac("csrf", session.cookie)

    def csrf_ok(self, session: Session, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self.csrf_token(session).encode())


def cookie_header(value: str, *, secure: bool, max_age: int = SESSION_SECONDS) -> bytes:
    attributes = f"{COOKIE}={value}; Path=/_ecsram/console; Max-Age={max_age}; HttpOnly; SameSite=Strict"
    return (attributes + ("; Secure" if secure else "")).encode()


def cookie_value(header: str) -> str | None:
    """The session cookie's value in a Cookie header, if there is exactly one."""
    found = [
        part.split("=", 1)[1].strip()
        for part in header.split(";")
        if "=" in part and part.split("=", 1)[0].strip() == COOKIE
    ]
    return found[0] if len(found) == 1 else None
