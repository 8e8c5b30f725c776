"""STS: AssumeRole (trust, permission, duration, session policy), GetCallerIdentity, and STS
credentials accepted (or refused) everywhere."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_tea_openapi.exceptions import ClientException
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest
from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest

from ecsram.testing import clients
from ecsram.testing.accounts import create_account
from ecsram.testing.server import ServerProcess
from tests.conftest import Sdk
from tests.support.ecs import REGION, account_trust, allow, create_role, run_instances
from tests.support.raw import STS, RawClient, RawResponse


def _role(sdk: Sdk, *system_policies: str, trust: str | None = None) -> str:
    name = f"role-{uuid.uuid4().hex[:8]}"
    create_role(sdk, name, trust=trust or account_trust(sdk.account_id))
    for policy in system_policies:
        request = ram_models.AttachPolicyToRoleRequest(policy_type="System", policy_name=policy, role_name=name)
        sdk.tea_ram().attach_policy_to_role(request)
    return name


def _assume(sdk: Sdk, role: str, **kwargs: Any) -> Any:
    request = sts_models.AssumeRoleRequest(
        role_arn=f"acs:ram::{sdk.account_id}:role/{role}", role_session_name="session-1", **kwargs
    )
    return sdk.tea_sts().assume_role(request).body


def _session(sdk: Sdk, body: Any) -> Sdk:
    """An Sdk acting with the STS credentials of an AssumeRole response."""
    credentials = body.credentials
    return sdk.with_credentials(credentials.access_key_id, credentials.access_key_secret, credentials.security_token)


def _error(response: RawResponse, status: int, code: str) -> dict[str, Any]:
    assert (response.status, response.code) == (status, code), response.body
    body: dict[str, Any] = response.json
    return body


# --- AssumeRole ----------------------------------------------------------------------------------


def test_assume_role_and_use_the_credentials(sdk: Sdk) -> None:
    role = _role(sdk, "AliyunECSReadOnlyAccess")
    body = _assume(sdk, role, duration_seconds=900)
    credentials = body.credentials
    assert credentials.access_key_id.startswith("STS.")
    assert credentials.security_token and credentials.access_key_secret
    assert body.assumed_role_user.arn == f"acs:ram::{sdk.account_id}:role/{role}/session-1"
    assert body.assumed_role_user.assumed_role_id.endswith(":session-1")
    session = _session(sdk, body)
    run_instances(sdk, 2)
    assert (
        session.tea_ecs().describe_instances(ecs_models.DescribeInstancesRequest(region_id=REGION)).body.total_count
        == 2
    )
    with pytest.raises(ClientException) as caught:
        session.tea_ecs().run_instances(
            ecs_models.RunInstancesRequest(region_id=REGION, image_id="i", instance_type="t")
        )
    assert caught.value.code == "Forbidden.RAM"
    assert caught.value.access_denied_detail["AuthPrincipalType"] == "AssumedRoleUser"


def test_v1_signatures_carry_the_token_as_a_parameter(sdk: Sdk) -> None:
    session = _session(sdk, _assume(sdk, _role(sdk, "AliyunECSReadOnlyAccess")))
    client = AcsClient(
        region_id=REGION,
        credential=StsTokenCredential(session.key.access_key_id, session.key.secret, session.security_token),
        auto_retry=False,
    )
    request = clients.prepare_v1(DescribeInstancesRequest(), sdk.endpoint)
    assert json.loads(client.do_action_with_exception(request))["TotalCount"] == 0
    assert session.raw().v3("DescribeInstances", {"RegionId": REGION}).status == 200


def test_session_policy_narrows_the_role(sdk: Sdk) -> None:
    role = _role(sdk, "AliyunECSFullAccess")
    body = _assume(sdk, role, policy=allow("ecs:DescribeInstances"))
    session = _session(sdk, body).raw()
    assert session.v1("DescribeInstances", {"RegionId": REGION}).status == 200
    response = session.v1("DescribeRegions")
    _error(response, 403, "Forbidden.RAM")
    assert response.json["AccessDeniedDetail"]["PolicyType"] == "SessionPolicy"


def test_session_policy_never_widens(sdk: Sdk) -> None:
    role = _role(sdk, "AliyunECSReadOnlyAccess")
    session = _session(sdk, _assume(sdk, role, policy=allow("*"))).raw()
    _error(session.v1("RunInstances", {"RegionId": REGION, "ImageId": "i", "InstanceType": "t"}), 403, "Forbidden.RAM")


def test_with_the_v1_sts_sdk(sdk: Sdk) -> None:
    role = _role(sdk)
    request = AssumeRoleRequest()
    request.set_RoleArn(f"acs:ram::{sdk.account_id}:role/{role}")
    request.set_RoleSessionName("v1-session")
    body = sdk.v1_call(request)
    assert body["Credentials"]["AccessKeyId"].startswith("STS.")
    assert body["AssumedRoleUser"]["AssumedRoleId"].endswith(":v1-session")


def test_untrusted_caller_is_refused(sdk: Sdk) -> None:
    ecs_only = _role(
        sdk,
        trust='{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["ecs.aliyuncs.com"]}}],"Version":"1"}',
    )
    with pytest.raises(ClientException) as caught:
        _assume(sdk, ecs_only)
    assert (caught.value.code, caught.value.status_code) == ("NoPermission", 403)


def test_user_needs_sts_assume_role(sdk: Sdk) -> None:
    role = _role(sdk)
    user = sdk.new_user()
    with pytest.raises(ClientException) as caught:
        _assume(user, role)
    assert caught.value.code == "NoPermission"
    assert caught.value.access_denied_detail["AuthAction"] == "sts:AssumeRole"
    granted = sdk.new_user("AliyunSTSAssumeRoleAccess")
    assert _assume(granted, role).credentials.access_key_id.startswith("STS.")


def test_cross_account_assume_role(sdk: Sdk) -> None:
    other = sdk.other_account()
    name = f"shared-{uuid.uuid4().hex[:6]}"
    create_role(other, name, trust=account_trust(sdk.account_id))
    request = sts_models.AssumeRoleRequest(
        role_arn=f"acs:ram::{other.account_id}:role/{name}", role_session_name="visitor"
    )
    body = sdk.tea_sts().assume_role(request).body
    assert body.assumed_role_user.arn.startswith(f"acs:ram::{other.account_id}:role/")
    third = other.other_account()
    request.role_session_name = "stranger"
    with pytest.raises(ClientException) as caught:
        third.tea_sts().assume_role(request)
    assert caught.value.code == "NoPermission"


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"DurationSeconds": "899"}, 400, "InvalidParameter.DurationSeconds"),
        ({"DurationSeconds": "3601"}, 400, "InvalidParameter.DurationSeconds"),
        ({"DurationSeconds": "soon"}, 400, "InvalidParameter"),
        ({"Policy": allow("ecs:*", ["acs:ecs:*:*:instance/" + "x" * 60] * 40)}, 400, "InvalidParameter.PolicySize"),
        ({"Policy": "{not json"}, 400, "InvalidParameter.PolicyGrammar"),
        ({"Policy": '{"Version":"1","Statement":[]}'}, 400, "InvalidParameter.PolicyGrammar"),
        ({"RoleArn": "arn:aws:iam::123:role/x"}, 400, "InvalidParameter.RoleArn"),
        ({"RoleSessionName": "x"}, 400, "InvalidParameter.RoleSessionName"),
        ({"RoleSessionName": "bad name"}, 400, "InvalidParameter.RoleSessionName"),
        ({"RoleArn": "acs:ram::1999999999999999:role/missing"}, 404, "EntityNotExist.Role"),
    ],
)
def test_assume_role_errors(sdk: Sdk, params: dict[str, str], status: int, code: str) -> None:
    role = _role(sdk)
    base = {"RoleArn": f"acs:ram::{sdk.account_id}:role/{role}", "RoleSessionName": "s1"}
    _error(sdk.raw().v1("AssumeRole", {**base, **params}, version=STS), status, code)


def test_duration_up_to_the_roles_maximum(sdk: Sdk) -> None:
    name = f"long-{uuid.uuid4().hex[:6]}"
    create_role(sdk, name, trust=account_trust(sdk.account_id), max_session_duration=7200)
    assert _assume(sdk, name, duration_seconds=7200).credentials.access_key_id
    with pytest.raises(ClientException) as caught:
        _assume(sdk, name, duration_seconds=7201)
    assert caught.value.code == "InvalidParameter.DurationSeconds"


@pytest.mark.parametrize("missing", ["RoleArn", "RoleSessionName"])
def test_assume_role_missing_parameter(sdk: Sdk, missing: str) -> None:
    params = {"RoleArn": f"acs:ram::{sdk.account_id}:role/x", "RoleSessionName": "s1"}
    del params[missing]
    _error(sdk.raw().v1("AssumeRole", params, version=STS), 400, "MissingParameter")


# --- GetCallerIdentity -----------------------------------------------------------------------------


def test_get_caller_identity(sdk: Sdk) -> None:
    root = sdk.tea_sts().get_caller_identity().body
    assert (root.identity_type, root.account_id, root.arn) == (
        "Account",
        sdk.account_id,
        f"acs:ram::{sdk.account_id}:root",
    )
    user = sdk.new_user()  # no policies: GetCallerIdentity is not governed by RAM
    body = user.tea_sts().get_caller_identity().body
    assert (body.identity_type, body.arn) == ("RAMUser", f"acs:ram::{sdk.account_id}:user/{user.user_name}")
    assert body.user_id == user.key.user_id
    role = _role(sdk)
    session = _session(sdk, _assume(sdk, role))
    response = session.raw().v1("GetCallerIdentity", version=STS)
    assert response.status == 200
    assert response.json["IdentityType"] == "AssumedRoleUser"
    assert response.json["Arn"] == f"acs:ram::{sdk.account_id}:assumed-role/{role}/session-1"


# --- tokens refused ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clock_server(database_factory: Callable[[], str]) -> Iterator[ServerProcess]:
    server = ServerProcess(database_factory(), test_clock=True)
    server.start()
    yield server
    server.stop()


def test_expired_credentials(clock_server: ServerProcess) -> None:
    sdk = Sdk(clock_server.endpoint, create_account(clock_server.database_url), clock_server.database_url)
    session = _session(sdk, _assume(sdk, _role(sdk, "AliyunECSReadOnlyAccess"), duration_seconds=900)).raw()
    assert session.v1("DescribeInstances", {"RegionId": REGION}).status == 200
    clock_server.advance_clock(901)
    try:
        _error(session.v1("DescribeInstances", {"RegionId": REGION}), 400, "InvalidSecurityToken.Expired")
        _error(session.v3("DescribeInstances", {"RegionId": REGION}), 400, "InvalidSecurityToken.Expired")
    finally:
        clock_server.advance_clock(-901)


def test_tampered_and_mismatched_tokens(sdk: Sdk) -> None:
    role = _role(sdk, "AliyunECSReadOnlyAccess")
    first = _session(sdk, _assume(sdk, role))
    second = _session(sdk, _assume(sdk, role))
    token = first.security_token
    assert token is not None

    body_part, mac = token[4:].split(".")
    claims = json.loads(base64.urlsafe_b64decode(body_part + "=" * (-len(body_part) % 4)))
    claims["policy"] = None
    claims["expires_at"] += 10**6
    forged_body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    for bad in (token[:-2] + "AA", "CAIS" + forged_body + "." + mac, "garbage", token + "x"):
        client = RawClient(sdk.endpoint, first.key.access_key_id, first.key.secret, security_token=bad)
        _error(client.v1("DescribeInstances", {"RegionId": REGION}), 400, "InvalidSecurityToken.Malformed")
    mixed = RawClient(sdk.endpoint, first.key.access_key_id, first.key.secret, security_token=second.security_token)
    _error(mixed.v1("DescribeInstances", {"RegionId": REGION}), 400, "InvalidSecurityToken.MismatchWithAccessKey")
    missing = RawClient(sdk.endpoint, first.key.access_key_id, first.key.secret)
    _error(missing.v1("DescribeInstances", {"RegionId": REGION}), 400, "InvalidSecurityToken.Malformed")
    permanent = RawClient(sdk.endpoint, sdk.key.access_key_id, sdk.key.secret, security_token=token)
    _error(permanent.v1("DescribeInstances", {"RegionId": REGION}), 400, "InvalidSecurityToken.MismatchWithAccessKey")
    wrong_secret = RawClient(sdk.endpoint, first.key.access_key_id, "not-the-secret", security_token=token)
    _error(wrong_secret.v1("DescribeInstances", {"RegionId": REGION}), 400, "SignatureDoesNotMatch")


def test_sts_credentials_with_the_v1_sdk_error(sdk: Sdk) -> None:
    role = _role(sdk, "AliyunECSReadOnlyAccess")
    session = _session(sdk, _assume(sdk, role, policy=allow("ecs:DescribeRegions")))
    client = AcsClient(
        region_id=REGION,
        credential=StsTokenCredential(session.key.access_key_id, session.key.secret, session.security_token),
        auto_retry=False,
    )
    with pytest.raises(ServerException) as caught:
        client.do_action_with_exception(clients.prepare_v1(DescribeInstancesRequest(), sdk.endpoint))
    assert (caught.value.get_error_code(), caught.value.get_http_status()) == ("Forbidden.RAM", 403)
