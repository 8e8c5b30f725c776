"""The instance metadata service, end to end: attach a role -> the official credentials libraries
read that role's credentials through ecsram -> calls with them are authorised by the role's
policies narrowed by the attach Policy -> detach -> the role is gone from the metadata."""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_tea_openapi import models as openapi_models
from alibabacloud_tea_openapi.exceptions import ClientException
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest
from aliyunsdkecs.request.v20140526.RunInstancesRequest import RunInstancesRequest

from ecsram.testing import clients
from ecsram.testing.accounts import create_account
from ecsram.testing.server import ServerProcess
from tests.conftest import NODE_DIR, Sdk
from tests.support.ecs import REGION, allow, attach, create_role, detach, run_instances
from tests.support.metadata import CREDENTIALS, Metadata, proxy_url, proxy_without_tokens

DESCRIBE_ONLY = allow(["ecs:DescribeInstances", "ecs:DescribeInstanceRamRole"])


def _credentials_client(proxy: str, role_name: str | None = None) -> Any:
    """alibabacloud_credentials' ecs_ram_role provider, reaching the metadata service through a proxy."""
    from alibabacloud_credentials.client import Client
    from alibabacloud_credentials.models import Config

    return Client(Config(type="ecs_ram_role", proxy=proxy, role_name=role_name))


def _ecs_with(credential: Any, endpoint: str) -> EcsClient:
    config = openapi_models.Config(credential=credential, endpoint=endpoint, protocol="http", region_id=REGION)
    return EcsClient(config)


@pytest.fixture
def bound(sdk: Sdk) -> dict[str, Any]:
    """An ECS-trusted role with AliyunECSFullAccess, attached to a new instance with a Policy that
    narrows it to describing."""
    role = f"app-{uuid.uuid4().hex[:8]}"
    create_role(sdk, role)
    request = ram_models.AttachPolicyToRoleRequest(
        policy_type="System", policy_name="AliyunECSFullAccess", role_name=role
    )
    sdk.tea_ram().attach_policy_to_role(request)
    (instance_id,) = run_instances(sdk, 1)
    attach(sdk, role, [instance_id], policy=DESCRIBE_ONLY)
    return {"role": role, "instance": instance_id}


# --- the official Python credentials library ----------------------------------------------------


def test_python_credentials_via_proxy_token_flow(sdk: Sdk, bound: dict[str, Any]) -> None:
    credential = _credentials_client(proxy_url(sdk.endpoint, bound["instance"]))
    fetched = credential.get_credential()
    assert fetched.access_key_id.startswith("STS.") and fetched.security_token
    ecs = _ecs_with(credential, sdk.endpoint)
    assert ecs.describe_instances(ecs_models.DescribeInstancesRequest(region_id=REGION)).body.total_count == 1
    # The role allows RunInstances (AliyunECSFullAccess) but the attach Policy narrowed it away.
    with pytest.raises(ClientException) as caught:
        ecs.run_instances(ecs_models.RunInstancesRequest(region_id=REGION, image_id="i", instance_type="ecs.g7.large"))
    assert (caught.value.code, caught.value.status_code) == ("Forbidden.RAM", 403)
    assert caught.value.access_denied_detail["PolicyType"] == "SessionPolicy"
    # The same credentials through the v1 core SDK, token as a query parameter.
    v1 = AcsClient(
        region_id=REGION,
        credential=StsTokenCredential(fetched.access_key_id, fetched.access_key_secret, fetched.security_token),
        auto_retry=False,
    )
    body = json.loads(v1.do_action_with_exception(clients.prepare_v1(DescribeInstancesRequest(), sdk.endpoint)))
    assert body["TotalCount"] == 1
    run = clients.prepare_v1(RunInstancesRequest(), sdk.endpoint)
    run.set_ImageId("i")
    run.set_InstanceType("ecs.g7.large")
    with pytest.raises(ServerException) as denied:
        v1.do_action_with_exception(run)
    assert denied.value.get_error_code() == "Forbidden.RAM"


def test_python_credentials_fall_back_to_v1_without_tokens(sdk: Sdk, bound: dict[str, Any]) -> None:
    with proxy_without_tokens(sdk.endpoint) as plain_proxy:
        credential = _credentials_client(proxy_url(plain_proxy.address, bound["instance"]))
        fetched = credential.get_credential()
    assert fetched.access_key_id.startswith("STS.")
    methods = [(method, path.rsplit("/", 1)[-1], tokened) for method, path, tokened in plain_proxy.seen]
    assert methods[0] == ("PUT", "token", False)  # the token flow was tried first ...
    assert ("GET", bound["role"], False) in methods  # ... then the role was read without a token
    ecs = _ecs_with(credential, sdk.endpoint)
    assert ecs.describe_instances(ecs_models.DescribeInstancesRequest(region_id=REGION)).body.total_count == 1


def test_python_credentials_for_a_hardened_instance(sdk: Sdk, bound: dict[str, Any]) -> None:
    request = ecs_models.ModifyInstanceMetadataOptionsRequest(
        region_id=REGION, instance_id=bound["instance"], http_endpoint="enabled", http_tokens="required"
    )
    sdk.tea_ecs().modify_instance_metadata_options(request)
    fetched = _credentials_client(proxy_url(sdk.endpoint, bound["instance"])).get_credential()
    assert fetched.access_key_id.startswith("STS.")
    # Without a token there is no fallback for a hardened instance: the token-less GET is refused.
    with proxy_without_tokens(sdk.endpoint) as plain_proxy, pytest.raises(Exception, match=r"403"):
        _credentials_client(proxy_url(plain_proxy.address, bound["instance"])).get_credential()


# --- the official Node credentials library ----------------------------------------------------------


@pytest.mark.node
def test_node_credentials_on_a_pinned_listener(
    sdk: Sdk, bound: dict[str, Any], server_factory: Callable[..., ServerProcess]
) -> None:
    # A second server process on the same database, with a metadata listener that answers as the
    # instance (the Node library cannot use a proxy; its host is pointed at the listener).
    listener = server_factory(sdk.database_url, extra_args=("--metadata-listen", f"{bound['instance']}@127.0.0.1:0"))
    (metadata_host,) = listener.metadata_listeners
    import subprocess

    request = {
        "metadataHost": metadata_host,
        "endpoint": sdk.endpoint,
        "calls": [
            {"action": "DescribeInstances", "params": {"RegionId": REGION}},
            {"action": "RunInstances", "params": {"RegionId": REGION, "ImageId": "i", "InstanceType": "ecs.g7.large"}},
        ],
    }
    env = {k: v for k, v in os.environ.items() if k != "ALIBABA_CLOUD_ECS_METADATA_DISABLED"}
    completed = subprocess.run(
        ["node", str(Path(NODE_DIR) / "instance.js")],
        input=json.dumps(request).encode(),
        capture_output=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode()
    report = json.loads(completed.stdout)
    assert report["credentials"]["accessKeyId"].startswith("STS.")
    described, ran = report["results"]
    assert described["ok"] and described["body"]["TotalCount"] == 1
    assert not ran["ok"] and (ran["code"], ran["statusCode"]) == ("Forbidden.RAM", 403)


# --- the paths and their answers -----------------------------------------------------------------


def test_paths(sdk: Sdk, bound: dict[str, Any]) -> None:
    metadata = Metadata(sdk.endpoint, bound["instance"])
    assert metadata.get("/latest/meta-data/instance-id").text == bound["instance"]
    assert metadata.get("/latest/meta-data/region-id").text == REGION
    listing = metadata.get(CREDENTIALS)
    assert (listing.status, listing.text) == (200, bound["role"])  # no trailing newline
    answer = metadata.get(CREDENTIALS + bound["role"])
    assert answer.status == 200 and answer.headers["content-type"].startswith("application/json")
    document = json.loads(answer.body)
    assert document["Code"] == "Success"
    assert set(document) == {"AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration", "LastUpdated", "Code"}
    assert document["Expiration"].endswith("Z") and document["LastUpdated"].endswith("Z")
    # One set of credentials per refresh window: fetching again gives the same ones.
    assert json.loads(metadata.get(CREDENTIALS + bound["role"]).body)["AccessKeyId"] == document["AccessKeyId"]
    assert metadata.get(CREDENTIALS + "other-role").status == 404
    assert metadata.get("/latest/meta-data/nothing-here").status == 404


def test_detach_and_attach_another_role(sdk: Sdk, bound: dict[str, Any]) -> None:
    metadata = Metadata(sdk.endpoint, bound["instance"])
    old = json.loads(metadata.get(CREDENTIALS + bound["role"]).body)
    detach(sdk, [bound["instance"]])
    assert metadata.get(CREDENTIALS).status == 404
    assert metadata.get(CREDENTIALS + bound["role"]).status == 404
    # Credentials issued before the detach keep working until they expire, as STS credentials do.
    still = sdk.with_credentials(old["AccessKeyId"], old["AccessKeySecret"], old["SecurityToken"])
    assert still.raw().v1("DescribeInstances", {"RegionId": REGION}).status == 200

    second = f"next-{uuid.uuid4().hex[:8]}"
    create_role(sdk, second)
    attach(sdk, second, [bound["instance"]])
    assert metadata.get(CREDENTIALS).text == second
    fetched = _credentials_client(proxy_url(sdk.endpoint, bound["instance"])).get_credential()
    identity = sdk.with_credentials(fetched.access_key_id, fetched.access_key_secret, fetched.security_token)
    caller = identity.tea_sts().get_caller_identity().body
    assert caller.arn == f"acs:ram::{sdk.account_id}:assumed-role/{second}/{bound['instance']}"


def test_hardened_mode(sdk: Sdk, bound: dict[str, Any]) -> None:
    other_instance = run_instances(sdk, 1)[0]
    request = ecs_models.ModifyInstanceMetadataOptionsRequest(
        region_id=REGION, instance_id=bound["instance"], http_endpoint="enabled", http_tokens="required"
    )
    sdk.tea_ecs().modify_instance_metadata_options(request)
    metadata = Metadata(sdk.endpoint, bound["instance"])
    assert metadata.get(CREDENTIALS).status == 403
    token = metadata.token(60)
    assert token.status == 200 and token.headers["content-type"].startswith("text/plain")
    assert metadata.get(CREDENTIALS, token=token.text).text == bound["role"]
    foreign = Metadata(sdk.endpoint, other_instance).token(60).text
    assert metadata.get(CREDENTIALS, token=foreign).status == 401
    assert metadata.get(CREDENTIALS, token=token.text + "x").status == 401


# Latin-1 superscripts pass str.isdigit() but not int(); signs and underscores pass int()
# but are not a number of seconds; 5000 digits pass both checks and then int() refuses them.
@pytest.mark.parametrize(
    "ttl", ["0", "21601", "-5", "forever", "", "\xb2", "6\xb2", "\xb9\xb2\xb3", "+60", "6_0", "1e3", "9" * 5000]
)
def test_token_ttl_out_of_range(sdk: Sdk, bound: dict[str, Any], ttl: str) -> None:
    answer = Metadata(sdk.endpoint, bound["instance"]).token(ttl)
    assert answer.status == 400, answer.body
    assert b"must be an integer from 1 to 21600" in answer.body


def test_instance_naming_errors(sdk: Sdk, bound: dict[str, Any]) -> None:
    unnamed = Metadata(sdk.endpoint, None).get("/latest/meta-data/instance-id")
    assert unnamed.status == 407 and "proxy-authenticate" in unnamed.headers
    assert Metadata(sdk.endpoint, "i-doesnotexist00000000").get(CREDENTIALS).status == 404
    sdk.tea_ecs().stop_instance(ecs_models.StopInstanceRequest(instance_id=bound["instance"]))
    stopped = Metadata(sdk.endpoint, bound["instance"]).get(CREDENTIALS)
    assert stopped.status == 409 and "Stopped" in stopped.text


def test_disabled_metadata_endpoint(sdk: Sdk, bound: dict[str, Any]) -> None:
    request = ecs_models.ModifyInstanceMetadataOptionsRequest(
        region_id=REGION, instance_id=bound["instance"], http_endpoint="disabled"
    )
    sdk.tea_ecs().modify_instance_metadata_options(request)
    assert Metadata(sdk.endpoint, bound["instance"]).get("/latest/meta-data/instance-id").status == 403


def test_deleted_role_stops_credentials(sdk: Sdk, bound: dict[str, Any]) -> None:
    request = ram_models.DetachPolicyFromRoleRequest(
        policy_type="System", policy_name="AliyunECSFullAccess", role_name=bound["role"]
    )
    sdk.tea_ram().detach_policy_from_role(request)
    sdk.tea_ram().delete_role(ram_models.DeleteRoleRequest(role_name=bound["role"]))
    metadata = Metadata(sdk.endpoint, bound["instance"])
    assert metadata.get(CREDENTIALS).text == bound["role"]  # the binding names it still
    assert metadata.get(CREDENTIALS + bound["role"]).status == 404


# --- time --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clock_server(database_factory: Callable[[], str]) -> Iterator[ServerProcess]:
    server = ServerProcess(database_factory(), test_clock=True)
    server.start()
    yield server
    server.stop()


def test_expired_metadata_token_and_credentials(clock_server: ServerProcess) -> None:
    sdk = Sdk(clock_server.endpoint, create_account(clock_server.database_url), clock_server.database_url)
    role = f"timed-{uuid.uuid4().hex[:6]}"
    create_role(sdk, role)
    request = ram_models.AttachPolicyToRoleRequest(
        policy_type="System", policy_name="AliyunECSReadOnlyAccess", role_name=role
    )
    sdk.tea_ram().attach_policy_to_role(request)
    (instance_id,) = run_instances(sdk, 1)
    attach(sdk, role, [instance_id])
    metadata = Metadata(sdk.endpoint, instance_id)
    token = metadata.token(60).text
    document = json.loads(metadata.get(CREDENTIALS + role, token=token).body)
    session = sdk.with_credentials(document["AccessKeyId"], document["AccessKeySecret"], document["SecurityToken"])
    assert session.raw().v1("DescribeInstances", {"RegionId": REGION}).status == 200
    clock_server.advance_clock(61)
    try:
        assert metadata.get(CREDENTIALS, token=token).status == 401
        clock_server.advance_clock(6 * 3600)
        assert session.raw().v1("DescribeInstances", {"RegionId": REGION}).code == "InvalidSecurityToken.Expired"
        # The metadata service has issued fresh ones by now.
        fresh = json.loads(metadata.get(CREDENTIALS + role).body)
        assert fresh["AccessKeyId"] != document["AccessKeyId"]
        renewed = sdk.with_credentials(fresh["AccessKeyId"], fresh["AccessKeySecret"], fresh["SecurityToken"])
        assert renewed.raw().v1("DescribeInstances", {"RegionId": REGION}).status == 200
    finally:
        clock_server.advance_clock(-(61 + 6 * 3600))


# --- beyond loopback: the instance access secret --------------------------------------------------


def test_beyond_loopback_metadata_needs_the_instance_secret(server_factory: Callable[..., ServerProcess]) -> None:
    env = {
        "ECSRAM_ROOT_ACCESS_KEY_ID": "LTAIbeyondLoopback0001",
        "ECSRAM_ROOT_ACCESS_KEY_SECRET": "BeyondLoopbackSecret00001",
    }
    server = server_factory(host="0.0.0.0", env=env)
    endpoint = f"127.0.0.1:{server.port}"
    sdk = Sdk(endpoint, create_account(server.database_url), server.database_url)
    role = f"far-{uuid.uuid4().hex[:6]}"
    create_role(sdk, role)
    (instance_id,) = run_instances(sdk, 1)
    attach(sdk, role, [instance_id])
    assert Metadata(endpoint, instance_id).get(CREDENTIALS).status == 403
    response = sdk.raw().v1("GetInstanceMetadataSecret", {"InstanceId": instance_id}, version="2026-11-01")
    assert response.status == 200, response.body
    secret = response.json["MetadataSecret"]
    assert Metadata(endpoint, instance_id, secret).get(CREDENTIALS).text == role
    assert Metadata(endpoint, instance_id, "wrong").get(CREDENTIALS).status == 403
    # Another account cannot obtain it.
    other = sdk.other_account()
    response = other.raw().v1("GetInstanceMetadataSecret", {"InstanceId": instance_id}, version="2026-11-01")
    assert response.code == "InvalidInstanceId.NotFound"
    fetched = _credentials_client(proxy_url(endpoint, instance_id, secret)).get_credential()
    assert fetched.access_key_id.startswith("STS.")


def test_health_and_api_are_not_metadata(sdk: Sdk) -> None:
    host, port = sdk.endpoint.rsplit(":", 1)
    with urllib.request.urlopen(f"http://{host}:{port}/_ecsram/health", timeout=5) as response:
        assert json.loads(response.read())["status"] == "ok"
