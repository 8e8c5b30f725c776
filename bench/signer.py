"""Request signing for the load generator: Alibaba Cloud V1 (HMAC-SHA1) and AWS SigV4.

Written for the benchmark only (ecsram's own signer is not reused, so that the harness is an
independent client). V1 follows API_NOTES section 3: parameters sorted by name, RFC 3986
percent-encoding, ``GET&%2F&`` + encode(canonical query), HMAC-SHA1 keyed with ``secret&``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import itertools
import os
import time
from collections.abc import Mapping
from urllib.parse import quote

# RFC 3986 unreserved characters stay as they are; everything else is %XX over UTF-8, so a
# space becomes %20 and "*" becomes %2A.
_UNRESERVED = "-_.~"


@functools.lru_cache(maxsize=1 << 16)
def _encode_cached(value: str) -> str:
    return quote(value, safe=_UNRESERVED)


def percent_encode(value: str) -> str:
    # Constant values (action, version, region, key id) repeat across a whole pre-signed batch.
    if len(value) <= 64:
        return _encode_cached(value)
    return quote(value, safe=_UNRESERVED)


def _encode_canonical(canonical: str) -> str:
    """percent_encode of an already-encoded canonical query: only ``%``, ``=`` and ``&`` are left to escape."""
    return canonical.replace("%", "%25").replace("=", "%3D").replace("&", "%26")


def canonical_query(params: Mapping[str, str]) -> str:
    """``k=v`` pairs, RFC 3986-encoded, sorted by (encoded) name, joined by ``&``."""
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))


def v1_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    return f"{method}&%2F&{_encode_canonical(canonical_query(params))}"


def v1_signature(secret: str, string_to_sign: str) -> str:
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def utc_timestamp(at: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if at is None else at))


class NonceSource:
    """Unique nonces: a random per-process prefix and a counter (cheaper than a UUID each)."""

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count()

    def __call__(self) -> str:
        return f"{self._prefix}-{next(self._counter)}"


class V1Signer:
    """Builds complete, signed V1 GET targets (``/?...&Signature=...``) for one AccessKey."""

    def __init__(self, access_key_id: str, secret: str, nonces: NonceSource | None = None) -> None:
        self.access_key_id = access_key_id
        self.secret = secret
        self.nonces = nonces or NonceSource()

    def signed_params(self, params: Mapping[str, str], *, timestamp: str | None = None) -> dict[str, str]:
        full = {
            "Format": "JSON",
            "AccessKeyId": self.access_key_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": self.nonces(),
            "Timestamp": timestamp or utc_timestamp(),
            **params,
        }
        full["Signature"] = v1_signature(self.secret, v1_string_to_sign("GET", full))
        return full

    def target(self, params: Mapping[str, str], *, timestamp: str | None = None) -> str:
        return "/?" + canonical_query(self.signed_params(params, timestamp=timestamp))


# --- AWS SigV4 (moto baseline) --------------------------------------------------------------------


def _hmac_sha256(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def sigv4_headers(
    *,
    access_key_id: str,
    secret: str,
    host: str,
    region: str,
    service: str,
    query: str,
    amz_date: str | None = None,
) -> dict[str, str]:
    """``X-Amz-Date`` and ``Authorization`` for a bodiless GET of ``/?query`` (query already canonical)."""
    amz_date = amz_date or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    day = amz_date[:8]
    payload_hash = hashlib.sha256(b"").hexdigest()
    signed_headers = "host;x-amz-date"
    canonical_request = f"GET\n/\n{query}\nhost:{host}\nx-amz-date:{amz_date}\n\n{signed_headers}\n{payload_hash}"
    scope = f"{day}/{region}/{service}/aws4_request"
    string_to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical_request.encode()).hexdigest()}"
    key = _hmac_sha256(f"AWS4{secret}".encode(), day)
    for part in (region, service, "aws4_request"):
        key = _hmac_sha256(key, part)
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "X-Amz-Date": amz_date,
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential={access_key_id}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        ),
    }
