"""Resource names (ARNs) that ECS operations act on, for RAM authorization."""

from __future__ import annotations


def instance_arn(region_id: str, account_id: str, instance_id: str) -> str:
    return f"acs:ecs:{region_id}:{account_id}:instance/{instance_id}"
