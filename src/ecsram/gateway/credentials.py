"""From an AccessKeyId (and STS token) to the signing secret and the principal it stands for."""

from __future__ import annotations

from dataclasses import dataclass

from ecsram.contract import errors
from ecsram.iam.cache import parsed
from ecsram.iam.policy import PolicyKind
from ecsram.iam.principal import Principal, PrincipalKind
from ecsram.iam.tokens import TokenAuthority, TokenError, TokenProblem
from ecsram.store import accounts
from ecsram.store.sql import Tx

STS_PREFIX = "STS."


# How many AccessKeys a process keeps: far more than a test or a benchmark signs with; past it the
# cache starts again (a miss costs one read).
KEY_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Signer:
    """The secret to verify a signature with and who signs with it; ``generation`` is the
    credentials' generation read with an AccessKey (None for STS credentials, not cached)."""

    secret: str
    principal: Principal
    generation: int | None


class KeyCache:
    """The AccessKeys one process has verified, each with the credentials' generation at the time.

    An entry is only a guess: a request signed with a cached key records its nonce with
    ``nonces.remember_if_current``, which succeeds only while the generation is unchanged, and
    every change to an AccessKey or a user sets it to a new random value (triggers, migration 0008). A key disabled,
    deleted or re-created in any process therefore stops matching at once, and the request is
    checked again from fresh reads."""

    def __init__(self, size: int = KEY_CACHE_SIZE) -> None:
        self._size = size
        self._entries: dict[str, Signer] = {}
        self._generation: int | None = None

    def get(self, access_key_id: str) -> Signer | None:
        return self._entries.get(access_key_id)

    def put(self, access_key_id: str, signer: Signer) -> None:
        generation = signer.generation
        if generation is None:
            return
        if generation != self._generation or len(self._entries) >= self._size:
            self._entries.clear()  # every older entry is stale now
            self._generation = generation
        self._entries[access_key_id] = signer

    def forget(self, access_key_id: str) -> None:
        self._entries.pop(access_key_id, None)


def resolve(
    tx: Tx, tokens: TokenAuthority, access_key_id: str, security_token: str | None, now: float
) -> tuple[str, Principal]:
    """The secret to verify the signature with, and who signs with it. Checked on every request,
    so a key disabled or deleted a moment ago stops working at once."""
    signer = resolve_signer(tx, tokens, access_key_id, security_token, now)
    return signer.secret, signer.principal


def resolve_signer(
    tx: Tx, tokens: TokenAuthority, access_key_id: str, security_token: str | None, now: float
) -> Signer:
    """As ``resolve``, read fresh from the store (one statement for an AccessKey), with the
    generation the key was read at."""
    if access_key_id.startswith(STS_PREFIX):
        secret, principal = _role_session(tokens, access_key_id, security_token, now)
        return Signer(secret, principal, None)
    if security_token:
        raise errors.security_token_mismatch()
    found = accounts.find_signing_key(tx, access_key_id)
    if found is None:
        raise errors.access_key_not_found()
    key = found.key
    if key.status != accounts.ACTIVE:
        raise errors.access_key_inactive()
    if key.user_id is None:
        return Signer(key.secret, Principal(key.account_id, access_key_id, PrincipalKind.ROOT), found.generation)
    if found.user_name is None:  # a user's keys go with it; a dangling key is as good as deleted
        raise errors.access_key_not_found()
    principal = Principal(
        key.account_id, access_key_id, PrincipalKind.USER, user_id=key.user_id, user_name=found.user_name
    )
    return Signer(key.secret, principal, found.generation)


def _role_session(
    tokens: TokenAuthority, access_key_id: str, security_token: str | None, now: float
) -> tuple[str, Principal]:
    if not security_token:
        raise errors.security_token_malformed()
    try:
        claims = tokens.verify_session(security_token, access_key_id, now)
    except TokenError as exc:
        if exc.problem is TokenProblem.EXPIRED:
            raise errors.security_token_expired() from None
        if exc.problem is TokenProblem.MISMATCH:
            raise errors.security_token_mismatch() from None
        raise errors.security_token_malformed() from None
    session_policy = parsed(claims.policy, PolicyKind.SESSION) if claims.policy else None
    principal = Principal(
        claims.account_id,
        access_key_id,
        PrincipalKind.ROLE_SESSION,
        role_id=claims.role_id,
        role_name=claims.role_name,
        session_name=claims.session_name,
        session_policy=session_policy,
        expires_at=claims.expires_at,
    )
    return tokens.session_secret(access_key_id), principal
