"""Results and errors on the wire: JSON (default) or XML (``Format=XML``)."""

from __future__ import annotations

import itertools
import re
import uuid
from typing import Any
from xml.sax.saxutils import escape

import orjson

from ecsram.contract.errors import ApiError
from ecsram.responses import JSON_CONTENT_TYPE, XML_CONTENT_TYPE, Response

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_HOSTS = {
    "ecs": "ecs.aliyuncs.com",
    "ram": "ram.aliyuncs.com",
    "sts": "sts.aliyuncs.com",
    "actiontrail": "actiontrail.aliyuncs.com",
}


class _RequestIds:
    """Upper-case UUID-shaped request IDs: a random per-process prefix and a counter, unique across
    processes and restarts without a system call per request (uuid4 reads the OS entropy pool)."""

    def __init__(self) -> None:
        self._prefix = uuid.uuid4().hex[:20].upper()
        self._counter = itertools.count()

    def __call__(self) -> str:
        p = self._prefix
        return f"{p[:8]}-{p[8:12]}-{p[12:16]}-{p[16:20]}-{next(self._counter) & 0xFFFFFFFFFFFF:012X}"


new_request_id = _RequestIds()


def _xml_text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return escape(_XML_INVALID.sub("\ufffd", str(value)))


def _emit_xml(parts: list[str], name: str, value: Any) -> None:
    if isinstance(value, dict):
        parts.append(f"<{name}>")
        for key, item in value.items():
            _emit_xml(parts, key, item)
        parts.append(f"</{name}>")
    elif isinstance(value, list | tuple):
        for item in value:
            _emit_xml(parts, name, item)
    elif value is not None:
        parts.append(f"<{name}>{_xml_text(value)}</{name}>")


def to_xml(root: str, document: dict[str, Any]) -> bytes:
    """Lists become repeated elements named after their key, as the cloud renders them."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>']
    _emit_xml(parts, root, document)
    return "".join(parts).encode()


def success(request_id: str, action: str, result: dict[str, Any], *, xml: bool) -> Response:
    document = {"RequestId": request_id, **result}
    if xml:
        return Response(200, to_xml(f"{action}Response", document), XML_CONTENT_TYPE, request_id)
    return Response(200, orjson.dumps(document), JSON_CONTENT_TYPE, request_id)


def error(request_id: str, err: ApiError, *, product: str | None, xml: bool) -> Response:
    document: dict[str, Any] = {
        "RequestId": request_id,
        "HostId": _HOSTS.get(product or "", "ecsram"),
        "Code": err.code,
        "Message": err.message,
        "Recommend": f"https://api.aliyun.com/troubleshoot?q={err.code}&product={(product or 'ecs').capitalize()}"
        f"&requestId={request_id}",
    }
    if err.access_denied_detail is not None:
        document["AccessDeniedDetail"] = err.access_denied_detail
    if xml:
        return Response(err.status, to_xml("Error", document), XML_CONTENT_TYPE, request_id, error_code=err.code)
    return Response(err.status, orjson.dumps(document), JSON_CONTENT_TYPE, request_id, error_code=err.code)
