"""Operations and dispatch on (Action, Version)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ecsram.gateway import errors
from ecsram.gateway.context import Call
from ecsram.spec.catalog import PRODUCTS, api_names, catalogue_params
from ecsram.spec.params import Param, ParamSpec, replace_params

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

    @property
    def product_name(self) -> str:
        return PRODUCTS[self.product][0]


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
    def __init__(self, operations: Iterable[Operation]) -> None:
        self._operations = {(op.version, op.action): op for op in operations}
        self._catalogued = {version: api_names(key) for key, (_name, version) in PRODUCTS.items()}

    def __iter__(self) -> Any:
        return iter(self._operations.values())

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
