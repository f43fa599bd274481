"""subscribers, consent records, press lists and the suppression list (issue 6; filled by the subscriber work)

Revision ID: 0032
Revises: 0031
Create Date: 2026-11-25
"""

from collections.abc import Sequence

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
