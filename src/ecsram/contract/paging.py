"""Opaque paging tokens (RAM ``Marker``, ECS ``NextToken``): the last key seen, base64url-encoded."""

from __future__ import annotations

import base64
import binascii
import re

# No key ecsram pages by holds a control character; NUL cannot even be stored on PostgreSQL.
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def encode(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def decode(token: str) -> str:
    """The key a token carries; ValueError if the token is not one ecsram issued."""
    try:
        key = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise ValueError("not a paging token") from None
    if not key or _CONTROL.search(key):
        raise ValueError("not a paging token")
    return key
