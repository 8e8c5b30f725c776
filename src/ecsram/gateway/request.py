"""From an ASGI request to the API call it carries: method, headers, merged parameters.

Parameters come from the query string and an ``application/x-www-form-urlencoded`` body,
merged, with blank values kept (the v1 Python SDK signs ``SignatureType=``). V3 requests carry
Action and Version only in the ``x-acs-action`` / ``x-acs-version`` headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from ecsram.contract import errors
from ecsram.contract.call import HttpRequest

MAX_PARAMETERS = 1000
# NUL, the other C0 control characters but TAB, LF and CR, and DEL: no parameter name or value may
# hold one (NUL cannot even be stored on PostgreSQL). Two checks, each a fast scan of the raw bytes
# (one regular expression for both costs ~15 times as much): a table that maps them, and only them,
# to 0, and percent-escapes of them (a pattern starting with a literal: found by a quick search).
_CONTROL_BYTES = bytes(
    0 if (code < 0x20 and code not in (0x09, 0x0A, 0x0D)) or code == 0x7F else 1 for code in range(256)
)
_ESCAPED_CONTROL = re.compile(rb"%(?:0[0-8BbCcEeFf]|1[0-9A-Fa-f]|7[Ff])")


def http_request_from_scope(scope: dict[str, Any], body: bytes) -> HttpRequest:
    raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
    headers: dict[str, str] = {}
    for name, value in raw_headers:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]},{text}" if key in headers else text
    client = scope.get("client")
    return HttpRequest(
        method=scope["method"],
        query_string=scope.get("query_string", b""),
        raw_headers=raw_headers,
        headers=headers,
        body=body,
        client_ip=client[0] if client else "",
        secure=scope.get("scheme") == "https",
    )


def _unescape(text: str) -> str:
    if "+" in text:
        text = text.replace("+", " ")
    if "%" in text:
        text = unquote(text, encoding="utf-8", errors="strict")
    return text


def decode_pairs(raw: bytes, where: str) -> list[tuple[str, str]]:
    """Decode ``a=1&b=&c`` (``+`` is a space, blank values kept) strictly as UTF-8; NUL and the
    other control characters (but TAB, LF and CR) are never valid. What
    ``parse_qsl(keep_blank_values=True)`` does, at a fraction of the cost: this runs on every
    request."""
    if not raw:
        return []
    if raw.count(b"&") >= MAX_PARAMETERS:
        raise errors.ApiError("InvalidParameter", 400, f"The {where} has more than {MAX_PARAMETERS} parameters.")
    if 0 in raw.translate(_CONTROL_BYTES) or _ESCAPED_CONTROL.search(raw) is not None:
        message = f"The {where} holds a control character (of those, only TAB, LF and CR are allowed)."
        raise errors.ApiError("InvalidParameter.Encoding", 400, message)
    pairs = []
    try:
        for part in raw.decode("utf-8").split("&"):
            if part:
                name, _, value = part.partition("=")
                pairs.append((_unescape(name), _unescape(value)))
    except UnicodeDecodeError:
        raise errors.bad_encoding(where) from None
    return pairs


def _is_form(headers: dict[str, str]) -> bool:
    content_type = headers.get("content-type", "")
    return content_type.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded"


@dataclass(slots=True)
class ParsedParameters:
    query_pairs: list[tuple[str, str]]
    params: dict[str, str] = field(default_factory=dict)


def form_body(http: HttpRequest) -> bytes:
    """The body when it carries parameters (a form), else nothing."""
    return http.body if http.body and _is_form(http.headers) else b""


def parse_parameters(http: HttpRequest) -> ParsedParameters:
    """Merge query and form body; a name given twice is ambiguous and refused."""
    query_pairs = decode_pairs(http.query_string, "query string")
    body = form_body(http)
    body_pairs = decode_pairs(body, "request body") if body else []
    params: dict[str, str] = {}
    for name, value in (*query_pairs, *body_pairs):
        if name in params:
            raise errors.invalid_parameter(name[:128], "The parameter is given more than once.")
        params[name] = value
    return ParsedParameters(query_pairs, params)
