"""The console's session cookies and CSRF tokens (pure code; the browser tests use them for real)."""

from __future__ import annotations

import time

import pytest

from ecsram.console import session as console_session
from ecsram.console.session import LOCAL, LOGIN, SessionKeys, cookie_value

KEYS = SessionKeys(b"k" * 32)


def test_a_session_reads_back_and_its_csrf_token_checks() -> None:
    cookie = KEYS.issue(LOGIN, "1000000000000001", "LTAI5tEcsramDefaultRoot1")
    found = KEYS.read(cookie)
    assert found is not None and found.kind == LOGIN and found.account_id == "1000000000000001"
    token = KEYS.csrf_token(found)
    assert KEYS.csrf_ok(found, token)
    assert not KEYS.csrf_ok(found, token[:-1] + ("0" if token[-1] != "0" else "1"))
    other = KEYS.read(KEYS.issue(LOCAL))
    assert other is not None and not KEYS.csrf_ok(other, token)  # a token is tied to its session


def test_a_tampered_foreign_or_malformed_cookie_is_no_session() -> None:
    cookie = KEYS.issue(LOGIN, "1000000000000001", "LTAI5tEcsramDefaultRoot1")
    forged = cookie.replace("1000000000000001", "1000000000000002")
    assert KEYS.read(forged) is None
    assert SessionKeys(b"x" * 32).read(cookie) is None
    for junk in ("", "a.b.c", "login.x.y.1.2.3", "." * 5, "z" * 500):
        assert KEYS.read(junk) is None


def test_an_expired_session_is_no_session() -> None:
    cookie = KEYS.issue(LOCAL)
    later = time.time() + console_session.SESSION_SECONDS + 5
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(console_session.time, "time", lambda: later)
        assert KEYS.read(cookie) is None


def test_the_cookie_header_is_read_only_when_unambiguous() -> None:
    assert cookie_value("a=1; ecsram_console=v; b=2") == "v"
    assert cookie_value("ecsram_console=v; ecsram_console=w") is None
    assert cookie_value("other=1") is None
