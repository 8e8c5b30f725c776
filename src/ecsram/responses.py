"""An HTTP response as ecsram's servers send it (the API, the metadata service, the admin paths)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSON_CONTENT_TYPE = b"application/json;charset=utf-8"
# The Tea SDKs parse an XML error only when the content type is exactly this.
XML_CONTENT_TYPE = b"text/xml;charset=utf-8"
TEXT_CONTENT_TYPE = b"text/plain;charset=utf-8"


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    content_type: bytes
    request_id: str = ""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    # For the request log (app.py): the error code, and the call answered (its principal, action).
    error_code: str = ""
    call: Any = None

    def asgi_headers(self) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"content-type", self.content_type),
            (b"content-length", str(len(self.body)).encode()),
        ]
        if self.request_id:
            headers.append((b"x-acs-request-id", self.request_id.encode()))
        headers.extend(self.headers)
        return headers
