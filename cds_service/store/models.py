"""The store's tables: issued cards and their suggestions, feedback, and seen JWT ids.

Migrations (migrations/versions/) create these; the models are what the code reads and writes. Patient ids
are never stored: only an HMAC of them (`patient_hash`), so feedback can be grouped per patient without
the store holding an identifier.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "SOURCE_FEEDBACK",
    "SOURCE_HOOK_CALL",
    "Base",
    "CardEvidence",
    "CardSuggestion",
    "FeedbackRecord",
    "IssuedCard",
    "SeenJti",
    "Snooze",
    "SnoozedCard",
]

# Stable constraint names, so later migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SOURCE_HOOK_CALL = "hook-call"
SOURCE_FEEDBACK = "feedback"
UUID_CHARS = 128  # card and suggestion uuids are ours (36 chars); feedback may quote anything, so allow more
ID_CHARS = 128


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class IssuedCard(Base):
    __tablename__ = "issued_cards"

    uuid: Mapped[str] = mapped_column(String(UUID_CHARS), primary_key=True)
    service_id: Mapped[str] = mapped_column(String(ID_CHARS))
    # The pathway node that produced the card (`source.topic.code`); None if a card carries no topic.
    node_id: Mapped[str | None] = mapped_column(String(ID_CHARS), index=True)
    hook_instance: Mapped[str] = mapped_column(String(ID_CHARS))
    # HMAC-SHA256(CDS_PATIENT_HASH_KEY, patient id), hex: never the id itself.
    patient_hash: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # `hook-call`: recorded when issued. `feedback`: first known from its signed uuid when feedback came
    # (issued while the store was down, or before its record was written): hook_instance and patient_hash
    # are then '' and issued_at is when that feedback arrived, until the issued-card record fills them in.
    source: Mapped[str] = mapped_column(String(16), server_default=SOURCE_HOOK_CALL)


class CardSuggestion(Base):
    __tablename__ = "card_suggestions"

    card_uuid: Mapped[str] = mapped_column(
        String(UUID_CHARS), ForeignKey("issued_cards.uuid", ondelete="CASCADE"), primary_key=True
    )
    suggestion_uuid: Mapped[str] = mapped_column(String(UUID_CHARS), primary_key=True)


class FeedbackRecord(Base):
    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_card_uuid", "card_uuid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # sha256 of card, outcome, outcomeTimestamp and accepted suggestion ids: a repeat is stored once.
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    card_uuid: Mapped[str] = mapped_column(String(UUID_CHARS), ForeignKey("issued_cards.uuid", ondelete="CASCADE"))
    service_id: Mapped[str] = mapped_column(String(ID_CHARS))
    outcome: Mapped[str] = mapped_column(String(16))
    # JSON array of the accepted suggestion uuids, sorted; None when overridden.
    accepted_suggestions: Mapped[str | None] = mapped_column(Text)
    override_reason_system: Mapped[str | None] = mapped_column(Text)
    override_reason_code: Mapped[str | None] = mapped_column(Text)
    override_reason_display: Mapped[str | None] = mapped_column(Text)
    user_comment: Mapped[str | None] = mapped_column(Text)
    outcome_timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SeenJti(Base):
    """JWT ids already accepted, kept until the token's `exp` plus the clock-skew allowance."""

    __tablename__ = "seen_jtis"

    # sha256(iss, jti), hex: fixed width whatever the client sends, and unique per issuer.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Unix seconds: compared as integers on every backend (SQLite keeps no time zones).
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)


# Snooze after an override (issue 11) ---------------------------------------------------------------------
# Kept in tables of their own, beside the issued cards: the gate (cds_service.snooze) reads and writes only these.


class CardEvidence(Base):
    """What an issued card rested on: keyed hashes (HMAC, as the patient id) of its evidence items (reference
    and date), recorded per hook call and node. An override copies them into a `Snooze`."""

    __tablename__ = "card_evidence"

    hook_instance: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    # JSON array of hex digests, sorted; never the references themselves.
    evidence: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Snooze(Base):
    """A card overridden with a reason: its node stays hidden for that patient while its evidence is unchanged."""

    __tablename__ = "snoozes"
    __table_args__ = (Index("ix_snoozes_patient_hash_node_id", "patient_hash", "node_id"),)

    card_uuid: Mapped[str] = mapped_column(
        String(UUID_CHARS), ForeignKey("issued_cards.uuid", ondelete="CASCADE"), primary_key=True
    )
    patient_hash: Mapped[str] = mapped_column(String(64))
    node_id: Mapped[str] = mapped_column(String(ID_CHARS))
    evidence: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SnoozedCard(Base):
    """A card not shown because of a snooze: one row per hook call and node (a retried call counts once)."""

    __tablename__ = "snoozed_cards"

    hook_instance: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    service_id: Mapped[str] = mapped_column(String(ID_CHARS))
    # The overridden card whose snooze hid this one.
    snooze_card_uuid: Mapped[str] = mapped_column(String(UUID_CHARS))
    snoozed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
