"""Replays of what `aliyun/aliyun-cli` does on an instance: the ``EcsRamRole`` profile mode, the
``oss`` subcommand's own credential fetch, and the signed call made with what they fetched.

aliyun-cli is Go and sets no proxy for the metadata service: it needs ``100.100.100.200:80`` to
reach an ecsram ``--metadata-listen`` listener (an address redirect; docs/tools.md). The replay
sends to that listener what the CLI sends to ``100.100.100.200`` (``Host: 100.100.100.200``, no
token, no proxy header). No aliyun binary runs here.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ecsram.testing.plugin import IMAGE, INSTANCE_TYPE, REGION
from tests.compat.conftest import metadata_get as _metadata_get
from tests.compat.conftest import unique
from tests.compat.wire import ECS, STS, GoSdkRpc
from tests.conftest import Sdk


def _check_credentials(body: bytes) -> dict[str, str]:
    """What both fetchers require of the document: ``Code`` Success (case-insensitive in ossutil),
    non-empty AccessKeyId/AccessKeySecret/SecurityToken, ``Expiration`` as ``2006-01-02T15:04:05Z``."""
    document: dict[str, str] = json.loads(body)
    assert document["Code"].upper() == "SUCCESS"
    assert document["AccessKeyId"] and document["AccessKeySecret"] and document["SecurityToken"]
    expires = time.strptime(document["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
    assert time.mktime(expires) > time.mktime(time.gmtime()) + 60  # oss: refetch 60 s before expiry
    return document


def test_ecs_ram_role_profile(instance_with_role: dict[str, Any], sdk: Sdk) -> None:
    """aliyun-cli config/profile.go ``GetClientByEcsRamRole`` (mode EcsRamRole, ``aliyun configure
    --mode EcsRamRole`` with or without ``--ram-role-name``): the role name from
    ``/latest/meta-data/ram/security-credentials/`` when not configured, the credentials from
    ``.../<role>``, then the command signed with them (openapi ``RpcInvoker``)."""
    listener, role, instance = (
        instance_with_role["listener"],
        instance_with_role["role"],
        instance_with_role["instance"],
    )
    status, name = _metadata_get(listener, "/latest/meta-data/ram/security-credentials/")
    assert (status, name.decode()) == (200, role)  # the bare name: no newline, no listing syntax
    status, body = _metadata_get(listener, f"/latest/meta-data/ram/security-credentials/{name.decode()}")
    assert status == 200
    credentials = _check_credentials(body)

    cli = GoSdkRpc(
        sdk.endpoint,
        access_key_id=credentials["AccessKeyId"],
        secret=credentials["AccessKeySecret"],
        security_token=credentials["SecurityToken"],
    )
    # aliyun sts GetCallerIdentity: the role session named after the instance.
    identity = cli.call(STS, "GetCallerIdentity")
    assert identity.ok, identity.body
    assert identity.body["Arn"].endswith(f":assumed-role/{role}/{instance}")
    # aliyun ecs DescribeInstances: allowed by the role's policy.
    listed = cli.call(ECS, "DescribeInstances", {"RegionId": REGION, "InstanceIds": json.dumps([instance])})
    assert listed.ok, listed.body
    assert [i["InstanceId"] for i in listed.body["Instances"]["Instance"]] == [instance]
    # aliyun ecs RunInstances: not in the role's policies.
    denied = cli.call(ECS, "RunInstances", {"RegionId": REGION, "ImageId": IMAGE, "InstanceType": INSTANCE_TYPE})
    assert (denied.status, denied.code) == (403, "Forbidden.RAM"), denied.body


def test_oss_ecs_role_capital_r(instance_with_role: dict[str, Any]) -> None:
    """aliyun-cli oss/lib/ecs_role.go ``EcsRoleAKBuild.HttpReqAk``: a plain GET of
    ``http://100.100.100.200/latest/meta-data/Ram/security-credentials/<role>`` (capital R), the
    same credentials as the lower-case path within the hour."""
    listener, role = instance_with_role["listener"], instance_with_role["role"]
    status, body = _metadata_get(listener, f"/latest/meta-data/Ram/security-credentials/{role}")
    assert status == 200
    upper = _check_credentials(body)
    status, lower_body = _metadata_get(listener, f"/latest/meta-data/ram/security-credentials/{role}")
    assert status == 200 and json.loads(lower_body)["AccessKeyId"] == upper["AccessKeyId"]
    # Another role name is not this instance's: the fetch fails (ossutil reports it, no empty key).
    status, _ = _metadata_get(listener, f"/latest/meta-data/Ram/security-credentials/{unique('other')}")
    assert status == 404


def test_detached_role_stops_the_profile(instance_with_role: dict[str, Any], sdk: Sdk) -> None:
    """config/profile.go ``GetClientByEcsRamRole`` (mode EcsRamRole) after DetachInstanceRamRole:
    the role-name listing and the role's path are 404, so the CLI gets no credentials (it reports
    the error) instead of stale ones."""
    from alibabacloud_ecs20140526 import models as ecs_models

    listener, role, instance = (
        instance_with_role["listener"],
        instance_with_role["role"],
        instance_with_role["instance"],
    )
    sdk.tea_ecs().detach_instance_ram_role(
        ecs_models.DetachInstanceRamRoleRequest(
            region_id=REGION, instance_ids=json.dumps([instance]), ram_role_name=role
        )
    )
    status, _ = _metadata_get(listener, "/latest/meta-data/ram/security-credentials/")
    assert status == 404
    status, _ = _metadata_get(listener, f"/latest/meta-data/ram/security-credentials/{role}")
    assert status == 404
