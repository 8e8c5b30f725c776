"""Accounts, access keys, replay-protection nonces and server settings.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(16), primary_key=True),
        sa.Column("created_at", sa.String(20), nullable=False),
    )
    op.create_table(
        "access_keys",
        sa.Column("access_key_id", sa.String(64), primary_key=True),
        sa.Column("access_key_secret", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(16), sa.ForeignKey("accounts.account_id"), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(20), nullable=False),
    )
    op.create_index("ix_access_keys_account_user", "access_keys", ["account_id", "user_id"])
    op.create_table(
        "nonces",
        sa.Column("access_key_id", sa.String(64), primary_key=True),
        sa.Column("nonce", sa.String(128), primary_key=True),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_nonces_expires_at", "nonces", ["expires_at"])
    op.create_table(
        "server_settings",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("server_settings")
    op.drop_index("ix_nonces_expires_at", "nonces")
    op.drop_table("nonces")
    op.drop_index("ix_access_keys_account_user", "access_keys")
    op.drop_table("access_keys")
    op.drop_table("accounts")
