"""Hostile input never yields a 500: random names and values, signed and unsigned, raw bytes
that are not UTF-8, oversized bodies and headers. Every rejection is a well-formed error."""

from __future__ import annotations

import http.client
import socket
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecsram.admin.operations import served_operations
from tests.conftest import Sdk
from tests.support.raw import RawResponse

ACTIONS = sorted({(op.action, op.version) for op in served_operations()})
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Every parameter name any operation declares, so that each one meets hostile values.
PARAMETER_NAMES = sorted({param.name for op in served_operations() for param in op.params.params} | {"Format"})
names = st.one_of(st.sampled_from(PARAMETER_NAMES), st.text(min_size=1, max_size=30))
values = st.one_of(
    st.text(max_size=200),
    st.text(min_size=60, max_size=400),
    st.sampled_from(["cn-hangzhou", "System", "Custom", "Active", "required", "i-" + "a" * 20, "acs:ram::1:role/x"]),
    st.sampled_from(["", "-1", "0", "99999999999999999999999", "null", "[]", "[1]", '["i-1"]', "{}", "true", "\u202e"]),
    st.binary(max_size=50).map(lambda b: b.decode("latin-1")),
    st.integers().map(str),
)


def _assert_clean(response: RawResponse) -> None:
    assert response.status < 500, response.body
    assert response.headers.get("x-acs-request-id")
    if response.status >= 400:
        assert response.headers["content-type"] in ("application/json;charset=utf-8", "text/xml;charset=utf-8")
        if response.headers["content-type"].startswith("application/json"):
            body = orjson.loads(response.body)
            assert body["Code"] and body["Message"] and body["RequestId"] == response.headers["x-acs-request-id"]


@FUZZ
@given(action=st.sampled_from(ACTIONS), params=st.dictionaries(names, values, max_size=6), v3=st.booleans())
def test_signed_requests_with_random_parameters(
    sdk: Sdk, action: tuple[str, str], params: dict[str, str], v3: bool
) -> None:
    params = {k: v.replace("\x00", "") for k, v in params.items() if "\x00" not in k}
    name, version = action
    client = sdk.raw()
    if v3:
        reserved = {"Action", "Version"}
        response = client.v3(name, {k: v for k, v in params.items() if k not in reserved}, version=version)
    else:
        reserved = {
            "Action",
            "Version",
            "Signature",
            "AccessKeyId",
            "SignatureMethod",
            "SignatureVersion",
            "SignatureNonce",
        }
        response = client.v1(name, {k: v for k, v in params.items() if k not in reserved}, version=version)
    _assert_clean(response)


@FUZZ
@given(query=st.binary(max_size=300), body=st.binary(max_size=300), method=st.sampled_from(["GET", "POST"]))
def test_raw_bytes(sdk: Sdk, query: bytes, body: bytes, method: str) -> None:
    # Percent-encode every byte so the HTTP request line stays valid while the decoded bytes are arbitrary.
    target = "/?" + "".join(f"%{b:02X}" if b not in b"=&" else chr(b) for b in query)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    _assert_clean(sdk.raw().send(method, target, body, headers))


@FUZZ
@given(
    header_name=st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True),
    header_value=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=100),
)
def test_random_headers_on_a_signed_request(sdk: Sdk, header_name: str, header_value: str) -> None:
    client = sdk.raw(extra_headers={header_name: header_value})
    _assert_clean(client.v3("DescribeRegions"))
    _assert_clean(client.v1("DescribeRegions"))


def test_nul_bytes_are_rejected_cleanly(sdk: Sdk) -> None:
    response = sdk.raw().send("GET", "/?Action=Describe%00Regions&Version=2014-05-26")
    _assert_clean(response)
    assert response.code == "InvalidParameter.Encoding"


def test_non_utf8_query_is_rejected_cleanly(sdk: Sdk) -> None:
    response = sdk.raw().send("GET", "/?Action=%FF%FE&Version=2014-05-26")
    assert (response.status, response.code) == (400, "InvalidParameter.Encoding")


def test_huge_parameter_value_inside_limits(sdk: Sdk) -> None:
    _assert_clean(sdk.raw().v1("DescribeRegions", {"AcceptLanguage": "x" * 30_000}, method="POST", form=True))


def test_oversized_body_is_refused(sdk: Sdk) -> None:
    response = sdk.raw().send(
        "POST", "/", b"a=" + b"x" * (1024 * 1024 + 10), {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert (response.status, response.code) == (413, "RequestEntityTooLarge")


def test_oversized_chunked_body_is_refused(server: Any) -> None:
    host, port = server.endpoint.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    chunks = (b"x" * 65536 for _ in range(20))
    connection.request(
        "POST", "/", body=chunks, headers={"Content-Type": "application/x-www-form-urlencoded"}, encode_chunked=True
    )
    response = connection.getresponse()
    assert response.status == 413
    assert orjson.loads(response.read())["Code"] == "RequestEntityTooLarge"


def test_oversized_headers_are_refused(sdk: Sdk) -> None:
    response = sdk.raw(extra_headers={"X-Big": "y" * (70 * 1024)}).v1("DescribeRegions")
    assert (response.status, response.code) == (431, "RequestHeaderTooLarge")


def test_too_many_parameters(sdk: Sdk) -> None:
    query = "&".join(f"p{i}=1" for i in range(1500))
    response = sdk.raw().send("GET", "/?" + query)
    assert (response.status, response.code) == (400, "InvalidParameter")


def test_duplicate_parameter_is_refused(sdk: Sdk) -> None:
    response = sdk.raw().send("GET", "/?Action=DescribeRegions&Action=DescribeRegions&Version=2014-05-26")
    assert (response.status, response.code) == (400, "InvalidParameter")
    assert "more than once" in response.json["Message"]


def test_unknown_path(sdk: Sdk) -> None:
    response = sdk.raw().send("GET", "/api/v1/DescribeRegions")
    assert (response.status, response.code) == (404, "InvalidAction.NotFound")


@pytest.mark.parametrize("payload", [b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"])
def test_malformed_http_does_not_kill_the_server(sdk: Sdk, payload: bytes) -> None:
    host, port = sdk.endpoint.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(payload)
        sock.recv(4096)
    assert sdk.raw().v1("DescribeRegions").status == 200


HOSTILE_VALUES = [
    " ",
    "x" * 5000,
    "\u202e\u0000".replace("\x00", ""),
    "'; DROP TABLE instances; --",
    "%00",
    "😀" * 70,
    "-1",
    "1e309",
    "99999999999999999999",
    "[]",
    "{}",
    '["' + "i" * 300 + '"]',
    "null",
    "../../etc/passwd",
    "acs:ram::*:role/*",
]
PLAUSIBLE = {
    "RegionId": "cn-hangzhou",
    "InstanceIds": '["i-aaaaaaaaaaaaaaaaaaaa"]',
    "PolicyType": "System",
    "PolicyName": "AdministratorAccess",
    "RoleArn": "acs:ram::1000000000000001:role/x",
    "Status": "Active",
    "HttpEndpoint": "enabled",
}


@pytest.mark.parametrize(("action", "version"), ACTIONS, ids=[a for a, _ in ACTIONS])
def test_each_parameter_with_hostile_values(sdk: Sdk, action: str, version: str) -> None:
    """One parameter at a time gets each hostile value, the others plausible ones: never a 5xx."""
    operation = next(op for op in served_operations() if (op.action, op.version) == (action, version))
    names = [param.name for param in operation.params.params]
    baseline = {name: PLAUSIBLE.get(name, "plausible-value") for name in names}
    client = sdk.raw()
    for name in names:
        for value in HOSTILE_VALUES:
            response = client.v1(action, {**baseline, name: value}, version=version, method="POST", form=True)
            _assert_clean(response)
