"""From an AccessKeyId (and STS token) to the signing secret and the principal it stands for."""

from __future__ import annotations

from ecsram.gateway import errors
from ecsram.iam.principal import Principal, PrincipalKind
from ecsram.store import accounts, users
from ecsram.store.sql import Tx


def resolve(tx: Tx, access_key_id: str, security_token: str | None, now: float) -> tuple[str, Principal]:
    """The secret to verify the signature with, and who signs with it. Checked on every request,
    so a key disabled or deleted a moment ago stops working at once."""
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
    principal = Principal(
        key.account_id, access_key_id, PrincipalKind.USER, user_id=user.user_id, user_name=user.user_name
    )
    return key.secret, principal
