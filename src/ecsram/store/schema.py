"""The tables, as SQLAlchemy Core metadata. Migrations (``store/migrations``) create them;
a test checks that the migrated database matches this metadata exactly."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, MetaData, String, Table, Text

metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(16), primary_key=True),
    Column("created_at", String(20), nullable=False),
)

# A key with a NULL user_id is the account's root key.
access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String(64), primary_key=True),
    Column("access_key_secret", String(128), nullable=False),
    Column("account_id", String(16), ForeignKey("accounts.account_id"), nullable=False),
    Column("user_id", String(32), nullable=True),
    Column("status", String(16), nullable=False),
    Column("created_at", String(20), nullable=False),
)
Index("ix_access_keys_account_user", access_keys.c.account_id, access_keys.c.user_id)

# Replay protection: one row per (AccessKey, nonce) for as long as its timestamp could still
# pass the window check; pruned by expiry.
nonces = Table(
    "nonces",
    metadata,
    Column("access_key_id", String(64), primary_key=True),
    Column("nonce", String(128), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
)
Index("ix_nonces_expires_at", nonces.c.expires_at)

# Process-independent settings: the token-signing secret, the test clock offset.
server_settings = Table(
    "server_settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
