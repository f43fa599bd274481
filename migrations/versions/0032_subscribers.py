"""subscribers, consent records, press lists and the suppression list (issue 6; filled by the subscriber work)

Revision ID: 0032
Revises: 0031
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import config.db

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("initiative", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("audience", sa.String(length=60), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", config.db.UTCDateTime(), nullable=False),
        sa.Column("confirmation_requested_at", config.db.UTCDateTime(), nullable=True),
        sa.Column("confirmation_sent_at", config.db.UTCDateTime(), nullable=True),
        sa.Column("confirmed_at", config.db.UTCDateTime(), nullable=True),
        sa.Column("unsubscribed_at", config.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscribers")),
        sa.UniqueConstraint(
            "initiative", "address", name=op.f("uq_subscribers_initiative_address")
        ),
    )
    op.create_index(
        "ix_subscribers_initiative_status_audience",
        "subscribers",
        ["initiative", "status", "audience"],
        unique=False,
    )
    op.create_table(
        "consent_texts",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("initiative", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", config.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_consent_texts")),
    )
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("at", config.db.UTCDateTime(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("consent_version", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["consent_version"],
            ["consent_texts.version"],
            name=op.f("fk_consent_records_consent_version_consent_texts"),
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_consent_records_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
        sa.UniqueConstraint(
            "subscriber_id", "action", name=op.f("uq_consent_records_subscriber_id_action")
        ),
    )
    op.create_index(
        op.f("ix_consent_records_subscriber_id"), "consent_records", ["subscriber_id"], unique=False
    )
    op.create_table(
        "press_contacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("initiative", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("outlet", sa.String(length=200), nullable=False),
        sa.Column("beat", sa.String(length=200), nullable=True),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("created_at", config.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_press_contacts")),
        sa.UniqueConstraint(
            "initiative", "address", name=op.f("uq_press_contacts_initiative_address")
        ),
    )
    op.create_index(
        op.f("ix_press_contacts_initiative"), "press_contacts", ["initiative"], unique=False
    )
    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", config.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
        sa.UniqueConstraint("address_hash", name=op.f("uq_suppressions_address_hash")),
    )
    op.create_table(
        "bounce_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("original_message_id", sa.String(length=300), nullable=True),
        sa.Column("received_at", config.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounce_records")),
        sa.UniqueConstraint("key", name=op.f("uq_bounce_records_key")),
    )
    op.create_index(
        op.f("ix_bounce_records_address_hash"), "bounce_records", ["address_hash"], unique=False
    )
    op.create_index(
        op.f("ix_bounce_records_original_message_id"),
        "bounce_records",
        ["original_message_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_bounce_records_original_message_id"), table_name="bounce_records")
    op.drop_index(op.f("ix_bounce_records_address_hash"), table_name="bounce_records")
    op.drop_table("bounce_records")
    op.drop_table("suppressions")
    op.drop_index(op.f("ix_press_contacts_initiative"), table_name="press_contacts")
    op.drop_table("press_contacts")
    op.drop_index(op.f("ix_consent_records_subscriber_id"), table_name="consent_records")
    op.drop_table("consent_records")
    op.drop_table("consent_texts")
    op.drop_index("ix_subscribers_initiative_status_audience", table_name="subscribers")
    op.drop_table("subscribers")
