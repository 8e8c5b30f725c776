"""RAM users, groups, custom policies with versions, and policy attachments.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(16), sa.ForeignKey("accounts.account_id"), nullable=False),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("user_name_key", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("mobile_phone", sa.String(32), nullable=False),
        sa.Column("email", sa.String(128), nullable=False),
        sa.Column("comments", sa.String(128), nullable=False),
        sa.Column("created_at", sa.String(20), nullable=False),
        sa.Column("updated_at", sa.String(20), nullable=False),
        sa.UniqueConstraint("account_id", "user_name_key", name="uq_users_account_name"),
    )
    op.create_table(
        "policies",
        sa.Column("account_id", sa.String(16), sa.ForeignKey("accounts.account_id"), primary_key=True),
        sa.Column("policy_name_key", sa.String(128), primary_key=True),
        sa.Column("policy_name", sa.String(128), nullable=False),
        sa.Column("description", sa.String(1024), nullable=False),
        sa.Column("default_version", sa.String(16), nullable=False),
        sa.Column("next_version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.String(20), nullable=False),
        sa.Column("updated_at", sa.String(20), nullable=False),
    )
    op.create_table(
        "policy_versions",
        sa.Column("account_id", sa.String(16), primary_key=True),
        sa.Column("policy_name_key", sa.String(128), primary_key=True),
        sa.Column("version_id", sa.String(16), primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(20), nullable=False),
    )
    op.create_table(
        "policy_attachments",
        sa.Column("account_id", sa.String(16), primary_key=True),
        sa.Column("principal_type", sa.String(8), primary_key=True),
        sa.Column("principal_id", sa.String(32), primary_key=True),
        sa.Column("policy_type", sa.String(8), primary_key=True),
        sa.Column("policy_name_key", sa.String(128), primary_key=True),
        sa.Column("attached_at", sa.String(20), nullable=False),
    )
    op.create_index(
        "ix_policy_attachments_policy", "policy_attachments", ["account_id", "policy_type", "policy_name_key"]
    )
    op.create_table(
        "groups",
        sa.Column("account_id", sa.String(16), sa.ForeignKey("accounts.account_id"), primary_key=True),
        sa.Column("group_name_key", sa.String(64), primary_key=True),
        sa.Column("group_id", sa.String(32), nullable=False),
        sa.Column("group_name", sa.String(64), nullable=False),
        sa.Column("comments", sa.String(128), nullable=False),
        sa.Column("created_at", sa.String(20), nullable=False),
        sa.Column("updated_at", sa.String(20), nullable=False),
    )
    op.create_table(
        "group_members",
        sa.Column("account_id", sa.String(16), primary_key=True),
        sa.Column("group_id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("joined_at", sa.String(20), nullable=False),
    )
    op.create_index("ix_group_members_user", "group_members", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_group_members_user", "group_members")
    op.drop_table("group_members")
    op.drop_table("groups")
    op.drop_index("ix_policy_attachments_policy", "policy_attachments")
    op.drop_table("policy_attachments")
    op.drop_table("policy_versions")
    op.drop_table("policies")
    op.drop_table("users")
