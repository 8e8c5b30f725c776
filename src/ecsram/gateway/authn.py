"""Authentication: who signed this request, and is it fresh?

Order of checks: the signature's required pieces, its method/version, the timestamp's format
and window, the AccessKey (and STS token), the signature itself, and last the nonce, so that
only correctly signed requests can consume a nonce.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from ecsram.contract import errors
from ecsram.contract.call import Call
from ecsram.gateway import credentials, signing
from ecsram.gateway.request import form_body
from ecsram.iam.principal import Principal
from ecsram.store import nonces

TIMESTAMP_WINDOW_SECONDS = 15 * 60
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z")
_V1_REQUIRED = ("AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "Timestamp", "SignatureNonce")
_V3_REQUIRED = ("x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256")
# Headers a V3 signature must cover: without them a replay could swap the nonce, the
# date or the operation under a still-valid signature.
_V3_MUST_SIGN = ("host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version")


@dataclass(frozen=True, slots=True)
class Claim:
    """What a request claims about its signer, before anything is verified."""

    access_key_id: str
    signature: str
    timestamp_name: str
    timestamp: str
    nonce: str
    security_token: str | None


def parse_timestamp(name: str, value: str) -> float:
    if not _TIMESTAMP.fullmatch(value):
        raise errors.timestamp_format(name)
    try:
        # fromisoformat takes at most 6 fractional digits; the window check needs whole seconds.
        return datetime.fromisoformat(value[:19] + "+00:00").timestamp()
    except ValueError:
        raise errors.timestamp_format(name) from None


def _v1_claim(call: Call) -> Claim:
    params = call.raw_params
    for name in _V1_REQUIRED:
        if not params.get(name):
            raise errors.missing_parameter(name)
    if params["SignatureMethod"] != "HMAC-SHA1":
        raise errors.incomplete_signature(
            f"SignatureMethod {params['SignatureMethod'][:64]!r} is not supported; use HMAC-SHA1."
        )
    if params["SignatureVersion"] != "1.0":
        raise errors.incomplete_signature(
            f"SignatureVersion {params['SignatureVersion'][:64]!r} is not supported; use 1.0."
        )
    return Claim(
        params["AccessKeyId"],
        params["Signature"],
        "Timestamp",
        params["Timestamp"],
        params["SignatureNonce"],
        params.get("SecurityToken") or None,
    )


def _v3_claim(call: Call, authorization: signing.V3Authorization) -> Claim:
    headers = call.http.headers
    for name in _V3_REQUIRED:
        if not headers.get(name):
            raise errors.missing_parameter(name)
    unsigned = [name for name in _V3_MUST_SIGN if name not in authorization.signed_headers]
    if "x-acs-security-token" in headers and "x-acs-security-token" not in authorization.signed_headers:
        unsigned.append("x-acs-security-token")
    if unsigned:
        raise errors.incomplete_signature(f"SignedHeaders must include {', '.join(unsigned)}.")
    return Claim(
        authorization.access_key_id,
        authorization.signature,
        "x-acs-date",
        headers["x-acs-date"],
        headers["x-acs-signature-nonce"],
        headers.get("x-acs-security-token") or None,
    )


def _v3_string_to_sign(call: Call, authorization: signing.V3Authorization) -> str:
    # The payload hash is computed here from the body actually received: a client that claims
    # a different x-acs-content-sha256 has signed something other than what arrived.
    canonical = signing.v3_canonical_request(
        call.http.method,
        call.query_pairs,
        authorization.signed_headers,
        call.http.header_values(),
        hashlib.sha256(call.http.body).hexdigest(),
    )
    return signing.v3_string_to_sign(canonical)


def authenticate(call: Call, *, wall_now: float, keys: credentials.KeyCache | None = None) -> Principal:
    authorization = None
    if call.v3:
        try:
            authorization = signing.parse_v3_authorization(call.http.headers["authorization"])
        except signing.MalformedAuthorization as exc:
            raise errors.incomplete_signature(str(exc)) from None
        claim = _v3_claim(call, authorization)
    else:
        claim = _v1_claim(call)

    signed_at = parse_timestamp(claim.timestamp_name, claim.timestamp)
    if abs(wall_now - signed_at) > TIMESTAMP_WINDOW_SECONDS:
        raise errors.timestamp_expired(claim.timestamp[:40])
    if len(claim.nonce) > nonces.MAX_NONCE_LENGTH:
        raise errors.invalid_parameter(
            "SignatureNonce", f"It must be at most {nonces.MAX_NONCE_LENGTH} characters long."
        )

    cached = keys.get(claim.access_key_id) if keys is not None and not claim.security_token else None
    signer = cached or _fresh(call, claim, keys)
    call.claimed = signer.principal

    if authorization is not None:
        string_to_sign = _v3_string_to_sign(call, authorization)
        given = claim.signature.lower()
    else:
        # Non-ASCII bytes come out as characters no canonical pair holds: that request takes the
        # slow path, and so does any pair encoded another way than the canonical one.
        wire = signing.v1_canonical_query_from_wire(
            call.http.query_string.decode("latin-1"), form_body(call.http).decode("latin-1")
        )
        string_to_sign = signing.v1_string_to_sign(call.http.method, call.raw_params, wire)
        given = claim.signature
    if not _signed_by(signer, string_to_sign, given, v3=authorization is not None):
        if cached is None:
            raise errors.signature_does_not_match(string_to_sign)
        # The cached secret may be outdated (a key re-created under the same ID): read it again.
        signer = _fresh(call, claim, keys)
        call.claimed = signer.principal
        if not _signed_by(signer, string_to_sign, given, v3=authorization is not None):
            raise errors.signature_does_not_match(string_to_sign)
        cached = None

    if cached is not None and cached.generation is not None:
        # One statement: the nonce is recorded only if no AccessKey or user changed since the key
        # was cached. If it was not recorded, either the nonce is a replay or the cache is stale.
        if not nonces.remember_if_current(call.store, claim.access_key_id, claim.nonce, wall_now, cached.generation):
            signer = _fresh(call, claim, keys)
            call.claimed = signer.principal
            if signer.generation == cached.generation:
                raise errors.nonce_used()
            if not _signed_by(signer, string_to_sign, given, v3=authorization is not None):
                raise errors.signature_does_not_match(string_to_sign)
            if not nonces.remember(call.store, claim.access_key_id, claim.nonce, wall_now):
                raise errors.nonce_used()
    elif not nonces.remember(call.store, claim.access_key_id, claim.nonce, wall_now):
        raise errors.nonce_used()
    call.nonce = (claim.access_key_id, claim.nonce)
    return signer.principal


def _fresh(call: Call, claim: Claim, keys: credentials.KeyCache | None) -> credentials.Signer:
    """The signer read from the store (and remembered in ``keys``); on a refusal the key is
    forgotten too."""
    try:
        signer = credentials.resolve_signer(
            call.store, call.tokens, claim.access_key_id, claim.security_token, call.now
        )
    except errors.ApiError:
        if keys is not None:
            keys.forget(claim.access_key_id)
        raise
    if keys is not None:
        keys.put(claim.access_key_id, signer)
    return signer


def _signed_by(signer: credentials.Signer, string_to_sign: str, given: str, *, v3: bool) -> bool:
    if v3:
        expected = signing.v3_signature(signer.secret, string_to_sign)
    else:
        expected = signing.v1_signature(signer.secret, string_to_sign)
    return signing.signatures_equal(expected, given)
