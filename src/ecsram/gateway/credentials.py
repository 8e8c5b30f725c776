"""From an AccessKeyId (and STS token) to the signing secret and the principal it stands for."""

from __future__ import annotations

from ecsram.contract import errors
from ecsram.iam.cache import parsed
from ecsram.iam.policy import PolicyKind
from ecsram.iam.principal import Principal, PrincipalKind
from ecsram.iam.tokens import TokenAuthority, TokenError, TokenProblem
from ecsram.store import accounts, users
from ecsram.store.sql import Tx

STS_PREFIX = "STS."


def resolve(
    tx: Tx, tokens: TokenAuthority, access_key_id: str, security_token: str | None, now: float
) -> tuple[str, Principal]:
    """The secret to verify the signature with, and who signs with it. Checked on every request,
    so a key disabled or deleted a moment ago stops working at once."""
    if access_key_id.startswith(STS_PREFIX):
        return _role_session(tokens, access_key_id, security_token, now)
    if security_token:
        raise errors.security_token_mismatch()
    key = accounts.find_access_key(tx, access_key_id)
    if key is None:
        raise errors.access_key_not_found()
    if key.status != accounts.ACTIVE:
        raise errors.access_key_inactive()
    if key.user_id is None:
        return key.secret, Principal(key.account_id, access_key_id, PrincipalKind.ROOT)
    user = users.by_id(tx, key.user_id)
    if user is None:  # a user's keys go with it; a dangling key is as good as deleted
        raise errors.access_key_not_found()
    return key.secret, Principal(
        key.account_id, access_key_id, PrincipalKind.USER, user_id=user.user_id, user_name=user.user_name
    )


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
