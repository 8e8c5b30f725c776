"""Every way a request can fail authentication, with the cloud's code and status; a rejected
request consumes no nonce (the same nonce then works with a correct signature)."""

from __future__ import annotations

import urllib.parse
import uuid
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_tea_openapi.exceptions import ClientException
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkecs.request.v20140526.DescribeRegionsRequest import DescribeRegionsRequest

from ecsram.testing import clients
from ecsram.testing.accounts import set_access_key_status
from ecsram.testing.server import ServerProcess
from tests.conftest import Sdk
from tests.support.raw import RawClient, RawResponse, utc_timestamp


def _assert_error(response: RawResponse, status: int, code: str) -> dict[str, Any]:
    assert (response.status, response.code) == (status, code), response.body
    body: dict[str, Any] = response.json
    assert body["RequestId"] == response.headers["x-acs-request-id"]
    assert {"HostId", "Message", "Recommend"} <= body.keys()
    return body


def _nonce_still_unused(sdk: Sdk, nonce: str, *, v3: bool = False) -> None:
    client = sdk.raw()
    response = client.v3("DescribeRegions", nonce=nonce) if v3 else client.v1("DescribeRegions", nonce=nonce)
    assert response.status == 200, response.body


# --- wrong secret, tampering ----------------------------------------------------------------


def test_wrong_secret_v1_exact_message(sdk: Sdk) -> None:
    nonce = uuid.uuid4().hex
    response = RawClient(sdk.endpoint, sdk.key.access_key_id, "wrong-secret").v1("DescribeRegions", nonce=nonce)
    body = _assert_error(response, 400, "SignatureDoesNotMatch")
    prefix = "Specified signature is not matched with our calculation. server string to sign is:"
    assert body["Message"].startswith(prefix)
    assert body["Message"][len(prefix) :].startswith("GET&%2F&AccessKeyId%3D")
    _nonce_still_unused(sdk, nonce)


def test_wrong_secret_with_the_v1_sdk(sdk: Sdk) -> None:
    client = clients.v1_client(sdk.key.access_key_id, "wrong-secret")
    with pytest.raises(ServerException) as caught:
        client.do_action_with_exception(clients.prepare_v1(DescribeRegionsRequest(), sdk.endpoint))
    # The SDK recognises its own string to sign in our message and names the real cause.
    assert caught.value.get_error_code() == "InvalidAccessKeySecret"
    assert caught.value.get_http_status() == 400


@pytest.mark.parametrize("signature_algorithm", [None, "v2"])
def test_wrong_secret_with_tea(sdk: Sdk, signature_algorithm: str | None) -> None:
    client = clients.tea_ecs(sdk.endpoint, sdk.key.access_key_id, "wrong", signature_algorithm=signature_algorithm)
    with pytest.raises(ClientException) as caught:
        client.describe_regions(ecs_models.DescribeRegionsRequest())
    assert caught.value.code == "SignatureDoesNotMatch"
    assert caught.value.status_code == 400


def test_tampered_parameter(sdk: Sdk) -> None:
    nonce = uuid.uuid4().hex

    def tamper(params: dict[str, str]) -> None:
        params["AcceptLanguage"] = "zh-CN"

    response = sdk.raw().v1("DescribeRegions", {"AcceptLanguage": "en-US"}, nonce=nonce, after_signing=tamper)
    _assert_error(response, 400, "SignatureDoesNotMatch")
    _nonce_still_unused(sdk, nonce)


def test_added_parameter_is_tampering(sdk: Sdk) -> None:
    response = sdk.raw().v1("DescribeRegions", after_signing=lambda p: p.update(ResourceType="disk"))
    _assert_error(response, 400, "SignatureDoesNotMatch")


def test_tampered_signed_header_v3(sdk: Sdk) -> None:
    nonce = uuid.uuid4().hex

    def tamper(_query: dict[str, str], headers: dict[str, str]) -> None:
        headers["x-acs-credentials-provider"] = "tampered"

    client = sdk.raw(extra_headers={"x-acs-credentials-provider": "static_ak"})
    response = client.v3("DescribeRegions", nonce=nonce, after_signing=tamper)
    body = _assert_error(response, 400, "SignatureDoesNotMatch")
    assert body["Message"].split("server string to sign is:")[1].startswith("ACS3-HMAC-SHA256\n")
    _nonce_still_unused(sdk, nonce, v3=True)


def test_tampered_query_v3(sdk: Sdk) -> None:
    response = sdk.raw().v3(
        "DescribeRegions", {"AcceptLanguage": "en-US"}, after_signing=lambda q, h: q.update(AcceptLanguage="ja")
    )
    _assert_error(response, 400, "SignatureDoesNotMatch")


def test_wrong_content_sha256_v3(sdk: Sdk) -> None:
    nonce = uuid.uuid4().hex
    response = sdk.raw().v3("DescribeRegions", nonce=nonce, content_sha256="0" * 64)
    _assert_error(response, 400, "SignatureDoesNotMatch")
    _nonce_still_unused(sdk, nonce, v3=True)


def test_v3_body_that_differs_from_its_hash(sdk: Sdk) -> None:
    def swap_body(_query: dict[str, str], headers: dict[str, str]) -> None:
        headers["content-type"] = "application/octet-stream"

    client = sdk.raw()
    response = client.v3("DescribeRegions", body=b"signed", after_signing=swap_body)
    assert response.status == 200  # the body matches its hash: accepted
    signed_empty = client.v3(
        "DescribeRegions", content_sha256="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", body=b"x"
    )
    _assert_error(signed_empty, 400, "SignatureDoesNotMatch")


def test_v3_must_sign_the_nonce_and_date(sdk: Sdk) -> None:
    response = sdk.raw().v3("DescribeRegions", signed_headers=["host", "x-acs-action", "x-acs-version"])
    body = _assert_error(response, 400, "IncompleteSignature")
    assert "x-acs-signature-nonce" in body["Message"]


def test_v3_malformed_authorization(sdk: Sdk) -> None:
    def garble(_query: dict[str, str], headers: dict[str, str]) -> None:
        headers["authorization"] = "ACS3-HMAC-SHA256 Credential=x"

    _assert_error(sdk.raw().v3("DescribeRegions", after_signing=garble), 400, "IncompleteSignature")


# --- keys -----------------------------------------------------------------------------------


def test_unknown_access_key_id(sdk: Sdk) -> None:
    response = RawClient(sdk.endpoint, "LTAInoSuchKey0000000000", "x").v1("DescribeRegions")
    _assert_error(response, 404, "InvalidAccessKeyId.NotFound")
    response = RawClient(sdk.endpoint, "LTAInoSuchKey0000000000", "x").v3("DescribeRegions")
    _assert_error(response, 404, "InvalidAccessKeyId.NotFound")


def test_disabled_key_stops_at_once(sdk: Sdk) -> None:
    assert sdk.raw().v1("DescribeRegions").status == 200
    set_access_key_status(sdk.database_url, sdk.key.access_key_id, "Inactive")
    _assert_error(sdk.raw().v1("DescribeRegions"), 400, "InvalidAccessKeyId.Inactive")
    _assert_error(sdk.raw().v3("DescribeRegions"), 400, "InvalidAccessKeyId.Inactive")
    set_access_key_status(sdk.database_url, sdk.key.access_key_id, "Active")
    assert sdk.raw().v1("DescribeRegions").status == 200


# --- timestamps -----------------------------------------------------------------------------


@pytest.mark.parametrize("offset_minutes", [-16, 16])
def test_timestamp_outside_the_window(sdk: Sdk, offset_minutes: int) -> None:
    nonce = uuid.uuid4().hex
    stale = utc_timestamp(offset_minutes * 60)
    _assert_error(sdk.raw().v1("DescribeRegions", nonce=nonce, timestamp=stale), 400, "InvalidTimeStamp.Expired")
    _assert_error(sdk.raw().v3("DescribeRegions", nonce=nonce, date=stale), 400, "InvalidTimeStamp.Expired")
    _nonce_still_unused(sdk, nonce)


@pytest.mark.parametrize("offset_minutes", [-14, 14])
def test_timestamp_inside_the_window(sdk: Sdk, offset_minutes: int) -> None:
    assert sdk.raw().v1("DescribeRegions", timestamp=utc_timestamp(offset_minutes * 60)).status == 200


@pytest.mark.parametrize(
    "value", ["yesterday", "2026-13-01T00:00:00Z", "2026-01-01 00:00:00", "1700000000", "2026-01-01T00:00:00+08:00"]
)
def test_malformed_timestamp(sdk: Sdk, value: str) -> None:
    _assert_error(sdk.raw().v1("DescribeRegions", timestamp=value), 400, "InvalidTimeStamp.Format")
    _assert_error(sdk.raw().v3("DescribeRegions", date=value), 400, "InvalidTimeStamp.Format")


def test_timestamp_with_milliseconds_is_accepted(sdk: Sdk) -> None:
    assert sdk.raw().v1("DescribeRegions", timestamp=utc_timestamp()[:-1] + ".123Z").status == 200


# --- nonces ---------------------------------------------------------------------------------


def test_reused_nonce_v1_and_v3(sdk: Sdk) -> None:
    nonce = uuid.uuid4().hex
    assert sdk.raw().v1("DescribeRegions", nonce=nonce).status == 200
    _assert_error(sdk.raw().v1("DescribeRegions", nonce=nonce), 400, "SignatureNonceUsed")
    _assert_error(sdk.raw().v3("DescribeRegions", nonce=nonce), 400, "SignatureNonceUsed")


def test_nonces_are_per_access_key(sdk: Sdk) -> None:
    nonce = uuid.uuid4().hex
    other = sdk.other_account()
    assert sdk.raw().v1("DescribeRegions", nonce=nonce).status == 200
    assert other.raw().v1("DescribeRegions", nonce=nonce).status == 200


def test_identical_replay_of_a_whole_request(sdk: Sdk) -> None:
    client = sdk.raw()
    params = client.v1_params("DescribeRegions")
    target = "/?" + urllib.parse.urlencode(params)
    assert client.send("GET", target).status == 200
    _assert_error(client.send("GET", target), 400, "SignatureNonceUsed")


def test_replay_to_another_server_process(server_factory: Any) -> None:
    """Two server processes over one database: a nonce used on one is refused by the other."""
    first: ServerProcess = server_factory()
    second: ServerProcess = server_factory(first.database_url)
    from ecsram.testing.accounts import create_account

    key = create_account(first.database_url)
    nonce = uuid.uuid4().hex
    assert RawClient(first.endpoint, key.access_key_id, key.secret).v1("DescribeRegions", nonce=nonce).status == 200
    replay = RawClient(second.endpoint, key.access_key_id, key.secret).v1("DescribeRegions", nonce=nonce)
    _assert_error(replay, 400, "SignatureNonceUsed")


def test_replays_across_workers_of_one_server(sdk: Sdk) -> None:
    """The session server runs two workers; every replay, on whatever connection, is refused."""
    client = sdk.raw()
    nonce = uuid.uuid4().hex
    assert client.v1("DescribeRegions", nonce=nonce).status == 200
    for _ in range(20):  # each raw request is a new connection, spread over the workers
        _assert_error(client.v1("DescribeRegions", nonce=nonce), 400, "SignatureNonceUsed")


def test_overlong_nonce(sdk: Sdk) -> None:
    _assert_error(sdk.raw().v1("DescribeRegions", nonce="n" * 129), 400, "InvalidParameter")


# --- missing and unknown pieces --------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Signature",
        "AccessKeyId",
        "Action",
        "Version",
        "Timestamp",
        "SignatureNonce",
        "SignatureMethod",
        "SignatureVersion",
    ],
)
def test_missing_common_parameter(sdk: Sdk, name: str) -> None:
    client = sdk.raw()
    params = client.v1_params("DescribeRegions")
    del params[name]
    if name not in ("Signature", "Action", "Version"):
        from tests.support.raw import sign_v1

        params.pop("Signature")
        params["Signature"] = sign_v1("GET", params, sdk.key.secret)
    response = client.send("GET", "/?" + urllib.parse.urlencode(params))
    body = _assert_error(response, 400, "MissingParameter")
    assert f'"{name}"' in body["Message"]


@pytest.mark.parametrize("name", ["x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"])
def test_missing_v3_header(sdk: Sdk, name: str) -> None:
    def drop(_query: dict[str, str], headers: dict[str, str]) -> None:
        del headers[name]

    body = _assert_error(sdk.raw().v3("DescribeRegions", after_signing=drop), 400, "MissingParameter")
    assert name in body["Message"]


def test_unknown_action(sdk: Sdk) -> None:
    body = _assert_error(sdk.raw().v1("DescribeNothing"), 404, "InvalidAction.NotFound")
    assert "DescribeNothing" in body["Message"]
    _assert_error(sdk.raw().v3("DescribeNothing"), 404, "InvalidAction.NotFound")


def test_catalogued_but_not_emulated_action(sdk: Sdk) -> None:
    _assert_error(sdk.raw().v1("GetAccountAlias", version="2015-05-01"), 400, "UnsupportedOperation")


def test_unknown_version(sdk: Sdk) -> None:
    _assert_error(sdk.raw().v1("DescribeRegions", version="2099-01-01"), 400, "InvalidVersion")


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_unsupported_http_method(sdk: Sdk, method: str) -> None:
    client = sdk.raw()
    params = client.v1_params("DescribeRegions", method=method)
    response = client.send(method, "/?" + urllib.parse.urlencode(params))
    _assert_error(response, 403, "UnsupportedHTTPMethod")


@pytest.mark.parametrize(("name", "value"), [("SignatureMethod", "HMAC-SHA256"), ("SignatureVersion", "2.0")])
def test_unsupported_signature_method(sdk: Sdk, name: str, value: str) -> None:
    body = _assert_error(sdk.raw().v1("DescribeRegions", {name: value}), 400, "IncompleteSignature")
    assert value in body["Message"]


def test_post_form_and_get_both_verify(sdk: Sdk) -> None:
    client = sdk.raw()
    assert client.v1("DescribeRegions", {"AcceptLanguage": "ja"}, method="POST", form=True).status == 200
    assert client.v1("DescribeRegions", {"AcceptLanguage": "ja"}, method="POST").status == 200
    # The method is part of the string to sign.
    signed_for_get = client.v1_params("DescribeRegions", method="GET")
    response = client.send(
        "POST",
        "/",
        urllib.parse.urlencode(signed_for_get).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    _assert_error(response, 400, "SignatureDoesNotMatch")


def test_blank_values_are_kept_and_signed(sdk: Sdk) -> None:
    # v1 core signs SignatureType= ; a blank value must survive parsing.
    assert sdk.raw().v1("DescribeRegions", {"SignatureType": "", "ResourceType": ""}).status == 200


def test_plus_and_percent_20_are_both_spaces(sdk: Sdk) -> None:
    client = sdk.raw()
    params = client.v1_params("DescribeRegions", {"Comment": "a b*c"})
    encoded = "&".join(f"{k}={urllib.parse.quote_plus(v)}" for k, v in params.items())
    assert "+" in encoded
    assert client.send("GET", "/?" + encoded).status == 200


def _canonically(params: dict[str, str]) -> str:
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote, safe="-_.~")


def _every_byte_escaped(params: dict[str, str]) -> str:
    return "&".join(f"{k}={''.join(f'%{byte:02x}' for byte in v.encode())}" for k, v in params.items())


@pytest.mark.parametrize("encode", [_canonically, _every_byte_escaped])
def test_every_encoding_of_the_signed_values_authenticates_and_no_other_values_do(sdk: Sdk, encode: Any) -> None:
    # The SDKs' canonical encoding is read as the canonical query directly; any other encoding of
    # the same values (every byte escaped, in lower-case hex) is decoded and encoded again.
    client = sdk.raw()
    assert (
        client.send("GET", "/?" + encode(client.v1_params("DescribeRegions", {"AcceptLanguage": "en-US"}))).status
        == 200
    )
    # A value changed after signing fails either way.
    tampered = {**client.v1_params("DescribeRegions", {"AcceptLanguage": "en-US"}), "AcceptLanguage": "ja"}
    _assert_error(client.send("GET", "/?" + encode(tampered)), 400, "SignatureDoesNotMatch")
