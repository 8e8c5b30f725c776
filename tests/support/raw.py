"""A hand-rolled signed-request client for what the official SDKs cannot be made to send:
tampered parameters, replayed nonces, stale timestamps, hostile bytes.

Its signing code is written separately from ecsram's on purpose (checked against the
vendor's published test vectors in tests/unit/test_signing.py), so a bug in one is not
silently mirrored by the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import orjson

ECS = "2014-05-26"
RAM = "2015-05-01"
STS = "2015-04-01"


def rfc3986(text: str) -> str:
    return quote(text, safe="~-._")


def utc_timestamp(offset_seconds: float = 0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset_seconds))


def sign_v1(method: str, params: Mapping[str, str], secret: str) -> str:
    canonical = "&".join(f"{rfc3986(k)}={rfc3986(v)}" for k, v in sorted(params.items()))
    string_to_sign = f"{method}&{rfc3986('/')}&{rfc3986(canonical)}"
    mac = hmac.new((secret + "&").encode(), string_to_sign.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def sign_v3(
    method: str, query: Mapping[str, str], headers: Mapping[str, str], signed: list[str], payload_hash: str, secret: str
) -> str:
    canonical_query = "&".join(f"{rfc3986(k)}={rfc3986(v)}" for k, v in sorted(query.items()))
    lowered = {k.lower(): v for k, v in headers.items()}
    canonical_headers = "".join(f"{name}:{lowered[name].strip()}\n" for name in signed)
    request = "\n".join([method, "/", canonical_query, canonical_headers, ";".join(signed), payload_hash])
    string_to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(request.encode()).hexdigest()
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def code(self) -> str | None:
        try:
            document = self.json
        except orjson.JSONDecodeError:
            return None
        return document.get("Code") if isinstance(document, dict) else None


@dataclass
class RawClient:
    endpoint: str
    access_key_id: str
    secret: str
    security_token: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    def send(
        self, method: str, target: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> RawResponse:
        host, port = self.endpoint.rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            all_headers = dict(headers or {})
            if not any(name.lower() == "host" for name in all_headers):
                all_headers["Host"] = self.endpoint
            if body or method == "POST":
                all_headers.setdefault("Content-Length", str(len(body)))
            for name, value in all_headers.items():
                connection.putheader(name, value)
            connection.endheaders(body or None)
            response = connection.getresponse()
            return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def v1_params(
        self,
        action: str,
        params: Mapping[str, str] | None = None,
        *,
        version: str = ECS,
        method: str = "GET",
        nonce: str | None = None,
        timestamp: str | None = None,
        secret: str | None = None,
    ) -> dict[str, str]:
        signed: dict[str, str] = {
            "Action": action,
            "Version": version,
            "Format": "JSON",
            "AccessKeyId": self.access_key_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": nonce or uuid.uuid4().hex,
            "Timestamp": timestamp or utc_timestamp(),
            **(params or {}),
        }
        if self.security_token:
            signed["SecurityToken"] = self.security_token
        signed["Signature"] = sign_v1(method, signed, secret or self.secret)
        return signed

    def v1(
        self,
        action: str,
        params: Mapping[str, str] | None = None,
        *,
        version: str = ECS,
        method: str = "GET",
        form: bool = False,
        after_signing: Callable[[dict[str, str]], None] | None = None,
        **sign_options: Any,
    ) -> RawResponse:
        signed = self.v1_params(action, params, version=version, method=method, **sign_options)
        if after_signing is not None:
            after_signing(signed)
        encoded = "&".join(f"{rfc3986(k)}={rfc3986(v)}" for k, v in signed.items())
        if form:
            headers = {"Content-Type": "application/x-www-form-urlencoded", **self.extra_headers}
            return self.send(method, "/", encoded.encode(), headers)
        return self.send(method, f"/?{encoded}", b"", self.extra_headers)

    def v3(
        self,
        action: str,
        params: Mapping[str, str] | None = None,
        *,
        version: str = ECS,
        method: str = "POST",
        body: bytes = b"",
        nonce: str | None = None,
        date: str | None = None,
        content_sha256: str | None = None,
        signed_headers: list[str] | None = None,
        after_signing: Callable[[dict[str, str], dict[str, str]], None] | None = None,
    ) -> RawResponse:
        query = dict(params or {})
        payload_hash = hashlib.sha256(body).hexdigest()
        headers = {
            "host": self.endpoint,
            "x-acs-action": action,
            "x-acs-version": version,
            "x-acs-date": date or utc_timestamp(),
            "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
            "x-acs-content-sha256": content_sha256 or payload_hash,
            **{k.lower(): v for k, v in self.extra_headers.items()},
        }
        if self.security_token:
            headers["x-acs-security-token"] = self.security_token
            headers["x-acs-accesskey-id"] = self.access_key_id
        signed = signed_headers or sorted(h for h in headers if h == "host" or h.startswith("x-acs-"))
        signature = sign_v3(method, query, headers, signed, headers["x-acs-content-sha256"], self.secret)
        headers["authorization"] = (
            f"ACS3-HMAC-SHA256 Credential={self.access_key_id},SignedHeaders={';'.join(signed)},Signature={signature}"
        )
        if after_signing is not None:
            after_signing(query, headers)
        target = "/?" + "&".join(f"{rfc3986(k)}={rfc3986(v)}" for k, v in query.items()) if query else "/"
        return self.send(method, target, body, headers)


def form_body(params: Mapping[str, str]) -> bytes:
    return urlencode(params).encode()
