"""Self-contained, signed credentials: STS role sessions and metadata-service tokens.

Nothing about an issued token is stored: its claims travel inside it, signed with the
database's token secret (HMAC-SHA256), so every server process over the same database accepts
it and nobody can forge or widen one by editing it. An STS AccessKeySecret is derived from its
AccessKeyId with the same secret, so the server can verify a signature without storing it.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import string
from dataclasses import dataclass
from enum import StrEnum

import orjson

_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SESSION_PREFIX = "CAIS"
_METADATA_PREFIX = "IMDS"


class TokenProblem(StrEnum):
    MALFORMED = "malformed"
    EXPIRED = "expired"
    MISMATCH = "mismatch"


class TokenError(Exception):
    def __init__(self, problem: TokenProblem, detail: str = "") -> None:
        super().__init__(f"{problem.value}: {detail}" if detail else problem.value)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class SessionClaims:
    """What an STS token says about its holder."""

    access_key_id: str
    account_id: str
    role_id: str
    role_name: str
    session_name: str
    expires_at: int
    # The session policy (AssumeRole ``Policy`` or the attach ``Policy``), as given.
    policy: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    access_key_id: str
    access_key_secret: str
    security_token: str
    expires_at: int


def _base62(data: bytes, length: int) -> str:
    number = int.from_bytes(data, "big")
    chars: list[str] = []
    while len(chars) < length:
        number, digit = divmod(number, 62)
        chars.append(_ALPHABET[digit])
    return "".join(chars)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenAuthority:
    """Issues and verifies tokens with one secret (the store's ``token_secret``)."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, purpose: str, message: str) -> bytes:
        return hmac.digest(self._secret, f"{purpose}|{message}".encode(), "sha256")

    def _seal(self, prefix: str, purpose: str, claims: dict[str, object] | SessionClaims) -> str:
        # orjson writes a dataclass as the object of its fields in order: what asdict() gives.
        body = _b64(orjson.dumps(claims))
        return f"{prefix}{body}.{_b64(self._mac(purpose, body))}"

    def _open(self, prefix: str, purpose: str, token: str) -> dict[str, object]:
        if not token.startswith(prefix) or token.count(".") != 1:
            raise TokenError(TokenProblem.MALFORMED)
        body, mac = token[len(prefix) :].split(".")
        # The MAC is compared as issued, not after decoding: a lenient base64 decoder ignores the
        # spare bits of the last character, which would let several spellings of a token verify.
        if not hmac.compare_digest(mac.encode(), _b64(self._mac(purpose, body)).encode()):
            raise TokenError(TokenProblem.MALFORMED, "signature")
        try:
            claims = orjson.loads(_unb64(body))
        except (ValueError, orjson.JSONDecodeError):
            raise TokenError(TokenProblem.MALFORMED) from None
        if not isinstance(claims, dict):
            raise TokenError(TokenProblem.MALFORMED, "claims")
        return claims

    # --- STS role sessions -----------------------------------------------------------------

    def session_secret(self, access_key_id: str) -> str:
        return _base62(self._mac("sts-secret", access_key_id), 40)

    def issue_session(
        self,
        *,
        account_id: str,
        role_id: str,
        role_name: str,
        session_name: str,
        expires_at: int,
        policy: str | None = None,
        seed: str | None = None,
    ) -> IssuedCredentials:
        """New credentials; with ``seed`` the same inputs give the same credentials (the metadata
        service hands out one set per instance and refresh window)."""
        entropy = self._mac("sts-key", seed) if seed is not None else secrets.token_bytes(32)
        access_key_id = "STS." + _base62(entropy, 28)
        claims = SessionClaims(access_key_id, account_id, role_id, role_name, session_name, expires_at, policy)
        token = self._seal(_SESSION_PREFIX, "sts-token", claims)
        return IssuedCredentials(access_key_id, self.session_secret(access_key_id), token, expires_at)

    def verify_session(self, token: str, access_key_id: str, now: float) -> SessionClaims:
        claims = self._open(_SESSION_PREFIX, "sts-token", token)
        try:
            session = SessionClaims(**claims)  # type: ignore[arg-type]
        except TypeError:
            raise TokenError(TokenProblem.MALFORMED, "claims") from None
        if session.access_key_id != access_key_id:
            raise TokenError(TokenProblem.MISMATCH)
        if now >= session.expires_at:
            raise TokenError(TokenProblem.EXPIRED)
        return session

    # --- instance metadata ------------------------------------------------------------------

    def issue_metadata_token(self, instance_id: str, expires_at: int) -> str:
        return self._seal(_METADATA_PREFIX, "imds-token", {"i": instance_id, "e": expires_at})

    def verify_metadata_token(self, token: str, instance_id: str, now: float) -> None:
        claims = self._open(_METADATA_PREFIX, "imds-token", token)
        if claims.get("i") != instance_id:
            raise TokenError(TokenProblem.MISMATCH)
        expires_at = claims.get("e")
        if not isinstance(expires_at, int) or now >= expires_at:
            raise TokenError(TokenProblem.EXPIRED)

    def instance_secret(self, instance_id: str) -> str:
        """The access secret a metadata request for ``instance_id`` must present beyond loopback."""
        return _base62(self._mac("imds-access", instance_id), 32)
