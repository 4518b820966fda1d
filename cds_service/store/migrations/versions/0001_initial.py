"""Initial tables: issued cards, their suggestions, feedback, seen JWT ids.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issued_cards",
        sa.Column("uuid", sa.String(128), nullable=False),
        sa.Column("service_id", sa.String(128), nullable=False),
        sa.Column("node_id", sa.String(128), nullable=True),
        sa.Column("hook_instance", sa.String(128), nullable=False),
        sa.Column("patient_hash", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name="pk_issued_cards"),
    )
    op.create_index("ix_issued_cards_node_id", "issued_cards", ["node_id"])
    op.create_table(
        "card_suggestions",
        sa.Column("card_uuid", sa.String(128), nullable=False),
        sa.Column("suggestion_uuid", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_uuid"], ["issued_cards.uuid"], ondelete="CASCADE",
            name="fk_card_suggestions_card_uuid_issued_cards",
        ),
        sa.PrimaryKeyConstraint("card_uuid", "suggestion_uuid", name="pk_card_suggestions"),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dedupe_key", sa.String(64), nullable=False),
        sa.Column("card_uuid", sa.String(128), nullable=False),
        sa.Column("service_id", sa.String(128), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("accepted_suggestions", sa.Text(), nullable=True),
        sa.Column("override_reason_system", sa.Text(), nullable=True),
        sa.Column("override_reason_code", sa.Text(), nullable=True),
        sa.Column("override_reason_display", sa.Text(), nullable=True),
        sa.Column("user_comment", sa.Text(), nullable=True),
        sa.Column("outcome_timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_uuid"], ["issued_cards.uuid"], ondelete="CASCADE", name="fk_feedback_card_uuid_issued_cards"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
        sa.UniqueConstraint("dedupe_key", name="uq_feedback_dedupe_key"),
    )
    op.create_index("ix_feedback_card_uuid", "feedback", ["card_uuid"])
    op.create_table(
        "seen_jtis",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_seen_jtis"),
    )
    op.create_index("ix_seen_jtis_expires_at", "seen_jtis", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_seen_jtis_expires_at", table_name="seen_jtis")
    op.drop_table("seen_jtis")
    op.drop_index("ix_feedback_card_uuid", table_name="feedback")
    op.drop_table("feedback")
    op.drop_table("card_suggestions")
    op.drop_index("ix_issued_cards_node_id", table_name="issued_cards")
    op.drop_table("issued_cards")
