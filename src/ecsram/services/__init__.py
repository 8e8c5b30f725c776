"""Operations by product; ``all_operations`` is what the gateway dispatches to."""

from __future__ import annotations

from ecsram.gateway.dispatch import Operation
from ecsram.services.ecs import instances, ram_roles, regions
from ecsram.services.ram import roles


def all_operations() -> list[Operation]:
    return [*regions.OPERATIONS, *instances.OPERATIONS, *ram_roles.OPERATIONS, *roles.OPERATIONS]
