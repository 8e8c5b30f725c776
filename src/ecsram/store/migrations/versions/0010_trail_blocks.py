"""The trail's resource and event-name indexes as one Bloom filter per block of events instead
of a row per resource named and an index by event name: recording an event writes its row and
one index entry (by account and time).

The filters of the events already stored are built by the servers' housekeeping after the
upgrade (a lookup searches the events not yet summarised directly meanwhile).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_trail_events_account_name", table_name="trail_events")
    op.drop_table("trail_resources")
    op.create_table(
        "trail_blocks",
        sa.Column("block", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("bloom", sa.LargeBinary, nullable=False),
        sa.Column("min_time", sa.BigInteger, nullable=True),
        sa.Column("max_time", sa.BigInteger, nullable=True),
    )


def downgrade() -> None:
    # The index by event name, and the row-per-resource table rebuilt from the events' own names.
    op.drop_table("trail_blocks")
    op.create_index("ix_trail_events_account_name", "trail_events", ["account_id", "event_name", "event_time"])
    op.create_table(
        "trail_resources",
        sa.Column("account_id", sa.String(16), primary_key=True),
        sa.Column("resource_name", sa.String(256), primary_key=True),
        sa.Column("event_time", sa.BigInteger, primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sqlite_with_rowid=False,
    )
    events = op.get_bind().execute(
        sa.text(
            "SELECT account_id, resource_names, event_time, event_id FROM trail_events WHERE resource_names IS NOT NULL"
        )
    )
    rows = [
        {"account_id": account, "resource_name": name, "event_time": time, "event_id": event_id}
        for account, names, time, event_id in events
        for name in dict.fromkeys(names.split(";"))
        if name
    ]
    if rows:
        op.get_bind().execute(
            sa.text(
                "INSERT INTO trail_resources (account_id, resource_name, event_time, event_id)"
                " VALUES (:account_id, :resource_name, :event_time, :event_id)"
            ),
            rows,
        )
