"""The one context object a request carries through the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ecsram.gateway.request import HttpRequest
from ecsram.iam.policy import Policy
from ecsram.iam.principal import Principal
from ecsram.iam.tokens import TokenAuthority
from ecsram.store.sql import Tx

if TYPE_CHECKING:
    from ecsram.gateway.dispatch import Operation


@dataclass(slots=True)
class Call:
    request_id: str
    http: HttpRequest
    params: dict[str, str] = field(default_factory=dict)
    query_pairs: list[tuple[str, str]] = field(default_factory=list)
    action: str | None = None
    version: str | None = None
    xml: bool = False
    v3: bool = False
    operation: Operation | None = None
    principal: Principal | None = None
    args: dict[str, Any] = field(default_factory=dict)
    # Set once the transaction is open: the store handle and the service time (epoch seconds).
    tx: Tx | None = None
    now: float = 0.0
    # (AccessKeyId, nonce) once authentication has consumed the nonce.
    nonce: tuple[str, str] | None = None
    # Issues and verifies STS and metadata tokens (set by the gateway).
    tokens: TokenAuthority | None = None
    # The caller's identity policies, loaded on first use by authorization (users, role sessions).
    identity_policies: list[Policy] | None = None

    @property
    def store(self) -> Tx:
        assert self.tx is not None, "the transaction opens before any handler runs"
        return self.tx

    @property
    def token_authority(self) -> TokenAuthority:
        assert self.tokens is not None, "the gateway sets the token authority on every call"
        return self.tokens

    @property
    def caller(self) -> Principal:
        assert self.principal is not None, "authentication runs before any handler"
        return self.principal
