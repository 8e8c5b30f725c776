"""Self-contained tokens: STS sessions and metadata tokens, signed with the store's secret."""

from __future__ import annotations

import base64
import dataclasses
import string

import orjson
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ecsram.iam.tokens import SessionClaims, TokenAuthority, TokenError, TokenProblem

NOW = 1_800_000_000
SECRET = b"token-secret-for-unit-tests-000001"
_TOKEN_CHARS = string.ascii_letters + string.digits + "-_."


def _authority(secret: bytes = SECRET) -> TokenAuthority:
    return TokenAuthority(secret)


def _session(
    authority: TokenAuthority, *, expires_at: int = NOW + 3600, policy: str | None = None, seed: str | None = None
):  # type: ignore[no-untyped-def]
    return authority.issue_session(
        account_id="1000000000000001",
        role_id="300000000000000001",
        role_name="web",
        session_name="s1",
        expires_at=expires_at,
        policy=policy,
        seed=seed,
    )


def _problem(fn, *args) -> TokenProblem:  # type: ignore[no-untyped-def]
    with pytest.raises(TokenError) as caught:
        fn(*args)
    return caught.value.problem


def _variants(token: str):  # type: ignore[no-untyped-def]
    """Every token that differs from ``token`` in exactly one character (of the token alphabet).

    Exhaustive on purpose: the last base64 character of the MAC carries bits that a lenient
    decoder ignores, so only some replacements there would show a MAC compared after decoding."""
    for index, original in enumerate(token):
        for replacement in _TOKEN_CHARS:
            if replacement != original:
                yield token[:index] + replacement + token[index + 1 :]


# --- sessions ----------------------------------------------------------------------------------


def test_session_round_trip() -> None:
    authority = _authority()
    issued = _session(authority, policy='{"Version":"1","Statement":[]}')
    claims = authority.verify_session(issued.security_token, issued.access_key_id, NOW)
    assert claims == SessionClaims(
        issued.access_key_id,
        "1000000000000001",
        "300000000000000001",
        "web",
        "s1",
        NOW + 3600,
        '{"Version":"1","Statement":[]}',
    )
    assert issued.expires_at == NOW + 3600
    assert issued.access_key_id.startswith("STS.")
    assert issued.security_token.startswith("CAIS")
    assert issued.access_key_secret == authority.session_secret(issued.access_key_id)


def test_sessions_without_a_seed_are_all_different() -> None:
    authority = _authority()
    first, second = _session(authority), _session(authority)
    assert first.access_key_id != second.access_key_id
    assert first.access_key_secret != second.access_key_secret


def test_a_seed_gives_the_same_credentials_and_another_seed_others() -> None:
    authority = _authority()
    assert _session(authority, seed="i-1|42") == _session(authority, seed="i-1|42")
    assert _session(authority, seed="i-1|42").access_key_id != _session(authority, seed="i-1|43").access_key_id


def test_session_expiry() -> None:
    authority = _authority()
    issued = _session(authority, expires_at=NOW + 10)
    authority.verify_session(issued.security_token, issued.access_key_id, NOW + 9.999)
    assert (
        _problem(authority.verify_session, issued.security_token, issued.access_key_id, NOW + 10)
        is TokenProblem.EXPIRED
    )
    assert (
        _problem(authority.verify_session, issued.security_token, issued.access_key_id, NOW + 1e6)
        is TokenProblem.EXPIRED
    )


def test_session_token_for_another_access_key_is_a_mismatch() -> None:
    authority = _authority()
    first, second = _session(authority), _session(authority)
    assert _problem(authority.verify_session, first.security_token, second.access_key_id, NOW) is TokenProblem.MISMATCH


def test_session_token_from_another_secret_is_rejected() -> None:
    issued = _session(_authority(b"another-secret-entirely-000000000"))
    problem = _problem(_authority().verify_session, issued.security_token, issued.access_key_id, NOW)
    assert problem is TokenProblem.MALFORMED


def test_tampering_with_any_character_of_a_session_token_is_rejected() -> None:
    authority = _authority()
    issued = _session(authority)
    for tampered in _variants(issued.security_token):
        with pytest.raises(TokenError):
            authority.verify_session(tampered, issued.access_key_id, NOW)


@pytest.mark.parametrize(
    "token", ["", "CAIS", "CAIS.", "CAISabc", "CAIS..x", "XXXXabc.def", "CAIS!!!.???", "CAISbnVsbA.AAAA"]
)
def test_garbage_session_tokens_are_malformed(token: str) -> None:
    assert _problem(_authority().verify_session, token, "STS.x", NOW) is TokenProblem.MALFORMED


def test_a_metadata_token_is_not_a_session_token() -> None:
    authority = _authority()
    token = authority.issue_metadata_token("i-1", NOW + 60)
    assert _problem(authority.verify_session, "CAIS" + token[4:], "STS.x", NOW) is TokenProblem.MALFORMED


# --- metadata tokens ---------------------------------------------------------------------------


def test_metadata_token_round_trip_and_expiry() -> None:
    authority = _authority()
    token = authority.issue_metadata_token("i-abc", NOW + 21600)
    assert token.startswith("IMDS")
    authority.verify_metadata_token(token, "i-abc", NOW)
    authority.verify_metadata_token(token, "i-abc", NOW + 21599)
    assert _problem(authority.verify_metadata_token, token, "i-abc", NOW + 21600) is TokenProblem.EXPIRED


def test_metadata_token_for_another_instance_is_a_mismatch() -> None:
    authority = _authority()
    token = authority.issue_metadata_token("i-abc", NOW + 60)
    assert _problem(authority.verify_metadata_token, token, "i-def", NOW) is TokenProblem.MISMATCH


def test_metadata_token_from_another_secret_is_rejected() -> None:
    token = _authority(b"another-secret-entirely-000000000").issue_metadata_token("i-abc", NOW + 60)
    assert _problem(_authority().verify_metadata_token, token, "i-abc", NOW) is TokenProblem.MALFORMED


def test_a_session_token_is_not_a_metadata_token() -> None:
    authority = _authority()
    issued = _session(authority)
    assert (
        _problem(authority.verify_metadata_token, "IMDS" + issued.security_token[4:], "i-1", NOW)
        is TokenProblem.MALFORMED
    )


def test_tampering_with_any_character_of_a_metadata_token_is_rejected() -> None:
    authority = _authority()
    token = authority.issue_metadata_token("i-abc", NOW + 60)
    for tampered in _variants(token):
        with pytest.raises(TokenError):
            authority.verify_metadata_token(tampered, "i-abc", NOW)


# --- derived secrets ---------------------------------------------------------------------------


def test_session_secret_is_deterministic_per_access_key_and_differs_across_secrets() -> None:
    one, same, other = _authority(), _authority(SECRET), _authority(b"another-secret-entirely-000000000")
    assert one.session_secret("STS.a") == same.session_secret("STS.a")
    assert one.session_secret("STS.a") != one.session_secret("STS.b")
    assert one.session_secret("STS.a") != other.session_secret("STS.a")
    assert len(one.session_secret("STS.a")) == 40
    assert one.session_secret("STS.a").isalnum()


def test_instance_secret_is_deterministic_per_instance_and_differs_across_secrets() -> None:
    one, other = _authority(), _authority(b"another-secret-entirely-000000000")
    assert one.instance_secret("i-1") == _authority().instance_secret("i-1")
    assert one.instance_secret("i-1") != one.instance_secret("i-2")
    assert one.instance_secret("i-1") != other.instance_secret("i-1")
    assert len(one.instance_secret("i-1")) == 32


def test_session_and_instance_secrets_are_separate_purposes() -> None:
    authority = _authority()
    assert authority.session_secret("x")[:32] != authority.instance_secret("x")


def test_the_mac_is_compared_as_issued_not_after_lenient_decoding() -> None:
    """Regression: the MAC used to be base64-decoded and then compared, so a token whose last
    character differed only in the padding bits (e.g. ...TWw -> ...TWx) still verified."""
    authority = _authority()
    token = authority.issue_metadata_token("i-abc", NOW + 60)
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    position = alphabet.index(token[-1])
    same_data_bits = [
        alphabet[(position & ~3) | low] for low in range(4) if alphabet[(position & ~3) | low] != token[-1]
    ]
    assert len(same_data_bits) == 3
    for last in same_data_bits:
        with pytest.raises(TokenError):
            authority.verify_metadata_token(token[:-1] + last, "i-abc", NOW)


# --- property: random edits never verify -------------------------------------------------------

_AUTHORITY = _authority()
_ISSUED = _session(_AUTHORITY)
_METADATA = _AUTHORITY.issue_metadata_token("i-abc", NOW + 60)


@st.composite
def _edited(draw: st.DrawFn, token: str) -> str:
    """The token with one to three characters replaced, inserted or deleted (never unchanged)."""
    edited = token
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        index = draw(st.integers(min_value=0, max_value=len(edited) - 1))
        char = draw(st.sampled_from(_TOKEN_CHARS + "=+/!%"))
        edit = draw(st.sampled_from(["replace", "insert", "delete"]))
        if edit == "replace":
            edited = edited[:index] + char + edited[index + 1 :]
        elif edit == "insert":
            edited = edited[:index] + char + edited[index:]
        else:
            edited = edited[:index] + edited[index + 1 :]
    return edited


@given(_edited(_ISSUED.security_token))
def test_edited_session_tokens_never_verify(tampered: str) -> None:
    assume(tampered != _ISSUED.security_token)  # edits that cancel out
    with pytest.raises(TokenError):
        _AUTHORITY.verify_session(tampered, _ISSUED.access_key_id, NOW)


@given(_edited(_METADATA))
def test_edited_metadata_tokens_never_verify(tampered: str) -> None:
    assume(tampered != _METADATA)
    with pytest.raises(TokenError):
        _AUTHORITY.verify_metadata_token(tampered, "i-abc", NOW)


def test_a_session_token_carries_every_claim_in_field_order() -> None:
    """Tokens already issued must keep verifying: the sealed body is the JSON object of the
    claims, every field by name and in the dataclass's order."""
    issued = TokenAuthority(b"k" * 32).issue_session(
        account_id="1000000000000001",
        role_id="300000000000000001",
        role_name="role",
        session_name="i-abc",
        expires_at=1_800_000_000,
        policy='{"Statement":[]}',
        seed="seed",
    )
    body = issued.security_token.removeprefix("CAIS").split(".")[0]
    claims = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert list(claims) == [field.name for field in dataclasses.fields(SessionClaims)]
    assert claims["access_key_id"] == issued.access_key_id and claims["policy"] == '{"Statement":[]}'
