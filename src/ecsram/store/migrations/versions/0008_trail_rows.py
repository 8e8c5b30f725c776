"""The audit trail's smaller rows: only what cannot be derived, numbered in the order written;
no global time index, and no time index on the resources.

The trail was opt-in before this revision; the events recorded with the old layout are dropped.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_trail_resources_time", table_name="trail_resources")
    op.drop_table("trail_resources")
    op.drop_index("ix_trail_events_time", table_name="trail_events")
    op.drop_index("ix_trail_events_account_name", table_name="trail_events")
    op.drop_index("ix_trail_events_account_time", table_name="trail_events")
    op.drop_table("trail_events")
    op.create_table(
        "trail_events",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(16), nullable=False),
        sa.Column("event_time", sa.BigInteger, nullable=False),
        sa.Column("event_name", sa.String(128), nullable=False),
        sa.Column("service_name", sa.String(32), nullable=False),
        sa.Column("kind", sa.Integer, nullable=False),
        sa.Column("access_key_id", sa.String(128), nullable=False),
        sa.Column("principal_id", sa.String(256), nullable=True),
        sa.Column("user_name", sa.String(256), nullable=True),
        sa.Column("source_ip", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(512), nullable=False),
        sa.Column("region", sa.String(64), nullable=True),
        sa.Column("resource_names", sa.Text, nullable=True),
        sa.Column("resource_types", sa.Text, nullable=True),
        sa.Column("request_parameters", sa.Text, nullable=True),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("error_code", sa.String(128), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
    )
    op.create_index("ix_trail_events_account_time", "trail_events", ["account_id", "event_time"])
    op.create_index("ix_trail_events_account_name", "trail_events", ["account_id", "event_name", "event_time"])
    op.create_table(
        "trail_resources",
        sa.Column("account_id", sa.String(16), primary_key=True),
        sa.Column("resource_name", sa.String(256), primary_key=True),
        sa.Column("event_time", sa.BigInteger, primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    # The old layout, empty.
    op.drop_table("trail_resources")
    op.drop_index("ix_trail_events_account_name", table_name="trail_events")
    op.drop_index("ix_trail_events_account_time", table_name="trail_events")
    op.drop_table("trail_events")
    op.create_table(
        "trail_events",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(16), nullable=False),
        sa.Column("event_time", sa.BigInteger, nullable=False),
        sa.Column("event_name", sa.String(128), nullable=False),
        sa.Column("service_name", sa.String(32), nullable=False),
        sa.Column("event_rw", sa.String(8), nullable=False),
        sa.Column("access_key_id", sa.String(128), nullable=False),
        sa.Column("resource_types", sa.Text, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )
    op.create_index("ix_trail_events_account_time", "trail_events", ["account_id", "event_time"])
    op.create_index("ix_trail_events_account_name", "trail_events", ["account_id", "event_name", "event_time"])
    op.create_index("ix_trail_events_time", "trail_events", ["event_time"])
    op.create_table(
        "trail_resources",
        sa.Column("account_id", sa.String(16), primary_key=True),
        sa.Column("resource_name", sa.String(256), primary_key=True),
        sa.Column("event_time", sa.BigInteger, primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_trail_resources_time", "trail_resources", ["event_time"])
