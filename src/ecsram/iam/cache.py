"""Parsed policy documents, memoised: stored documents were validated when written, and parsing
is pure, so each distinct document is parsed once per process."""

from __future__ import annotations

from functools import lru_cache

from ecsram.iam.policy import Policy, PolicyKind, parse_policy


@lru_cache(maxsize=8192)
def parsed(document: str, kind: PolicyKind) -> Policy:
    return parse_policy(document, kind)
