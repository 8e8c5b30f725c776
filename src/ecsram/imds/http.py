"""The metadata service on the wire: which requests are metadata requests, and for which instance."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from ecsram.imds.service import MetadataRequest, MetadataResponse
from ecsram.responses import JSON_CONTENT_TYPE, TEXT_CONTENT_TYPE, Response

METADATA_HOST = "100.100.100.200"
# /latest/... and dated versions (/2016-01-01/...).
_METADATA_PATH = re.compile(r"/(?:latest|[0-9]{4}-[0-9]{2}-[0-9]{2})(?:/|$)")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def is_metadata_request(path: str, host: str) -> bool:
    """Addressed to the metadata IP (as an HTTP proxy sees it), or to a metadata path."""
    return host.split(":", 1)[0] == METADATA_HOST or _METADATA_PATH.match(path) is not None


def _basic_credentials(value: str) -> tuple[str, str] | None:
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    if _CONTROL.search(decoded):  # never in an instance ID or secret; NUL cannot even be looked up
        return None
    user, _, password = decoded.partition(":")
    return (user, password) if user else None


def metadata_request(scope: dict[str, Any], headers: dict[str, str], pinned_instance: str | None) -> MetadataRequest:
    via_proxy = headers.get("host", "").split(":", 1)[0] == METADATA_HOST
    instance_id, secret = pinned_instance, None
    credentials = None
    for header in ("proxy-authorization", "authorization"):
        if header in headers:
            credentials = _basic_credentials(headers[header])
            if credentials is not None:
                break
    if credentials is not None:
        named, secret = credentials
        instance_id = instance_id or named
        secret = secret or None
    return MetadataRequest(scope["method"], scope["path"], headers, instance_id, secret, via_proxy)


def to_response(answer: MetadataResponse) -> Response:
    content_type = JSON_CONTENT_TYPE if answer.json else TEXT_CONTENT_TYPE
    extra = (
        [(b"proxy-authenticate", b'Basic realm="ecsram metadata: user name = instance ID"')]
        if answer.proxy_challenge
        else []
    )
    return Response(answer.status, answer.body, content_type, headers=extra)
