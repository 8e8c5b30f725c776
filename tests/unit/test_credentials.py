"""Credentials: from an AccessKeyId (and STS token) to the signing secret and the principal."""

from __future__ import annotations

import time

import pytest

from ecsram.contract.errors import ApiError
from ecsram.gateway import credentials
from ecsram.iam.principal import Principal, PrincipalKind
from ecsram.iam.tokens import TokenAuthority
from ecsram.store import accounts, users
from ecsram.store.database import Database
from tests.support.principals import USER_ID, add_user_key, issue_session


def resolve(
    database: Database, tokens: TokenAuthority, access_key_id: str, token: str | None = None, now: float | None = None
) -> tuple[str, Principal]:
    with database.transaction() as tx:
        return credentials.resolve(tx, tokens, access_key_id, token, time.time() if now is None else now)


def refused(
    database: Database, tokens: TokenAuthority, access_key_id: str, token: str | None = None, now: float | None = None
) -> ApiError:
    with pytest.raises(ApiError) as caught:
        resolve(database, tokens, access_key_id, token, now)
    return caught.value


def test_root_key(database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey) -> None:
    secret, principal = resolve(database, tokens, root_key.access_key_id)
    assert secret == root_key.secret
    assert principal == Principal(root_key.account_id, root_key.access_key_id, PrincipalKind.ROOT)
    assert principal.is_root
    assert principal.arn == f"acs:ram::{root_key.account_id}:root"


def test_user_key(database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey) -> None:
    key = add_user_key(database, root_key)
    secret, principal = resolve(database, tokens, key.access_key_id)
    assert secret == key.secret
    assert principal.kind is PrincipalKind.USER
    assert (principal.account_id, principal.user_id, principal.user_name) == (root_key.account_id, USER_ID, "alice")
    assert not principal.is_root
    assert principal.arn == f"acs:ram::{root_key.account_id}:user/alice"


def test_unknown_key_is_not_found(database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey) -> None:
    err = refused(database, tokens, "LTAI" + "x" * 20)
    assert (err.code, err.status) == ("InvalidAccessKeyId.NotFound", 404)


def test_disabled_key_is_inactive(database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey) -> None:
    with database.transaction() as tx:
        assert accounts.set_access_key_status(tx, root_key.access_key_id, accounts.INACTIVE)
    err = refused(database, tokens, root_key.access_key_id)
    assert (err.code, err.status) == ("InvalidAccessKeyId.Inactive", 400)
    with database.transaction() as tx:
        accounts.set_access_key_status(tx, root_key.access_key_id, accounts.ACTIVE)
    assert resolve(database, tokens, root_key.access_key_id)[1].is_root


def test_disabled_user_key_is_inactive(
    database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey
) -> None:
    key = add_user_key(database, root_key)
    with database.transaction() as tx:
        users.set_key_status(tx, key.access_key_id, accounts.INACTIVE)
    assert refused(database, tokens, key.access_key_id).code == "InvalidAccessKeyId.Inactive"


def test_a_long_term_key_with_a_security_token_is_a_mismatch(
    database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey
) -> None:
    token = issue_session(tokens, root_key).security_token
    assert refused(database, tokens, root_key.access_key_id, token).code == "InvalidSecurityToken.MismatchWithAccessKey"


def test_role_session(database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey) -> None:
    issued = issue_session(
        tokens, root_key, policy='{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*"}]}'
    )
    secret, principal = resolve(database, tokens, issued.access_key_id, issued.security_token)
    assert secret == issued.access_key_secret
    assert principal.kind is PrincipalKind.ROLE_SESSION
    assert (principal.account_id, principal.access_key_id) == (root_key.account_id, issued.access_key_id)
    assert (principal.role_id, principal.role_name, principal.session_name) == ("300000000000000001", "web", "sess")
    assert principal.expires_at == issued.expires_at
    assert principal.session_policy is not None
    assert principal.arn == f"acs:ram::{root_key.account_id}:assumed-role/web/sess"


def test_role_session_without_a_policy_has_none(
    database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey
) -> None:
    issued = issue_session(tokens, root_key)
    assert resolve(database, tokens, issued.access_key_id, issued.security_token)[1].session_policy is None


@pytest.mark.parametrize("token", [None, ""])
def test_sts_key_without_a_token_is_malformed(
    database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey, token: str | None
) -> None:
    issued = issue_session(tokens, root_key)
    err = refused(database, tokens, issued.access_key_id, token)
    assert (err.code, err.status) == ("InvalidSecurityToken.Malformed", 400)


def test_sts_key_with_a_garbage_token_is_malformed(
    database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey
) -> None:
    issued = issue_session(tokens, root_key)
    assert refused(database, tokens, issued.access_key_id, "CAISnot-a-token").code == "InvalidSecurityToken.Malformed"


def test_token_of_another_session_is_a_mismatch(
    database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey
) -> None:
    first, second = issue_session(tokens, root_key), issue_session(tokens, root_key)
    err = refused(database, tokens, second.access_key_id, first.security_token)
    assert (err.code, err.status) == ("InvalidSecurityToken.MismatchWithAccessKey", 400)


def test_expired_session(database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey) -> None:
    issued = issue_session(tokens, root_key, expires_in=60)
    resolve(database, tokens, issued.access_key_id, issued.security_token, now=issued.expires_at - 1)
    err = refused(database, tokens, issued.access_key_id, issued.security_token, now=issued.expires_at)
    assert (err.code, err.status) == ("InvalidSecurityToken.Expired", 400)


def test_token_from_another_token_secret_is_malformed(
    database: Database, tokens: TokenAuthority, root_key: accounts.AccessKey
) -> None:
    foreign = issue_session(TokenAuthority(b"some-other-database-secret-000000"), root_key)
    assert (
        refused(database, tokens, foreign.access_key_id, foreign.security_token).code
        == "InvalidSecurityToken.Malformed"
    )
