"""Signature algorithms against the vendor's published test vectors, and the two
implementations (ecsram's and the tests' raw client) against each other."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsram.gateway import signing
from tests.support import raw

V1_VECTOR_PARAMS = {
    "Action": "DescribeRegions",
    "Format": "XML",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "SignatureVersion": "1.0",
    "Timestamp": "2016-02-23T12:46:24Z",
    "Version": "2014-05-26",
    "AccessKeyId": "testid",
}
V1_VECTOR_SIGNATURE = "OLeaidS1JvxuMvnyHOwuJ+uX5qY="

V3_VECTOR_SIGNATURE = "d16b30a7699ae9e43875b13195b2f81bcc3ed10c14a9b5eb780e51619aa50be1"
V3_VECTOR_PAYLOAD = "55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23"


def test_v1_published_vector() -> None:
    string_to_sign = signing.v1_string_to_sign("GET", V1_VECTOR_PARAMS)
    assert signing.v1_signature("testsecret", string_to_sign) == V1_VECTOR_SIGNATURE


def test_v1_vector_ignores_the_signature_parameter_itself() -> None:
    with_signature = {**V1_VECTOR_PARAMS, "Signature": "anything"}
    assert signing.v1_string_to_sign("GET", with_signature) == signing.v1_string_to_sign("GET", V1_VECTOR_PARAMS)


def test_v1_vector_with_the_raw_test_client() -> None:
    assert raw.sign_v1("GET", V1_VECTOR_PARAMS, "testsecret") == V1_VECTOR_SIGNATURE


def test_v3_published_vector_with_repeated_header() -> None:
    canonical = signing.v3_canonical_request(
        "GET",
        [("test", "ok"), ("empty", "")],
        ("x-acs-test",),
        {"x-acs-test": ["http", "https"]},
        V3_VECTOR_PAYLOAD,
    )
    assert "x-acs-test:http,https\n" in canonical
    assert "empty=&test=ok" in canonical
    assert signing.v3_signature("secret", signing.v3_string_to_sign(canonical)) == V3_VECTOR_SIGNATURE


def test_v3_repeated_header_values_are_sorted_whatever_their_order() -> None:
    forward = signing.v3_canonical_headers(("x-acs-test",), {"x-acs-test": ["https", "http"]})
    assert forward == "x-acs-test:http,https\n"


def test_percent_encoding_is_rfc3986() -> None:
    assert signing.percent_encode("a b*c~d/e+f") == "a%20b%2Ac~d%2Fe%2Bf"
    assert signing.percent_encode("中") == "%E4%B8%AD"


def test_empty_body_hash_constant() -> None:
    assert hashlib.sha256(b"").hexdigest() == signing.EMPTY_BODY_SHA256


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ("HMAC-SHA1 Credential=a,SignedHeaders=host,Signature=x", "Unsupported signature algorithm"),
        ("ACS3-HMAC-SHA256 Credential=a,Signature=x", "lacks SignedHeaders"),
        ("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=Host,Signature=x", "lower-case"),
        ("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=x-b;x-a,Signature=x", "sorted"),
        ("ACS3-HMAC-SHA256 Credential", "has no value"),
    ],
)
def test_malformed_v3_authorization(header: str, fragment: str) -> None:
    with pytest.raises(signing.MalformedAuthorization, match=fragment):
        signing.parse_v3_authorization(header)


def test_v3_authorization_parses() -> None:
    parsed = signing.parse_v3_authorization("ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host;x-acs-date,Signature=ab")
    assert parsed == signing.V3Authorization("AK", ("host", "x-acs-date"), "ab")


_texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)


@given(st.dictionaries(st.text(st.characters(codec="utf-8"), min_size=1, max_size=10), _texts, max_size=8), _texts)
def test_both_v1_implementations_agree(params: dict[str, str], secret: str) -> None:
    ecsram_signature = signing.v1_signature(secret, signing.v1_string_to_sign("POST", params))
    params_without_signature = {k: v for k, v in params.items() if k != "Signature"}
    assert ecsram_signature == raw.sign_v1("POST", params_without_signature, secret)


@given(st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9.]{0,8}", fullmatch=True), _texts, max_size=6), _texts)
def test_both_v3_implementations_agree(query: dict[str, str], secret: str) -> None:
    headers = {"host": "127.0.0.1:1", "x-acs-date": "2026-01-01T00:00:00Z"}
    signed = ("host", "x-acs-date")
    ours = signing.v3_signature(
        secret,
        signing.v3_string_to_sign(
            signing.v3_canonical_request(
                "POST", list(query.items()), signed, {k: [v] for k, v in headers.items()}, signing.EMPTY_BODY_SHA256
            )
        ),
    )
    assert ours == raw.sign_v3("POST", query, headers, list(signed), signing.EMPTY_BODY_SHA256, secret)
