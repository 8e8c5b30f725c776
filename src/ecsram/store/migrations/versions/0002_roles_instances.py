"""RAM roles, ECS instances with their role binding, ClientToken idempotency.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roles",
        sa.Column("role_id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(16), sa.ForeignKey("accounts.account_id"), nullable=False),
        sa.Column("role_name", sa.String(64), nullable=False),
        sa.Column("role_name_key", sa.String(64), nullable=False),
        sa.Column("description", sa.String(1024), nullable=False),
        sa.Column("assume_role_policy", sa.Text, nullable=False),
        sa.Column("max_session_duration", sa.Integer, nullable=False),
        sa.Column("created_at", sa.String(20), nullable=False),
        sa.Column("updated_at", sa.String(20), nullable=False),
        sa.UniqueConstraint("account_id", "role_name_key", name="uq_roles_account_name"),
    )
    op.create_table(
        "instances",
        sa.Column("instance_id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(16), sa.ForeignKey("accounts.account_id"), nullable=False),
        sa.Column("region_id", sa.String(32), nullable=False),
        sa.Column("zone_id", sa.String(32), nullable=False),
        sa.Column("instance_name", sa.String(128), nullable=False),
        sa.Column("description", sa.String(256), nullable=False),
        sa.Column("host_name", sa.String(64), nullable=False),
        sa.Column("image_id", sa.String(128), nullable=False),
        sa.Column("instance_type", sa.String(64), nullable=False),
        sa.Column("network_type", sa.String(16), nullable=False),
        sa.Column("vpc_id", sa.String(64), nullable=True),
        sa.Column("vswitch_id", sa.String(64), nullable=True),
        sa.Column("private_ip", sa.String(45), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("http_endpoint", sa.String(16), nullable=False),
        sa.Column("http_tokens", sa.String(16), nullable=False),
        sa.Column("http_put_response_hop_limit", sa.Integer, nullable=False),
        sa.Column("created_at", sa.String(20), nullable=False),
        sa.Column("ram_role_name", sa.String(64), nullable=True),
        sa.Column("ram_role_policy", sa.Text, nullable=True),
        sa.Column("ram_role_attached_at", sa.String(20), nullable=True),
    )
    op.create_index("ix_instances_account_region", "instances", ["account_id", "region_id", "instance_id"])
    op.create_index(
        "ix_instances_role",
        "instances",
        ["account_id", "region_id", "ram_role_name", "instance_id"],
        sqlite_where=sa.text("ram_role_name IS NOT NULL"),
        postgresql_where=sa.text("ram_role_name IS NOT NULL"),
    )
    op.create_table(
        "client_tokens",
        sa.Column("account_id", sa.String(16), primary_key=True),
        sa.Column("action", sa.String(64), primary_key=True),
        sa.Column("client_token", sa.String(64), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("created_at", sa.String(20), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("client_tokens")
    op.drop_index("ix_instances_role", "instances")
    op.drop_index("ix_instances_account_region", "instances")
    op.drop_table("instances")
    op.drop_table("roles")
