"""deliveries with states, due times and attempts (issue 6; filled by the delivery work)

Revision ID: 0031
Revises: 0030
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import config.db

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nothing wrote deliveries before this revision, so the new NOT NULL columns need no
    # backfill; the server defaults only make the ALTER valid on a table that has rows.
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("target_ref", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("options", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(
            sa.Column(
                "due_at",
                config.db.UTCDateTime(),
                nullable=False,
                server_default=sa.text("CURRENT_TIMESTAMP"),
            )
        )
        batch_op.add_column(sa.Column("next_attempt_at", config.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("lease_until", config.db.UTCDateTime(), nullable=True))
        batch_op.create_index("ix_deliveries_status_due_at", ["status", "due_at"], unique=False)
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("target_ref", server_default=None)
        batch_op.alter_column("options", server_default=None)
        batch_op.alter_column("due_at", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_status_due_at")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("due_at")
        batch_op.drop_column("options")
        batch_op.drop_column("target_ref")
