"""Snooze after an override: evidence of issued cards, snoozes, snoozed cards.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "card_evidence",
        sa.Column("hook_instance", sa.String(128), nullable=False),
        sa.Column("node_id", sa.String(128), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hook_instance", "node_id", name="pk_card_evidence"),
    )
    op.create_index("ix_card_evidence_recorded_at", "card_evidence", ["recorded_at"])
    op.create_table(
        "snoozes",
        sa.Column("card_uuid", sa.String(128), nullable=False),
        sa.Column("patient_hash", sa.String(64), nullable=False),
        sa.Column("node_id", sa.String(128), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_uuid"], ["issued_cards.uuid"], ondelete="CASCADE", name="fk_snoozes_card_uuid_issued_cards"
        ),
        sa.PrimaryKeyConstraint("card_uuid", name="pk_snoozes"),
    )
    op.create_index("ix_snoozes_patient_hash_node_id", "snoozes", ["patient_hash", "node_id"])
    op.create_table(
        "snoozed_cards",
        sa.Column("hook_instance", sa.String(128), nullable=False),
        sa.Column("node_id", sa.String(128), nullable=False),
        sa.Column("service_id", sa.String(128), nullable=False),
        sa.Column("snooze_card_uuid", sa.String(128), nullable=False),
        sa.Column("snoozed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hook_instance", "node_id", name="pk_snoozed_cards"),
    )
    op.create_index("ix_snoozed_cards_snoozed_at", "snoozed_cards", ["snoozed_at"])


def downgrade() -> None:
    op.drop_index("ix_snoozed_cards_snoozed_at", table_name="snoozed_cards")
    op.drop_table("snoozed_cards")
    op.drop_index("ix_snoozes_patient_hash_node_id", table_name="snoozes")
    op.drop_table("snoozes")
    op.drop_index("ix_card_evidence_recorded_at", table_name="card_evidence")
    op.drop_table("card_evidence")
