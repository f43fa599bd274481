"""review states, approvals, comments and campaign controls (issue 6; filled by the review work)

Revision ID: 0030
Revises: 0020
Create Date: 2026-11-25

Pieces gain their send-at time and Sperrfrist and an index on their state (the review list);
every move of a state, every level's approval, every comment and every reviewer mail gets its
own row, each with the unique key that makes a repeat harmless. Campaign controls (pause,
resume, cancel) live beside the slots in ``campaigns``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import config.db

revision: str = "0030"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pieces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("send_at", config.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("embargo_until", config.db.UTCDateTime(), nullable=True))
        batch_op.create_index("ix_pieces_state", ["state"], unique=False)

    op.create_table(
        "piece_transitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("piece_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=False),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", config.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["piece_id"], ["pieces.id"], name="fk_piece_transitions_piece_id_pieces"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_piece_transitions"),
        sa.UniqueConstraint("piece_id", "seq", name="uq_piece_transitions_piece_id_seq"),
    )
    op.create_index(
        "ix_piece_transitions_piece_id", "piece_transitions", ["piece_id"], unique=False
    )

    op.create_table(
        "piece_approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("piece_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", config.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["piece_id"], ["pieces.id"], name="fk_piece_approvals_piece_id_pieces"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_piece_approvals"),
        sa.UniqueConstraint("piece_id", "level", name="uq_piece_approvals_piece_id_level"),
    )
    op.create_index("ix_piece_approvals_piece_id", "piece_approvals", ["piece_id"], unique=False)

    op.create_table(
        "piece_comments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("piece_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", config.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["piece_id"], ["pieces.id"], name="fk_piece_comments_piece_id_pieces"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_piece_comments"),
        sa.UniqueConstraint("key", name="uq_piece_comments_key"),
    )
    op.create_index("ix_piece_comments_piece_id", "piece_comments", ["piece_id"], unique=False)

    op.create_table(
        "review_notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("piece_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", config.db.UTCDateTime(), nullable=False),
        sa.Column("sent_at", config.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["piece_id"], ["pieces.id"], name="fk_review_notifications_piece_id_pieces"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_review_notifications"),
        sa.UniqueConstraint(
            "piece_id",
            "level",
            "address",
            name="uq_review_notifications_piece_id_level_address",
        ),
    )
    op.create_index(
        "ix_review_notifications_piece_id", "review_notifications", ["piece_id"], unique=False
    )

    op.create_table(
        "campaign_controls",
        sa.Column("campaign", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("changed_at", config.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("campaign", name="pk_campaign_controls"),
    )


def downgrade() -> None:
    op.drop_table("campaign_controls")
    op.drop_index("ix_review_notifications_piece_id", table_name="review_notifications")
    op.drop_table("review_notifications")
    op.drop_index("ix_piece_comments_piece_id", table_name="piece_comments")
    op.drop_table("piece_comments")
    op.drop_index("ix_piece_approvals_piece_id", table_name="piece_approvals")
    op.drop_table("piece_approvals")
    op.drop_index("ix_piece_transitions_piece_id", table_name="piece_transitions")
    op.drop_table("piece_transitions")
    with op.batch_alter_table("pieces", schema=None) as batch_op:
        batch_op.drop_index("ix_pieces_state")
        batch_op.drop_column("embargo_until")
        batch_op.drop_column("send_at")
