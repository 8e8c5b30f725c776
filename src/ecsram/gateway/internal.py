"""Requests that ecsram signs for itself: the web console's actions (console/).

The console acts for an account as its root principal by sending the API an ordinary V1-signed
RPC request, signed with the account's root AccessKey as the store holds it. The request then
takes the path of any other (group commit, authenticate, faults, validate, authorize, invoke,
audit trail), so the console can do nothing the API would refuse, and answers what it answers.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlencode

from ecsram.gateway import signing


def signed_form(access_key_id: str, access_key_secret: str, params: Mapping[str, str]) -> bytes:
    """The form body of a POST to ``/`` carrying ``params`` (Action, Version, ...), V1-signed."""
    signed = {
        **params,
        "Format": "JSON",
        "AccessKeyId": access_key_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": secrets.token_hex(16),
        "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    signed["Signature"] = signing.v1_signature(access_key_secret, signing.v1_string_to_sign("POST", signed))
    return urlencode(signed).encode()
