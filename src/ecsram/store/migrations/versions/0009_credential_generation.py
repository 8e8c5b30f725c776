"""A generation stamp of the credentials, changed by triggers on every AccessKey or user change.

Each server process caches the AccessKeys it has seen together with the generation it read
them at; a request signed with a cached key is accepted only while the generation is unchanged
(checked inside the statement that records its nonce), so a key disabled, deleted or given
another secret, or a user renamed or deleted, in any process stops the cache at once.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TABLES = ("access_keys", "users")
_EVENTS = ("INSERT", "UPDATE", "DELETE")
# A new random value rather than +1: a transaction that bumped the generation and then rolled
# back must not leave a value that a later change could produce again (a process may have read
# the rolled-back value and cached keys under it).
_BUMP = {
    "sqlite": "UPDATE credential_generation SET generation = random()",
    "postgresql": "UPDATE credential_generation SET generation = floor((random() - 0.5) * 1.8e19)::bigint",
}


def upgrade() -> None:
    op.create_table(
        "credential_generation",
        sa.Column("singleton", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("generation", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO credential_generation (singleton, generation) VALUES (1, 1)")
    if op.get_context().dialect.name == "sqlite":
        # SQLite: one trigger per table and event, each a single UPDATE.
        for table in _TABLES:
            for event in _EVENTS:
                op.execute(
                    f"CREATE TRIGGER credential_generation_{table}_{event.lower()} AFTER {event} ON {table} "
                    f"BEGIN {_BUMP['sqlite']}; END"
                )
    else:
        op.execute(
            "CREATE FUNCTION bump_credential_generation() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_BUMP['postgresql']}; RETURN NULL; END $$"
        )
        for table in _TABLES:
            op.execute(
                f"CREATE TRIGGER credential_generation_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION bump_credential_generation()"
            )


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for table in _TABLES:
            for event in _EVENTS:
                op.execute(f"DROP TRIGGER credential_generation_{table}_{event.lower()}")
    else:
        for table in _TABLES:
            op.execute(f"DROP TRIGGER credential_generation_{table} ON {table}")
        op.execute("DROP FUNCTION bump_credential_generation()")
    op.drop_table("credential_generation")
