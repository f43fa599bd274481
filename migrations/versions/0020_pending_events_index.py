"""pending events index: the outbox dispatcher finds undispatched events without a table scan

Revision ID: 0020
Revises: 0011
Create Date: 2026-11-25

A partial index holds only the events not yet dispatched, so it stays small however long the
audit trail grows. It touches only the ``events`` table, so it branches from 0001 beside the
other packages' migrations (``config.migrate`` upgrades every head).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("dispatched_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_events_pending",
        "events",
        ["id"],
        unique=False,
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_events_pending", table_name="events")
