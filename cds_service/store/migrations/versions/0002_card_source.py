"""issued_cards.source: how the service learnt of the card.

`hook-call` for a card recorded when it was issued; `feedback` for one first recognised by its signed
uuid when feedback arrived (issued while the store was down, or before its record was written). Such a
row has no hookInstance or patient hash (empty strings) until the issued-card record, if it comes,
fills them in.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN with a constant default: no table rebuild on SQLite, existing rows become `hook-call`.
    op.add_column(
        "issued_cards", sa.Column("source", sa.String(16), nullable=False, server_default="hook-call")
    )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch rebuild of issued_cards would cascade-delete its feedback.
    op.drop_column("issued_cards", "source")
