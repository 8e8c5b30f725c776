"""Operations by product; ``all_operations`` is what the gateway dispatches to."""

from __future__ import annotations

from ecsram.contract.operation import Operation


def all_operations() -> list[Operation]:
    # Imported when asked, so that importing one service (or the contract) does not load them all.
    from ecsram.services import actiontrail, ecsram, sts
    from ecsram.services.ecs import devices, instances, maintenance, ram_roles, regions
    from ecsram.services.ecs import tags as ecs_tags
    from ecsram.services.ram import attachments, groups, policies, roles, users
    from ecsram.services.ram import tags as ram_tags

    return [
        *regions.OPERATIONS,
        *instances.OPERATIONS,
        *devices.OPERATIONS,
        *maintenance.OPERATIONS,
        *ram_roles.OPERATIONS,
        *ecs_tags.OPERATIONS,
        *roles.OPERATIONS,
        *users.OPERATIONS,
        *groups.OPERATIONS,
        *policies.OPERATIONS,
        *attachments.OPERATIONS,
        *ram_tags.OPERATIONS,
        *sts.OPERATIONS,
        *ecsram.OPERATIONS,
        *actiontrail.OPERATIONS,
    ]
