"""Trust questions about roles that more than one part of ecsram asks."""

from __future__ import annotations

from functools import lru_cache

from ecsram.iam.cache import parsed
from ecsram.iam.evaluate import trust_allows
from ecsram.iam.policy import PolicyKind

ECS_SERVICE = "ecs.aliyuncs.com"


@lru_cache(maxsize=4096)
def trusts_ecs(assume_role_policy: str) -> bool:
    """Whether a role's trust policy lets ECS (the instance) assume it (pure, so memoised)."""
    return trust_allows(parsed(assume_role_policy, PolicyKind.TRUST), {"Service": ECS_SERVICE})
