"""Who is calling: the identity an authenticated request acts as."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class PrincipalKind(StrEnum):
    ROOT = "root"
    USER = "user"
    ROLE_SESSION = "role_session"


@dataclass(frozen=True, slots=True)
class Principal:
    account_id: str
    access_key_id: str
    kind: PrincipalKind
    user_id: str | None = None
    user_name: str | None = None
    role_id: str | None = None
    role_name: str | None = None
    session_name: str | None = None
    # The parsed session policy of a role session (AssumeRole Policy / attach Policy), if any.
    session_policy: Any = None
    # STS credentials only: when they stop working (epoch seconds).
    expires_at: int | None = None

    @property
    def is_root(self) -> bool:
        return self.kind is PrincipalKind.ROOT

    @property
    def arn(self) -> str:
        if self.kind is PrincipalKind.ROOT:
            return f"acs:ram::{self.account_id}:root"
        if self.kind is PrincipalKind.USER:
            return f"acs:ram::{self.account_id}:user/{self.user_name}"
        return f"acs:ram::{self.account_id}:assumed-role/{self.role_name}/{self.session_name}"

    @property
    def display_name(self) -> str:
        if self.kind is PrincipalKind.ROOT:
            return self.account_id
        if self.kind is PrincipalKind.USER:
            return self.user_name or ""
        return f"{self.role_name}:{self.session_name}"

    @property
    def type_name(self) -> str:
        """The principal type as RAM reports it (AccessDeniedDetail, GetCallerIdentity)."""
        return {"root": "Account", "user": "RAMUser", "role_session": "AssumedRoleUser"}[self.kind.value]
