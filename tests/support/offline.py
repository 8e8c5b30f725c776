"""The hand-rolled signer of ``raw.py``, without a network: it builds the same signed request
and hands it back as the ``HttpRequest`` the server would have parsed, for unit tests of the
request path that need no server process."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecsram.contract.call import HttpRequest
from ecsram.gateway.request import http_request_from_scope
from tests.support.raw import RawClient, RawResponse


def http_request(
    method: str,
    target: str = "/",
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    *,
    client_ip: str = "127.0.0.1",
) -> HttpRequest:
    """An ``HttpRequest`` as the ASGI server would deliver ``method target`` with these headers."""
    _path, _, query = target.partition("?")
    raw_headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in (headers or {}).items()]
    scope = {
        "method": method,
        "query_string": query.encode("latin-1"),
        "headers": raw_headers,
        "client": (client_ip, 40000),
        "scheme": "http",
    }
    return http_request_from_scope(scope, body)


class OfflineClient(RawClient):
    """A ``RawClient`` whose requests are captured instead of sent."""

    def __init__(self, access_key_id: str, secret: str, security_token: str | None = None) -> None:
        super().__init__("ecsram.test:80", access_key_id, secret, security_token)
        self.captured: HttpRequest | None = None

    def send(
        self, method: str, target: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> RawResponse:
        self.captured = http_request(method, target, body, headers)
        return RawResponse(0, {}, b"")

    def v1_request(self, action: str, params: Mapping[str, str] | None = None, **options: Any) -> HttpRequest:
        self.v1(action, params, **options)
        assert self.captured is not None
        return self.captured

    def v3_request(self, action: str, params: Mapping[str, str] | None = None, **options: Any) -> HttpRequest:
        self.v3(action, params, **options)
        assert self.captured is not None
        return self.captured
