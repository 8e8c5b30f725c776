"""Fixtures of the tool replays: each tool's client for a fresh account on the suite's server."""

from __future__ import annotations

import uuid

import pytest

from tests.compat.wire import Footmark, GoSdkRpc, TeaRpc
from tests.conftest import Sdk


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
