"""Operations: what each API action takes, needs and does, and the registry that finds one by (Action, Version)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ecsram.contract import errors
from ecsram.contract.call import Call
from ecsram.contract.catalogue.params import Param, ParamSpec, replace_params
from ecsram.contract.catalogue.vendor import PRODUCTS, api_names, catalogue_params

Handler = Callable[[Call], dict[str, Any]]
ResourceArns = Callable[[Call], Sequence[str]]


def any_resource(_call: Call) -> Sequence[str]:
    return ("*",)


@dataclass(frozen=True, slots=True)
class Operation:
    product: str
    action: str
    handler: Handler
    params: ParamSpec
    # The RAM action this operation needs, and the ARNs it acts on (checked for RAM users and
    # role sessions before the handler runs; root is not subject to policies).
    ram_action: str
    resources: ResourceArns
    # False for the few operations RAM does not govern (e.g. STS GetCallerIdentity).
    governed: bool = True

    @property
    def version(self) -> str:
        return PRODUCTS[self.product][1]


def operation(
    product: str,
    action: str,
    handler: Handler,
    *,
    params: Sequence[Param] = (),
    resources: ResourceArns = any_resource,
    ram_action: str | None = None,
    governed: bool = True,
) -> Operation:
    """Declare an operation: its parameters are the vendor catalogue's, with ``params`` overriding."""
    base = catalogue_params(product, action) if action in api_names(product) else ()
    return Operation(
        product=product,
        action=action,
        handler=handler,
        params=ParamSpec(replace_params(base, params)),
        ram_action=ram_action or f"{product}:{action}",
        resources=resources,
        governed=governed,
    )


class Registry:
    """The operations ecsram emulates, by (Version, Action); everything else is refused with the
    error the cloud would give, or ``UnsupportedOperation`` for a real action not emulated."""

    def __init__(self, operations: Iterable[Operation]) -> None:
        self._operations: dict[tuple[str, str], Operation] = {}
        for op in operations:
            key = (op.version, op.action)
            if key in self._operations:
                raise ValueError(f"operation {op.action} (version {op.version}) is declared twice")
            self._operations[key] = op
        self._catalogued = {version: api_names(key) for key, (_name, version) in PRODUCTS.items()}

    def resolve(self, action: str | None, version: str | None) -> Operation:
        if not action:
            raise errors.missing_parameter("Action")
        if not version:
            raise errors.missing_parameter("Version")
        found = self._operations.get((version, action))
        if found is not None:
            return found
        catalogued = self._catalogued.get(version)
        if catalogued is None:
            raise errors.invalid_version(version[:64])
        if action in catalogued:
            raise errors.unsupported_operation(action, version)
        raise errors.action_not_found(action[:128])
