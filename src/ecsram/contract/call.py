"""The one context object a request carries from the wire to its handler, and the HTTP request in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ecsram.iam.policy import Policy
from ecsram.iam.principal import Principal
from ecsram.iam.tokens import TokenAuthority
from ecsram.store.sql import Tx

if TYPE_CHECKING:
    from ecsram.contract.operation import Operation


@dataclass(slots=True)
class HttpRequest:
    """What arrived on the wire, before any parsing of the API call it carries."""

    method: str
    query_string: bytes
    raw_headers: list[tuple[bytes, bytes]]
    headers: dict[str, str]
    body: bytes
    client_ip: str
    secure: bool

    def header_values(self) -> dict[str, list[str]]:
        """Every value of every header, by lower-case name (V3 canonicalisation needs repeats)."""
        values: dict[str, list[str]] = {}
        for name, value in self.raw_headers:
            values.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
        return values


@dataclass(slots=True)
class Call:
    """One API call. The wire fills it step by step; handlers read ``args``, ``store``, ``caller``
    and ``now``, and nothing else of the wire."""

    request_id: str
    http: HttpRequest
    # Issues and verifies STS and metadata tokens.
    tokens: TokenAuthority
    # The request's parameters as strings, query and form merged, before validation.
    raw_params: dict[str, str] = field(default_factory=dict)
    query_pairs: list[tuple[str, str]] = field(default_factory=list)
    action: str | None = None
    version: str | None = None
    xml: bool = False
    v3: bool = False
    operation: Operation | None = None
    # The parameters after validation against the operation's spec: typed values, defaults filled.
    args: dict[str, Any] = field(default_factory=dict)
    # The service time (epoch seconds), fixed when the transaction opens.
    now: float = 0.0
    # (AccessKeyId, nonce) once authentication has consumed the nonce.
    nonce: tuple[str, str] | None = None
    # The caller's identity policies, loaded on first use by authorization (users, role sessions).
    identity_policies: list[Policy] | None = None
    # Who the AccessKey (and STS token) names, before the signature is verified: the audit trail
    # records a refused signature under that account.
    claimed: Principal | None = None
    _store: Tx | None = None
    _caller: Principal | None = None

    def begin(self, store: Tx, now: float) -> None:
        """Enter a (new) transaction: whatever a previous attempt learnt is forgotten."""
        self._store, self.now = store, now
        self.nonce, self._caller, self.identity_policies, self.claimed = None, None, None, None

    def authenticated(self, principal: Principal) -> None:
        self._caller = principal

    @property
    def store(self) -> Tx:
        assert self._store is not None, "the transaction opens before any handler runs"
        return self._store

    @property
    def caller_if_known(self) -> Principal | None:
        """The caller, or None before (or without) authentication: for the wire's request log."""
        return self._caller

    @property
    def caller(self) -> Principal:
        assert self._caller is not None, "authentication runs before any handler"
        return self._caller
