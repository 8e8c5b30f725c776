"""Set-up helpers over the official Tea SDK: roles, instances, bindings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ram20150501 import models as ram_models

from ecsram.testing.plugin import ECS_TRUST_POLICY as ECS_TRUST
from ecsram.testing.plugin import IMAGE, INSTANCE_TYPE, REGION


def account_trust(account_id: str) -> str:
    return (
        '{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"RAM":["acs:ram::'
        + account_id
        + ':root"]}}],"Version":"1"}'
    )


def create_role(sdk: Any, name: str, trust: str = ECS_TRUST, **extra: Any) -> dict[str, Any]:
    request = ram_models.CreateRoleRequest(role_name=name, assume_role_policy_document=trust, **extra)
    body: dict[str, Any] = sdk.tea_ram().create_role(request).body.to_map()
    return body


def run_instances(sdk: Any, amount: int = 1, *, vpc: bool = True, region: str = REGION, **extra: Any) -> list[str]:
    request = ecs_models.RunInstancesRequest(
        region_id=region,
        image_id=IMAGE,
        instance_type=INSTANCE_TYPE,
        v_switch_id="vsw-test0001" if vpc else None,
        amount=amount,
        **extra,
    )
    ids: list[str] = sdk.tea_ecs().run_instances(request).body.instance_id_sets.instance_id_set
    return ids


def attach(sdk: Any, role: str, ids: Sequence[str], policy: str | None = None, region: str = REGION) -> dict[str, Any]:
    request = ecs_models.AttachInstanceRamRoleRequest(
        region_id=region, ram_role_name=role, instance_ids=json.dumps(list(ids)), policy=policy
    )
    body: dict[str, Any] = sdk.tea_ecs().attach_instance_ram_role(request).body.to_map()
    return body


def detach(sdk: Any, ids: Sequence[str], role: str | None = None, region: str = REGION) -> dict[str, Any]:
    request = ecs_models.DetachInstanceRamRoleRequest(
        region_id=region, ram_role_name=role, instance_ids=json.dumps(list(ids))
    )
    body: dict[str, Any] = sdk.tea_ecs().detach_instance_ram_role(request).body.to_map()
    return body


def bindings(sdk: Any, ids: Sequence[str], region: str = REGION) -> dict[str, str]:
    """instance -> role for the bound ones among ``ids`` (DescribeInstanceRamRole, paged)."""
    found: dict[str, str] = {}
    for start in range(0, len(ids), 100):
        chunk = list(ids[start : start + 100])
        page = 1
        while True:
            request = ecs_models.DescribeInstanceRamRoleRequest(
                region_id=region, instance_ids=json.dumps(chunk), page_size=50, page_number=page
            )
            body = sdk.tea_ecs().describe_instance_ram_role(request).body.to_map()
            items = body["InstanceRamRoleSets"]["InstanceRamRoleSet"]
            found.update({item["InstanceId"]: item["RamRoleName"] for item in items})
            if page * 50 >= body["TotalCount"]:
                break
            page += 1
    return found


def bound_to(sdk: Any, role: str, region: str = REGION) -> list[str]:
    request = ecs_models.DescribeInstanceRamRoleRequest(region_id=region, ram_role_name=role, page_size=50)
    body = sdk.tea_ecs().describe_instance_ram_role(request).body.to_map()
    return [item["InstanceId"] for item in body["InstanceRamRoleSets"]["InstanceRamRoleSet"]]


def create_policy(sdk: Any, name: str, document: str) -> None:
    sdk.tea_ram().create_policy(ram_models.CreatePolicyRequest(policy_name=name, policy_document=document))


def attach_policy_to_user(sdk: Any, user: str, policy: str, policy_type: str = "System") -> None:
    request = ram_models.AttachPolicyToUserRequest(policy_type=policy_type, policy_name=policy, user_name=user)
    sdk.tea_ram().attach_policy_to_user(request)


def allow(action: str | list[str], resource: str | list[str] = "*", effect: str = "Allow") -> str:
    return json.dumps({"Version": "1", "Statement": [{"Effect": effect, "Action": action, "Resource": resource}]})
