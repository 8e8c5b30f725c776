"""Official Alibaba Cloud SDK clients pointed at an ecsram endpoint.

The SDKs are test dependencies (``pip install ecsram[test]``); they are imported lazily.
"""

from __future__ import annotations

from typing import Any


def v1_client(access_key_id: str, secret: str, region_id: str = "cn-hangzhou", **kwargs: Any) -> Any:
    """aliyun-python-sdk-core's AcsClient; give requests an endpoint with ``prepare_v1``."""
    from aliyunsdkcore.client import AcsClient

    kwargs.setdefault("auto_retry", False)
    return AcsClient(access_key_id, secret, region_id, **kwargs)


def prepare_v1(request: Any, endpoint: str) -> Any:
    """Point a v1 request at ecsram: explicit endpoint, plain HTTP (RAM/STS requests force https)."""
    request.set_endpoint(endpoint)
    request.set_protocol_type("http")
    return request


def tea_config(
    endpoint: str,
    access_key_id: str,
    secret: str,
    *,
    security_token: str | None = None,
    region_id: str = "cn-hangzhou",
    signature_algorithm: str | None = None,
) -> Any:
    from alibabacloud_tea_openapi import models

    config = models.Config(
        access_key_id=access_key_id,
        access_key_secret=secret,
        security_token=security_token,
        endpoint=endpoint,
        protocol="http",
        region_id=region_id,
    )
    if signature_algorithm:
        config.signature_algorithm = signature_algorithm
    return config


def tea_ecs(endpoint: str, access_key_id: str, secret: str, **kwargs: Any) -> Any:
    from alibabacloud_ecs20140526.client import Client

    return Client(tea_config(endpoint, access_key_id, secret, **kwargs))


def tea_ram(endpoint: str, access_key_id: str, secret: str, **kwargs: Any) -> Any:
    from alibabacloud_ram20150501.client import Client

    return Client(tea_config(endpoint, access_key_id, secret, **kwargs))


def tea_sts(endpoint: str, access_key_id: str, secret: str, **kwargs: Any) -> Any:
    from alibabacloud_sts20150401.client import Client

    return Client(tea_config(endpoint, access_key_id, secret, **kwargs))
