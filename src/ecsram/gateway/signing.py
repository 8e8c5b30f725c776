"""Alibaba Cloud request signatures: V1 (HMAC-SHA1, RPC) and V3 (ACS3-HMAC-SHA256).

Pure functions, no I/O. The server recomputes what the client should have signed from the
decoded request and compares; the canonical forms here are the cloud's, re-encoded from the
decoded values so that the way a client percent-encoded its URL does not matter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

V3_ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


_UNRESERVED = re.compile(r"[A-Za-z0-9\-_.~]*")


def percent_encode(text: str) -> str:
    """RFC 3986 over UTF-8: keep A-Za-z0-9-_.~, upper-case %XX for everything else."""
    # Most names and values need no encoding at all; checking is far cheaper than quoting.
    if _UNRESERVED.fullmatch(text):
        return text
    return quote(text, safe="-_.~")


def _encode_canonical(canonical: str) -> str:
    """percent_encode of a canonical query, which holds only unreserved characters, '%', '&'
    and '=': replacing those three is the whole encoding, without a pass per character."""
    return canonical.replace("%", "%25").replace("&", "%26").replace("=", "%3D")


# --- V1 -------------------------------------------------------------------------------------


def v1_canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(
        f"{percent_encode(name)}={percent_encode(value)}"
        for name, value in sorted(params.items())
        if name != "Signature"
    )


# Pairs that may be in canonical form: unreserved names, one '=' each, values of unreserved
# characters and '%'. They are, unless an escape is not upper-case hex or escapes an unreserved
# byte (an escaped 'A' is not canonical). Two scans with no alternation per character: a third of
# the time of one pattern that checks each character's alternatives.
_UNRESERVED_CLASS = r"A-Za-z0-9\-_.~"
_PAIRS_SHAPE = re.compile(
    rf"[{_UNRESERVED_CLASS}]+=[{_UNRESERVED_CLASS}%]*(?:&[{_UNRESERVED_CLASS}]+=[{_UNRESERVED_CLASS}%]*)*"
)
_NON_CANONICAL_ESCAPE = re.compile(r"%(?![0-9A-F]{2})|%(?:2[DE]|3[0-9]|4[1-9A-F]|5[0-9AF]|6[1-9A-F]|7[0-9AE])")


def v1_canonical_query_from_wire(*encoded: str) -> str | None:
    """``v1_canonical_query`` of the parameters, taken from the request's own encoded query (and
    form body) when every pair in them is already in canonical form, as the SDKs send them: the
    same string, without decoding and encoding each value again. None when any pair is not
    (then the values are encoded again). The names must be unique, as the parser makes sure."""
    triples: list[tuple[str, str, str]] = []
    for text in encoded:
        if text:
            if _PAIRS_SHAPE.fullmatch(text) is None or _NON_CANONICAL_ESCAPE.search(text) is not None:
                return None
            triples += [pair.partition("=") for pair in text.split("&")]
    triples.sort()  # by name: unique, and an unreserved name encodes to itself
    return "&".join(["".join(triple) for triple in triples if triple[0] != "Signature"])


def v1_string_to_sign(method: str, params: Mapping[str, str], canonical_query: str | None = None) -> str:
    """The string a V1 signature signs; ``canonical_query`` when the caller has it already."""
    canonical = v1_canonical_query(params) if canonical_query is None else canonical_query
    return f"{method}&%2F&{_encode_canonical(canonical)}"


def v1_signature(secret: str, string_to_sign: str) -> str:
    digest = hmac.digest(f"{secret}&".encode(), string_to_sign.encode(), "sha1")
    return base64.b64encode(digest).decode()


# --- V3 -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class V3Authorization:
    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


class MalformedAuthorization(ValueError):
    """The Authorization header is not a well-formed ACS3-HMAC-SHA256 header."""


def parse_v3_authorization(header: str) -> V3Authorization:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != V3_ALGORITHM:
        raise MalformedAuthorization(f"Unsupported signature algorithm {algorithm[:64]!r}; expected {V3_ALGORITHM}.")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise MalformedAuthorization(f"Authorization field {key[:64]!r} has no value.")
        fields[key] = value
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not fields.get(k)]
    if missing:
        raise MalformedAuthorization(f"Authorization header lacks {', '.join(missing)}.")
    signed = tuple(fields["SignedHeaders"].split(";"))
    if any(not name or name != name.lower() for name in signed) or list(signed) != sorted(signed):
        raise MalformedAuthorization("SignedHeaders must be lower-case header names, sorted and separated by ';'.")
    return V3Authorization(fields["Credential"], signed, fields["Signature"])


def v3_canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    encoded = sorted((percent_encode(k), percent_encode(v)) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def v3_canonical_headers(signed_headers: Iterable[str], header_values: Mapping[str, list[str]]) -> str:
    """One ``name:value`` line per signed header; repeated headers join their sorted values."""
    lines = []
    for name in signed_headers:
        values = sorted(v.strip() for v in header_values.get(name, ()))
        lines.append(f"{name}:{','.join(values)}\n")
    return "".join(lines)


def v3_canonical_request(
    method: str,
    query_pairs: Iterable[tuple[str, str]],
    signed_headers: tuple[str, ...],
    header_values: Mapping[str, list[str]],
    payload_hash: str,
) -> str:
    return "\n".join(
        (
            method,
            "/",
            v3_canonical_query(query_pairs),
            v3_canonical_headers(signed_headers, header_values),
            ";".join(signed_headers),
            payload_hash,
        )
    )


def v3_string_to_sign(canonical_request: str) -> str:
    return f"{V3_ALGORITHM}\n{hashlib.sha256(canonical_request.encode()).hexdigest()}"


def v3_signature(secret: str, string_to_sign: str) -> str:
    return hmac.digest(secret.encode(), string_to_sign.encode(), "sha256").hex()


def signatures_equal(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())
