"""The audit trail: events and the resources they name.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
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


def downgrade() -> None:
    op.drop_index("ix_trail_resources_time", table_name="trail_resources")
    op.drop_table("trail_resources")
    op.drop_index("ix_trail_events_time", table_name="trail_events")
    op.drop_index("ix_trail_events_account_name", table_name="trail_events")
    op.drop_index("ix_trail_events_account_time", table_name="trail_events")
    op.drop_table("trail_events")
