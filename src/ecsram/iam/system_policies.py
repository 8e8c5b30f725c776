"""The RAM system policies every account has (PolicyType "System"), as data.

Only the policies the emulator needs; their documents reproduce the permissions of the vendor's policies of
the same name, trimmed to the services ecsram emulates (ECS, VPC look-ups, RAM, STS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import orjson

__all__ = ["SYSTEM_POLICIES", "SystemPolicy"]


@dataclass(frozen=True, slots=True)
class SystemPolicy:
    name: str
    description: str
    document: str  # compact JSON, Version "1"


_VPC_LOOKUPS = ("vpc:DescribeVpcs", "vpc:DescribeVSwitches")


def _allow(*actions: str) -> str:
    """A one-statement document allowing ``actions`` on every resource."""
    action: str | list[str] = actions[0] if len(actions) == 1 else list(actions)
    return orjson.dumps(
        {"Version": "1", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}
    ).decode()


_ALL = (
    SystemPolicy(
        "AdministratorAccess",
        "Full control of every resource and service in the account.",
        _allow("*"),
    ),
    SystemPolicy(
        "AliyunECSFullAccess",
        "Full control of ECS, plus looking up VPCs and vSwitches; does not include passing RAM roles.",
        _allow("ecs:*", *_VPC_LOOKUPS),
    ),
    SystemPolicy(
        "AliyunECSReadOnlyAccess",
        "Read-only access to ECS (Describe and List calls), plus looking up VPCs and vSwitches.",
        _allow("ecs:Describe*", "ecs:List*", *_VPC_LOOKUPS),
    ),
    SystemPolicy(
        "AliyunRAMFullAccess",
        "Full control of RAM users, groups, roles and policies.",
        _allow("ram:*"),
    ),
    SystemPolicy(
        "AliyunRAMReadOnlyAccess",
        "Read-only access to RAM (Get and List calls).",
        _allow("ram:Get*", "ram:List*"),
    ),
    SystemPolicy(
        "AliyunSTSAssumeRoleAccess",
        "Permission to call STS AssumeRole for any role that trusts the caller.",
        _allow("sts:AssumeRole"),
    ),
)

SYSTEM_POLICIES: Mapping[str, SystemPolicy] = MappingProxyType({policy.name: policy for policy in _ALL})
