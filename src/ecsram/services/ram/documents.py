"""Policy documents as RAM operations take them: validated on the way in, parsed once on the way out."""

from __future__ import annotations

from ecsram.contract.errors import ApiError
from ecsram.iam.policy import MalformedPolicy, PolicyKind, parse_policy
from ecsram.services.ram import errors

MAX_TRUST_POLICY_LENGTH = 2048


def validated(document: str, kind: PolicyKind, max_length: int) -> str:
    """The document as given, if it is a valid policy of ``kind``; else MalformedPolicyDocument."""
    try:
        parse_policy(document, kind, max_length=max_length)
    except MalformedPolicy as exc:
        raise errors.malformed_policy(str(exc)) from None
    return document


def trust_document(raw: str) -> str:
    return validated(raw, PolicyKind.TRUST, MAX_TRUST_POLICY_LENGTH)


def session_policy(raw: str, parameter: str, max_length: int) -> str:
    """A session policy parameter (AttachInstanceRamRole / AssumeRole ``Policy``): InvalidParameter if bad."""
    try:
        parse_policy(raw, PolicyKind.SESSION, max_length=max_length)
    except MalformedPolicy as exc:
        raise ApiError("InvalidParameter", 400, f'The specified parameter "{parameter}" is not valid. {exc}') from None
    return raw
