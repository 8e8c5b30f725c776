"""Fault injection rules and the token buckets of emulated throttling.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fault_rules",
        sa.Column("rule_id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(16), nullable=True),
        sa.Column("action", sa.String(128), nullable=False),
        sa.Column("product", sa.String(16), nullable=True),
        sa.Column("instance_id", sa.String(64), nullable=True),
        sa.Column("effect", sa.String(8), nullable=False),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("message", sa.String(512), nullable=True),
        sa.Column("latency_ms", sa.Integer, nullable=True),
        sa.Column("probability", sa.Float, nullable=True),
        sa.Column("remaining", sa.Integer, nullable=True),
        sa.Column("expires_at", sa.Float, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "throttle_buckets",
        sa.Column("access_key_id", sa.String(64), primary_key=True),
        sa.Column("action", sa.String(128), primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("throttle_buckets")
    op.drop_table("fault_rules")
