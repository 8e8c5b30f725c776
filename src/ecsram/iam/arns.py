"""Resource names (ARNs) of RAM identities, as policies and responses spell them."""

from __future__ import annotations


def role_arn(account_id: str, role_name: str) -> str:
    return f"acs:ram::{account_id}:role/{role_name}"
