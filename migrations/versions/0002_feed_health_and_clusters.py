"""feed health and near-duplicate clusters

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import config.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fetch_url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("host", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("last_status", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("last_problem", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("next_fetch_at", config.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("paused_at", config.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("retry_after_at", config.db.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_feeds_host"), ["host"], unique=False)

    # Every stored item starts as a cluster of its own.
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cluster_id", sa.String(length=40), nullable=True))
    op.execute("UPDATE items SET cluster_id = id")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.alter_column("cluster_id", existing_type=sa.String(length=40), nullable=False)
        batch_op.create_index(batch_op.f("ix_items_cluster_id"), ["cluster_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_items_cluster_id"))
        batch_op.drop_column("cluster_id")

    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feeds_host"))
        batch_op.drop_column("retry_after_at")
        batch_op.drop_column("paused_at")
        batch_op.drop_column("next_fetch_at")
        batch_op.drop_column("last_problem")
        batch_op.drop_column("last_status")
        batch_op.drop_column("host")
        batch_op.drop_column("fetch_url")
