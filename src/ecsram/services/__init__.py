"""Operations by product; ``all_operations`` is what the gateway dispatches to."""

from __future__ import annotations

from ecsram.contract.operation import Operation


def all_operations() -> list[Operation]:
    # Imported when asked, so that importing one service (or the contract) does not load them all.
    from ecsram.services import ecsram, sts
    from ecsram.services.ecs import devices, instances, ram_roles, regions
    from ecsram.services.ram import attachments, groups, policies, roles, users

    return [
        *regions.OPERATIONS,
        *instances.OPERATIONS,
        *devices.OPERATIONS,
        *ram_roles.OPERATIONS,
        *roles.OPERATIONS,
        *users.OPERATIONS,
        *groups.OPERATIONS,
        *policies.OPERATIONS,
        *attachments.OPERATIONS,
        *sts.OPERATIONS,
        *ecsram.OPERATIONS,
    ]
