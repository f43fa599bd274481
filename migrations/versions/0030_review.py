"""review states, approvals, comments and campaign controls (issue 6; filled by the review work)

Revision ID: 0030
Revises: 0020
Create Date: 2026-11-25
"""

from collections.abc import Sequence

revision: str = "0030"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
