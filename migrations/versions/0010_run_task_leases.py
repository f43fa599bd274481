"""run task leases: sent_at and claimed_at for the sweeper

Revision ID: 0010
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import config.db

revision: str = "0010"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("run_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_at", config.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", config.db.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_run_tasks_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("run_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_tasks_status"))
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("sent_at")
