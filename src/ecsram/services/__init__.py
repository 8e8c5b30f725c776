"""Operations by product; ``all_operations`` is what the gateway dispatches to."""

from __future__ import annotations

from ecsram.gateway.dispatch import Operation


def all_operations() -> list[Operation]:
    # Imported here, not at module level: services import gateway pieces, and the gateway's
    # app imports this module; deferring keeps the import graph acyclic.
    from ecsram.services import ecsram, sts
    from ecsram.services.ecs import instances, ram_roles, regions
    from ecsram.services.ram import attachments, groups, policies, roles, users

    return [
        *regions.OPERATIONS,
        *instances.OPERATIONS,
        *ram_roles.OPERATIONS,
        *roles.OPERATIONS,
        *users.OPERATIONS,
        *groups.OPERATIONS,
        *policies.OPERATIONS,
        *attachments.OPERATIONS,
        *sts.OPERATIONS,
        *ecsram.OPERATIONS,
    ]
