"""Authentication against a real store: signatures (V1 and V3), timestamps, keys, tokens, nonces.

Requests are signed by the hand-rolled signer of tests/support/raw.py, which is written apart
from ecsram's own signing code, and handed over as the HttpRequest the server would parse.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from datetime import UTC, datetime

import pytest

from ecsram.contract.call import Call, HttpRequest
from ecsram.contract.errors import ApiError
from ecsram.gateway.authn import authenticate
from ecsram.gateway.pipeline import read
from ecsram.iam.principal import Principal, PrincipalKind
from ecsram.iam.tokens import TokenAuthority
from ecsram.store import accounts
from ecsram.store.database import Database
from tests.support.offline import OfflineClient
from tests.support.principals import add_user_key, issue_session
from tests.support.raw import RAM, rfc3986

MISMATCH_PREFIX = "Specified signature is not matched with our calculation. server string to sign is:"
FIXED = "2026-01-01T12:00:00Z"
FIXED_EPOCH = datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp()


def authn(
    database: Database, tokens: TokenAuthority, http: HttpRequest, *, wall_now: float | None = None
) -> Principal | ApiError:
    """Authenticate ``http`` in a transaction that commits either way (as the pipeline's does)."""
    with database.transaction() as tx:
        call = Call(request_id="unit", http=http, tokens=tokens)
        read(call)
        call.begin(tx, time.time())
        try:
            return authenticate(call, wall_now=time.time() if wall_now is None else wall_now)
        except ApiError as exc:
            return exc


def accepted(database: Database, tokens: TokenAuthority, http: HttpRequest, **options: float) -> Principal:
    outcome = authn(database, tokens, http, **options)
    assert isinstance(outcome, Principal), outcome
    return outcome


def refused(database: Database, tokens: TokenAuthority, http: HttpRequest, **options: float) -> ApiError:
    outcome = authn(database, tokens, http, **options)
    assert isinstance(outcome, ApiError), outcome
    return outcome


@pytest.fixture
def client(root_key: accounts.AccessKey) -> OfflineClient:
    return OfflineClient(root_key.access_key_id, root_key.secret)


# --- good signatures ---------------------------------------------------------------------------


def test_good_v1_get(
    database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey, client: OfflineClient
) -> None:
    principal = accepted(database, tokens, client.v1_request("DescribeRegions", {"RegionId": "cn-hangzhou"}))
    assert principal == Principal(root_key.account_id, root_key.access_key_id, PrincipalKind.ROOT)


def test_good_v1_post_form(database: Database, tokens: TokenAuthority, client: OfflineClient) -> None:
    http = client.v1_request(
        "DescribeRegions", {"RegionId": "cn-hangzhou", "Odd": "a b+c/é&="}, method="POST", form=True
    )
    assert http.query_string == b""
    assert accepted(database, tokens, http).is_root


def test_good_v3(
    database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey, client: OfflineClient
) -> None:
    http = client.v3_request("DescribeRegions", {"RegionId": "cn-hangzhou", "Odd": "a b/é"})
    assert http.headers["authorization"].startswith("ACS3-HMAC-SHA256 ")
    assert accepted(database, tokens, http).access_key_id == root_key.access_key_id


def test_good_v3_with_a_body(database: Database, tokens: TokenAuthority, client: OfflineClient) -> None:
    assert accepted(database, tokens, client.v3_request("DescribeRegions", body=b'{"any":"bytes"}')).is_root


def test_v3_signature_is_compared_case_insensitively(
    database: Database, tokens: TokenAuthority, client: OfflineClient
) -> None:
    def upper(_query: dict[str, str], headers: dict[str, str]) -> None:
        head, _, signature = headers["authorization"].rpartition("Signature=")
        headers["authorization"] = f"{head}Signature={signature.upper()}"

    assert accepted(database, tokens, client.v3_request("DescribeRegions", after_signing=upper)).is_root


def test_user_principal(database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey) -> None:
    key = add_user_key(database, root_key, user_name="bob")
    principal = accepted(
        database, tokens, OfflineClient(key.access_key_id, key.secret).v1_request("GetUser", version=RAM)
    )
    assert (principal.kind, principal.user_name, principal.account_id) == (
        PrincipalKind.USER,
        "bob",
        root_key.account_id,
    )


@pytest.mark.parametrize("style", ["v1", "v3"])
def test_role_session_principal(
    database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey, style: str
) -> None:
    issued = issue_session(tokens, root_key)
    client = OfflineClient(issued.access_key_id, issued.access_key_secret, issued.security_token)
    http = client.v1_request("DescribeRegions") if style == "v1" else client.v3_request("DescribeRegions")
    principal = accepted(database, tokens, http)
    assert (principal.kind, principal.role_name, principal.session_name) == (PrincipalKind.ROLE_SESSION, "web", "sess")


# --- wrong signatures --------------------------------------------------------------------------


def test_v1_wrong_secret_names_the_exact_string_to_sign(
    database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey
) -> None:
    wrong = OfflineClient(root_key.access_key_id, "WrongSecret0123456789")
    http = wrong.v1_request("DescribeRegions", {"RegionId": "cn-hangzhou", "Note": "a b"}, nonce="n-1", timestamp=FIXED)
    err = refused(database, tokens, http, wall_now=FIXED_EPOCH)
    assert (err.code, err.status) == ("SignatureDoesNotMatch", 400)
    assert err.message.startswith(MISMATCH_PREFIX)
    # The v1 SDK splits the message on ':' and compares the tail with its own string to sign.
    server_string = err.message.split(":", 1)[1]
    params = {
        "AccessKeyId": root_key.access_key_id,
        "Action": "DescribeRegions",
        "Format": "JSON",
        "Note": "a b",
        "RegionId": "cn-hangzhou",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "n-1",
        "SignatureVersion": "1.0",
        "Timestamp": FIXED,
        "Version": "2014-05-26",
    }
    canonical = "&".join(f"{rfc3986(k)}={rfc3986(v)}" for k, v in sorted(params.items()))
    assert server_string == f"GET&%2F&{rfc3986(canonical)}"
    # ...and it is the string the right secret signs to the right signature.
    right = OfflineClient(root_key.access_key_id, root_key.secret).v1_params(
        "DescribeRegions", {"RegionId": "cn-hangzhou", "Note": "a b"}, nonce="n-1", timestamp=FIXED
    )
    mac = hmac.new(f"{root_key.secret}&".encode(), server_string.encode(), hashlib.sha1).digest()
    assert base64.b64encode(mac).decode() == right["Signature"]


def test_v3_wrong_secret_names_the_string_the_right_secret_signs(
    database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey
) -> None:
    def request(secret: str) -> HttpRequest:
        client = OfflineClient(root_key.access_key_id, secret)
        return client.v3_request("DescribeRegions", {"RegionId": "cn-hangzhou"}, nonce="n-3", date=FIXED)

    err = refused(database, tokens, request("WrongSecret0123456789"), wall_now=FIXED_EPOCH)
    assert (err.code, err.status) == ("SignatureDoesNotMatch", 400)
    assert err.message.startswith(MISMATCH_PREFIX)
    server_string = err.message[len(MISMATCH_PREFIX) :]
    algorithm, digest = server_string.split("\n")
    assert algorithm == "ACS3-HMAC-SHA256"
    assert len(digest) == 64
    right_signature = request(root_key.secret).headers["authorization"].rpartition("Signature=")[2]
    assert hmac.new(root_key.secret.encode(), server_string.encode(), hashlib.sha256).hexdigest() == right_signature


def test_a_parameter_changed_after_signing_does_not_match(
    database: Database, tokens: TokenAuthority, client: OfflineClient
) -> None:
    def tamper(params: dict[str, str]) -> None:
        params["RegionId"] = "cn-beijing"

    http = client.v1_request("DescribeRegions", {"RegionId": "cn-hangzhou"}, after_signing=tamper)
    assert refused(database, tokens, http).code == "SignatureDoesNotMatch"


def test_a_v3_query_changed_after_signing_does_not_match(
    database: Database, tokens: TokenAuthority, client: OfflineClient
) -> None:
    def tamper(query: dict[str, str], _headers: dict[str, str]) -> None:
        query["RegionId"] = "cn-beijing"

    http = client.v3_request("DescribeRegions", {"RegionId": "cn-hangzhou"}, after_signing=tamper)
    assert refused(database, tokens, http).code == "SignatureDoesNotMatch"


def test_v3_body_other_than_the_signed_hash_does_not_match(
    database: Database, tokens: TokenAuthority, client: OfflineClient
) -> None:
    claimed = hashlib.sha256(b"what was signed").hexdigest()
    http = client.v3_request("DescribeRegions", body=b"what arrived", content_sha256=claimed)
    assert refused(database, tokens, http).code == "SignatureDoesNotMatch"


# --- incomplete or missing signature parts -----------------------------------------------------


@pytest.mark.parametrize(
    "name", ["AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "Timestamp", "SignatureNonce"]
)
def test_v1_missing_signature_part(
    database: Database, tokens: TokenAuthority, client: OfflineClient, name: str
) -> None:
    def drop(params: dict[str, str]) -> None:
        del params[name]

    err = refused(database, tokens, client.v1_request("DescribeRegions", after_signing=drop))
    assert (err.code, err.status) == ("MissingParameter", 400)
    assert f'"{name}"' in err.message


@pytest.mark.parametrize(("name", "value"), [("SignatureMethod", "HMAC-SHA256"), ("SignatureVersion", "2.0")])
def test_v1_unsupported_signature_method_or_version_is_incomplete(
    database: Database, tokens: TokenAuthority, client: OfflineClient, name: str, value: str
) -> None:
    err = refused(database, tokens, client.v1_request("DescribeRegions", {name: value}))
    assert (err.code, err.status) == ("IncompleteSignature", 400)
    assert err.message.startswith("The request signature does not conform to Aliyun standards.")
    assert value in err.message


@pytest.mark.parametrize(
    "authorization",
    [
        "ACS3-HMAC-SHA1 Credential=LTAIxxxxxxxxxxxxxxxx,SignedHeaders=host,Signature=ab",
        "ACS3-HMAC-SHA256 Credential=LTAIxxxxxxxxxxxxxxxx,SignedHeaders=host",
        "ACS3-HMAC-SHA256 Credential=LTAIxxxxxxxxxxxxxxxx,Signature=ab",
        "ACS3-HMAC-SHA256 SignedHeaders=host,Signature=ab",
        "ACS3-HMAC-SHA256 Credential",
        "ACS3-HMAC-SHA256 Credential=LTAIxxxxxxxxxxxxxxxx,SignedHeaders=x-acs-date;host,Signature=ab",
        "ACS3-HMAC-SHA256 Credential=LTAIxxxxxxxxxxxxxxxx,SignedHeaders=Host,Signature=ab",
    ],
)
def test_v3_malformed_authorization_is_incomplete(
    database: Database, tokens: TokenAuthority, client: OfflineClient, authorization: str
) -> None:
    def replace(_query: dict[str, str], headers: dict[str, str]) -> None:
        headers["authorization"] = authorization

    err = refused(database, tokens, client.v3_request("DescribeRegions", after_signing=replace))
    assert (err.code, err.status) == ("IncompleteSignature", 400)


@pytest.mark.parametrize(
    "unsigned", ["host", "x-acs-action", "x-acs-date", "x-acs-signature-nonce", "x-acs-version", "x-acs-content-sha256"]
)
def test_v3_headers_that_must_be_signed(
    database: Database, tokens: TokenAuthority, client: OfflineClient, unsigned: str
) -> None:
    signed = sorted(
        {"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"}
        - {unsigned}
    )
    err = refused(database, tokens, client.v3_request("DescribeRegions", signed_headers=signed))
    assert err.code == "IncompleteSignature"
    assert err.message.endswith(f"SignedHeaders must include {unsigned}.")


def test_v3_security_token_must_be_signed(
    database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey
) -> None:
    issued = issue_session(tokens, root_key)
    client = OfflineClient(issued.access_key_id, issued.access_key_secret, issued.security_token)
    signed = ["host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"]
    err = refused(database, tokens, client.v3_request("DescribeRegions", signed_headers=signed))
    assert err.code == "IncompleteSignature"
    assert "x-acs-security-token" in err.message


@pytest.mark.parametrize("header", ["x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"])
def test_v3_missing_header_is_missing_parameter(
    database: Database, tokens: TokenAuthority, client: OfflineClient, header: str
) -> None:
    def drop(_query: dict[str, str], headers: dict[str, str]) -> None:
        del headers[header]

    err = refused(database, tokens, client.v3_request("DescribeRegions", after_signing=drop))
    assert err.code == "MissingParameter"
    assert f'"{header}"' in err.message


# --- timestamps --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("skew", "ok"), [(0, True), (900, True), (-900, True), (901, False), (-901, False), (86400, False)]
)
def test_v1_timestamp_window_is_15_minutes_either_side(
    database: Database, tokens: TokenAuthority, client: OfflineClient, skew: int, ok: bool
) -> None:
    outcome = authn(
        database, tokens, client.v1_request("DescribeRegions", timestamp=FIXED), wall_now=FIXED_EPOCH + skew
    )
    if ok:
        assert isinstance(outcome, Principal)
    else:
        assert isinstance(outcome, ApiError)
        assert (outcome.code, outcome.status) == ("InvalidTimeStamp.Expired", 400)
        assert f"The request time {FIXED} differs from the server time by more than 15 minutes." in outcome.message


@pytest.mark.parametrize(("skew", "ok"), [(900, True), (-900, True), (901, False), (-901, False)])
def test_v3_date_window(database: Database, tokens: TokenAuthority, client: OfflineClient, skew: int, ok: bool) -> None:
    outcome = authn(database, tokens, client.v3_request("DescribeRegions", date=FIXED), wall_now=FIXED_EPOCH + skew)
    assert isinstance(outcome, Principal) is ok
    if not ok:
        assert outcome.code == "InvalidTimeStamp.Expired"  # type: ignore[union-attr]


def test_fractional_seconds_are_accepted(database: Database, tokens: TokenAuthority, client: OfflineClient) -> None:
    http = client.v1_request("DescribeRegions", timestamp="2026-01-01T12:00:00.123456789Z")
    assert accepted(database, tokens, http, wall_now=FIXED_EPOCH)


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-01-01 12:00:00",
        "2026-01-01T12:00:00",
        "2026-01-01T12:00:00+08:00",
        "2026-13-01T12:00:00Z",
        "2026-02-30T12:00:00Z",
        "1767268800",
        "2026-01-01T12:00:00.Z",
        "2026-01-01T25:00:00Z",
    ],
)
def test_malformed_timestamp(database: Database, tokens: TokenAuthority, client: OfflineClient, timestamp: str) -> None:
    err = refused(database, tokens, client.v1_request("DescribeRegions", timestamp=timestamp))
    assert (err.code, err.status) == ("InvalidTimeStamp.Format", 400)
    assert '"Timestamp"' in err.message


def test_malformed_v3_date_names_the_header(database: Database, tokens: TokenAuthority, client: OfflineClient) -> None:
    err = refused(database, tokens, client.v3_request("DescribeRegions", date="Thu, 01 Jan 2026 12:00:00 GMT"))
    assert err.code == "InvalidTimeStamp.Format"
    assert '"x-acs-date"' in err.message


# --- keys and tokens ---------------------------------------------------------------------------


def test_unknown_key(database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey) -> None:
    http = OfflineClient("LTAI" + "u" * 20, root_key.secret).v1_request("DescribeRegions")
    err = refused(database, tokens, http)
    assert (err.code, err.status) == ("InvalidAccessKeyId.NotFound", 404)


def test_disabled_key(
    database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey, client: OfflineClient
) -> None:
    with database.transaction() as tx:
        accounts.set_access_key_status(tx, root_key.access_key_id, accounts.INACTIVE)
    err = refused(database, tokens, client.v3_request("DescribeRegions"))
    assert (err.code, err.status) == ("InvalidAccessKeyId.Inactive", 400)


def test_sts_key_without_token(database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey) -> None:
    issued = issue_session(tokens, root_key)
    http = OfflineClient(issued.access_key_id, issued.access_key_secret).v1_request("DescribeRegions")
    assert refused(database, tokens, http).code == "InvalidSecurityToken.Malformed"


def test_sts_token_for_another_key(database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey) -> None:
    first, second = issue_session(tokens, root_key), issue_session(tokens, root_key)
    http = OfflineClient(second.access_key_id, second.access_key_secret, first.security_token).v3_request(
        "DescribeRegions"
    )
    assert refused(database, tokens, http).code == "InvalidSecurityToken.MismatchWithAccessKey"


def test_expired_session(database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey) -> None:
    issued = issue_session(tokens, root_key, expires_in=-1)
    http = OfflineClient(issued.access_key_id, issued.access_key_secret, issued.security_token).v1_request(
        "DescribeRegions"
    )
    assert refused(database, tokens, http).code == "InvalidSecurityToken.Expired"


def test_sts_secret_of_another_session_does_not_match(
    database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey
) -> None:
    first, second = issue_session(tokens, root_key), issue_session(tokens, root_key)
    http = OfflineClient(first.access_key_id, second.access_key_secret, first.security_token).v1_request(
        "DescribeRegions"
    )
    assert refused(database, tokens, http).code == "SignatureDoesNotMatch"


# --- nonces ------------------------------------------------------------------------------------


def test_a_used_nonce_is_refused(database: Database, tokens: TokenAuthority, client: OfflineClient) -> None:
    http = client.v1_request("DescribeRegions")
    accepted(database, tokens, http)
    err = refused(database, tokens, http)
    assert (err.code, err.status) == ("SignatureNonceUsed", 400)
    # A fresh signature with the same nonce is a replay too.
    nonce = dict(pair.split("=", 1) for pair in http.query_string.decode().split("&"))["SignatureNonce"]
    assert refused(database, tokens, client.v3_request("DescribeRegions", nonce=nonce)).code == "SignatureNonceUsed"


def test_nonces_are_per_access_key(
    database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey, client: OfflineClient
) -> None:
    key = add_user_key(database, root_key)
    nonce = uuid.uuid4().hex
    accepted(database, tokens, client.v1_request("DescribeRegions", nonce=nonce))
    accepted(database, tokens, OfflineClient(key.access_key_id, key.secret).v1_request("DescribeRegions", nonce=nonce))


def test_a_badly_signed_request_does_not_use_up_its_nonce(
    database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey, client: OfflineClient
) -> None:
    nonce = uuid.uuid4().hex
    forged = OfflineClient(root_key.access_key_id, "WrongSecret0123456789").v1_request("DescribeRegions", nonce=nonce)
    assert refused(database, tokens, forged).code == "SignatureDoesNotMatch"
    accepted(database, tokens, client.v1_request("DescribeRegions", nonce=nonce))


def test_an_overlong_nonce_is_invalid(database: Database, tokens: TokenAuthority, client: OfflineClient) -> None:
    accepted(database, tokens, client.v1_request("DescribeRegions", nonce="n" * 128))
    err = refused(database, tokens, client.v1_request("DescribeRegions", nonce="n" * 129))
    assert (err.code, err.status) == ("InvalidParameter", 400)
    assert '"SignatureNonce"' in err.message
