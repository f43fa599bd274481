"""schedule state: the beat's watermark and the slots it recorded as missed

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import config.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "schedule_state",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("checked_until", config.db.UTCDateTime(), nullable=False),
        sa.Column("ticked_at", config.db.UTCDateTime(), nullable=False),
        sa.Column("ticked_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_schedule_state")),
    )
    op.create_table(
        "missed_slots",
        sa.Column("slot_key", sa.String(length=200), nullable=False),
        sa.Column("campaign", sa.String(length=100), nullable=False),
        sa.Column("deliverable", sa.String(length=100), nullable=False),
        sa.Column("folder", sa.String(length=120), nullable=False),
        sa.Column("due_at", config.db.UTCDateTime(), nullable=False),
        sa.Column("recorded_at", config.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("slot_key", name=op.f("pk_missed_slots")),
    )
    with op.batch_alter_table("missed_slots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_missed_slots_campaign"), ["campaign"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("missed_slots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_missed_slots_campaign"))
    op.drop_table("missed_slots")
    op.drop_table("schedule_state")
