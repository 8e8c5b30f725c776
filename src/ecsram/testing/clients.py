"""Official Alibaba Cloud SDK clients pointed at an ecsram endpoint.

The SDKs are test dependencies (``pip install ecsram[test]``); they are imported lazily, and a
missing one is named in the error (``MissingSdk``).
"""

from __future__ import annotations

import importlib
from typing import Any

_SDK_PACKAGES = {
    "alibabacloud_tea_openapi": "alibabacloud-tea-openapi",
    "alibabacloud_ecs20140526": "alibabacloud-ecs20140526",
    "alibabacloud_ram20150501": "alibabacloud-ram20150501",
    "alibabacloud_sts20150401": "alibabacloud-sts20150401",
    "alibabacloud_credentials": "alibabacloud-credentials",
    "aliyunsdkcore": "aliyun-python-sdk-core",
}


class MissingSdk(ImportError):
    """An official SDK that a helper needs is not installed."""


def sdk(module: str) -> Any:
    """Import ``module`` of an official SDK, or say which package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.partition(".")[0]
        package = _SDK_PACKAGES.get(top, top)
        raise MissingSdk(
            f"ecsram's test helpers need the official Alibaba Cloud SDK package {package!r} "
            f"(import {module!r} failed: {exc}); install it, or all of them with `pip install 'ecsram[test]'`"
        ) from exc


def metadata_proxy_url(endpoint: str, instance_id: str, secret: str = "") -> str:
    """The HTTP proxy URL through which ecsram serves the metadata service as ``instance_id``."""
    # The colon matters: without a password part, HTTP clients send no Proxy-Authorization.
    return f"http://{instance_id}:{secret}@{endpoint}"


def v1_client(access_key_id: str, secret: str, region_id: str = "cn-hangzhou", **kwargs: Any) -> Any:
    """aliyun-python-sdk-core's AcsClient; give requests an endpoint with ``prepare_v1``."""
    kwargs.setdefault("auto_retry", False)
    return sdk("aliyunsdkcore.client").AcsClient(access_key_id, secret, region_id, **kwargs)


def prepare_v1(request: Any, endpoint: str) -> Any:
    """Point a v1 request at ecsram: explicit endpoint, plain HTTP (RAM/STS requests force https)."""
    request.set_endpoint(endpoint)
    request.set_protocol_type("http")
    return request


def tea_config(
    endpoint: str,
    access_key_id: str | None,
    secret: str | None,
    *,
    security_token: str | None = None,
    credential: Any = None,
    region_id: str = "cn-hangzhou",
    signature_algorithm: str | None = None,
) -> Any:
    """A Tea ``Config`` for ecsram: an AccessKey (and STS token), or an ``alibabacloud_credentials`` client."""
    config = sdk("alibabacloud_tea_openapi.models").Config(
        access_key_id=access_key_id,
        access_key_secret=secret,
        security_token=security_token,
        credential=credential,
        endpoint=endpoint,
        protocol="http",
        region_id=region_id,
    )
    if signature_algorithm:
        config.signature_algorithm = signature_algorithm
    return config


def tea_ecs(endpoint: str, access_key_id: str | None, secret: str | None, **kwargs: Any) -> Any:
    return sdk("alibabacloud_ecs20140526.client").Client(tea_config(endpoint, access_key_id, secret, **kwargs))


def tea_ram(endpoint: str, access_key_id: str | None, secret: str | None, **kwargs: Any) -> Any:
    return sdk("alibabacloud_ram20150501.client").Client(tea_config(endpoint, access_key_id, secret, **kwargs))


def tea_sts(endpoint: str, access_key_id: str | None, secret: str | None, **kwargs: Any) -> Any:
    return sdk("alibabacloud_sts20150401.client").Client(tea_config(endpoint, access_key_id, secret, **kwargs))


def tea_actiontrail(endpoint: str, access_key_id: str | None, secret: str | None, **kwargs: Any) -> Any:
    return sdk("alibabacloud_actiontrail20200706.client").Client(tea_config(endpoint, access_key_id, secret, **kwargs))
