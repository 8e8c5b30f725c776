"""Fixtures of the tool replays: each tool's client for a fresh account on the suite's server."""

from __future__ import annotations

import http.client
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from ecsram.testing.server import ServerProcess
from tests.compat.wire import Footmark, GoSdkRpc, TeaRpc
from tests.conftest import Sdk
from tests.support.ecs import create_role, run_instances


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def terraform(sdk: Sdk) -> TeaRpc:
    """The provider's tea-rpc client, as configured by ``endpoints { ecs = ..., ram = ... }`` and
    ``protocol = "HTTP"`` (the provider's default is HTTPS: see test_terraform_over_https)."""
    return TeaRpc(sdk.endpoint, access_key_id=sdk.key.access_key_id, secret=sdk.key.secret)


@pytest.fixture
def terraform_go_sdk(sdk: Sdk) -> GoSdkRpc:
    """The provider's alibaba-cloud-sdk-go clients (``client.WithEcsClient``, ``WithRamClient``)."""
    return GoSdkRpc(sdk.endpoint, access_key_id=sdk.key.access_key_id, secret=sdk.key.secret)


@pytest.fixture
def footmark_ecs(sdk: Sdk) -> Footmark:
    return Footmark(sdk.endpoint, sdk.key.access_key_id, sdk.key.secret, "aliyunsdkecs.request.v20140526")


@pytest.fixture
def footmark_ram(sdk: Sdk) -> Footmark:
    return Footmark(sdk.endpoint, sdk.key.access_key_id, sdk.key.secret, "aliyunsdkram.request.v20150501")


def metadata_get(listener: str, path: str) -> tuple[int, bytes]:
    """A Go ``http.Client`` GET of ``http://100.100.100.200<path>``, arriving at the listener."""
    host, port = listener.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path, headers={"Host": "100.100.100.200", "User-Agent": "Go-http-client/1.1"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture
def instance_with_role(sdk: Sdk, server_factory: Callable[..., ServerProcess]) -> dict[str, Any]:
    """An instance with a role allowed ``ecs:Describe*`` (system policy AliyunECSReadOnlyAccess),
    and a second server on the same database answering as that instance on a metadata listener."""
    from alibabacloud_ram20150501 import models as ram_models

    role = unique("cli-role")
    create_role(sdk, role)
    sdk.tea_ram().attach_policy_to_role(
        ram_models.AttachPolicyToRoleRequest(
            policy_type="System", policy_name="AliyunECSReadOnlyAccess", role_name=role
        )
    )
    (instance,) = run_instances(sdk, ram_role_name=role)
    listener_server = server_factory(sdk.database_url, extra_args=("--metadata-listen", f"{instance}@127.0.0.1:0"))
    (listener,) = listener_server.metadata_listeners
    return {"role": role, "instance": instance, "listener": listener}
