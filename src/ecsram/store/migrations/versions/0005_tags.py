"""Tags on instances and roles.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tags",
        sa.Column("account_id", sa.String(16), primary_key=True),
        sa.Column("resource_type", sa.String(16), primary_key=True),
        sa.Column("resource_id", sa.String(32), primary_key=True),
        sa.Column("tag_key", sa.String(128), primary_key=True),
        sa.Column("tag_value", sa.String(256), nullable=False),
    )
    op.create_index("ix_tags_key_value", "tags", ["account_id", "resource_type", "tag_key", "tag_value"])


def downgrade() -> None:
    op.drop_index("ix_tags_key_value", table_name="tags")
    op.drop_table("tags")
