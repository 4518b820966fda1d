"""The service's memory: cards it issued, the feedback on them, and JWT ids it has already accepted.

One `Store` per process, over one engine; every method is one transaction, so several workers (and
several instances on PostgreSQL) can share a database. The patient id never reaches the database: only
its keyed hash (HMAC-SHA256 with CDS_PATIENT_HASH_KEY).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Engine, delete, select
from sqlalchemy.exc import SQLAlchemyError

from cds_service.card_ids import CardIds, SignedCard, card_ids_for
from cds_service.errors import BadRequest, store_error_kind
from cds_service.protocol.feedback import FeedbackEntry, FeedbackRequest
from cds_service.settings import Settings
from cds_service.store.engine import create_store_engine, insert_ignoring_duplicates, upsert_insert
from cds_service.store.migrate import upgrade
from cds_service.store.models import (
    SOURCE_FEEDBACK,
    SOURCE_HOOK_CALL,
    CardSuggestion,
    FeedbackRecord,
    IssuedCard,
    SeenJti,
)
from cds_service.store.report import NodeReport, build_report

__all__ = ["IssuedRows", "Store", "open_store", "patient_hash"]

log = logging.getLogger("cds_service.store")

JTI_PURGE_INTERVAL_SECONDS = 60  # expired jti rows are deleted at most this often per process


def patient_hash(key: bytes, patient_id: str) -> str:
    return hmac.new(key, patient_id.encode("utf-8"), hashlib.sha256).hexdigest()


def _dedupe_key(entry: FeedbackEntry) -> str:
    accepted = sorted(s.id for s in entry.acceptedSuggestions or ())
    material = json.dumps([entry.card, entry.outcome, entry.outcomeTimestamp.isoformat(), accepted])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _jti_key(issuer: str, jti: str) -> str:
    return hashlib.sha256(json.dumps([issuer, jti]).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedRows:
    """The rows recording one hook call's cards, ready to insert: the patient is already only a hash."""

    cards: list[dict[str, object]]
    suggestions: list[dict[str, object]]


class Store:
    def __init__(self, engine: Engine, *, patient_hash_key: bytes, card_ids: CardIds) -> None:
        self.engine = engine
        self.card_ids = card_ids
        self._patient_hash_key = patient_hash_key
        self._next_purge = 0.0

    # Issued cards --------------------------------------------------------------------------------------

    def issued_rows(
        self, *, service_id: str, hook_instance: str, patient_id: str, cards: Sequence[Mapping[str, Any]]
    ) -> IssuedRows:
        """`cards`: the response's card JSON, as issued."""
        now = datetime.now(timezone.utc)
        hashed = patient_hash(self._patient_hash_key, patient_id)
        return IssuedRows(
            cards=[
                {
                    "uuid": card["uuid"],
                    "service_id": service_id,
                    "node_id": (card["source"].get("topic") or {}).get("code"),
                    "hook_instance": hook_instance,
                    "patient_hash": hashed,
                    "issued_at": now,
                    "source": SOURCE_HOOK_CALL,
                }
                for card in cards
            ],
            suggestions=[
                {"card_uuid": card["uuid"], "suggestion_uuid": suggestion["uuid"]}
                for card in cards
                for suggestion in card.get("suggestions", ())
            ],
        )

    def record_issued_cards(
        self, *, service_id: str, hook_instance: str, patient_id: str, cards: Sequence[Mapping[str, Any]]
    ) -> None:
        """Record one call's cards now, in one transaction (the app records through `IssuedCardWriter`)."""
        if cards:
            self.write_issued([self.issued_rows(service_id=service_id, hook_instance=hook_instance,
                                                patient_id=patient_id, cards=cards)])

    def write_issued(self, batch: list[IssuedRows]) -> None:
        """Record several calls' cards in one transaction (one commit: the writer's group commit)."""
        # One row per uuid (the first record wins): a retried call may be queued twice, and should the driver
        # send the rows as one multi-row INSERT, PostgreSQL refuses to upsert a row twice in one statement.
        card_rows = list({row["uuid"]: row for rows in reversed(batch) for row in rows.cards}.values())
        suggestion_rows = [row for rows in batch for row in rows.suggestions]
        if not card_rows:
            return
        insert = upsert_insert(self.engine, IssuedCard)
        # A card uuid seen again (a retried hook call) keeps its first record, except a row made from
        # feedback before the record arrived: the record completes it.
        upsert = insert.on_conflict_do_update(
            index_elements=[IssuedCard.uuid],
            set_={column: insert.excluded[column] for column in
                  ("service_id", "node_id", "hook_instance", "patient_hash", "issued_at", "source")},
            where=IssuedCard.source == SOURCE_FEEDBACK,
        )
        with self.engine.begin() as connection:
            connection.execute(upsert, card_rows)
            if suggestion_rows:
                connection.execute(insert_ignoring_duplicates(self.engine, CardSuggestion), suggestion_rows)

    # Feedback ------------------------------------------------------------------------------------------

    def record_feedback(self, *, service_id: str, feedback: FeedbackRequest) -> int:
        """Store the batch in one transaction, or nothing: returns how many entries were new.

        Every entry must name a card of this service, known from the store's record of it or from its
        signed uuid (card_ids.py), and accepted suggestions must be that card's; otherwise `BadRequest`
        lists each bad entry. A card known only by its signature gets its row here, so its feedback is
        kept and counted. Repeats (same card, outcome, timestamp, suggestions) are stored once. A value
        the database refuses is the client's `BadRequest` too: the same batch would fail on every retry.
        """
        entries = feedback.feedback
        received = datetime.now(timezone.utc)
        try:
            with self.engine.begin() as connection:
                known = _KnownCards.load(connection, self.card_ids, sorted({entry.card for entry in entries}))
                issues = list(known.issues(entries, service_id))
                if issues:
                    raise BadRequest(issues)  # leaving the block rolls back: nothing of the batch is stored
                self._add_cards_known_by_signature(connection, known, entries, received)
                rows = [_feedback_row(entry, service_id, received) for entry in entries]
                insert = insert_ignoring_duplicates(self.engine, FeedbackRecord).returning(FeedbackRecord.id)
                stored = len(connection.execute(insert, rows).all())
        except (SQLAlchemyError, UnicodeEncodeError) as exc:
            if store_error_kind(exc) != "data":
                raise
            # Only the type is logged: the exception's text quotes the values.
            log.warning("feedback refused by the database: %s", type(exc).__name__)
            raise BadRequest([{"field": "feedback", "problem": "holds a value the database cannot store "
                               f"({type(exc).__name__})"}]) from None
        log.info("feedback for service %s: %d entr(ies), %d new", service_id, len(entries), stored)
        return stored

    def _add_cards_known_by_signature(
        self, connection: Connection, known: "_KnownCards", entries: Iterable[FeedbackEntry], received: datetime
    ) -> None:
        cards = [
            {"uuid": uuid, "service_id": signed.service_id, "node_id": signed.node_id, "hook_instance": "",
             "patient_hash": "", "issued_at": received, "source": SOURCE_FEEDBACK}
            for uuid, signed in sorted(known.signed.items())
        ]
        if cards:
            connection.execute(insert_ignoring_duplicates(self.engine, IssuedCard), cards)
        suggestions = sorted({
            (entry.card, accepted.id)
            for entry in entries
            for accepted in entry.acceptedSuggestions or ()
            if accepted.id not in known.suggestions.get(entry.card, ())
        })
        if suggestions:
            connection.execute(
                insert_ignoring_duplicates(self.engine, CardSuggestion),
                [{"card_uuid": card, "suggestion_uuid": suggestion} for card, suggestion in suggestions],
            )

    # JWT replay cache ----------------------------------------------------------------------------------

    def remember_jti(self, *, issuer: str, jti: str, expires_at: int) -> bool:
        """True if (issuer, jti) was not seen before and is now recorded; False if it is a replay."""
        now = int(time.time())
        with self.engine.begin() as connection:
            if time.monotonic() >= self._next_purge:
                self._next_purge = time.monotonic() + JTI_PURGE_INTERVAL_SECONDS
                connection.execute(delete(SeenJti).where(SeenJti.expires_at < now))
            result = connection.execute(
                insert_ignoring_duplicates(self.engine, SeenJti).returning(SeenJti.key),
                [{"key": _jti_key(issuer, jti), "expires_at": expires_at}],
            )
            return len(result.all()) == 1

    # Reporting -----------------------------------------------------------------------------------------

    def feedback_report(self, *, service_id: str | None = None) -> list[NodeReport]:
        with self.engine.connect() as connection:
            return build_report(connection, service_id=service_id)

    def close(self) -> None:
        self.engine.dispose()


@dataclass
class _KnownCards:
    """The cards named in a feedback batch as this service knows them: from the store's records
    (`recorded`: uuid -> service id, with their `suggestions`) or, for the others, from a verified
    signature (`signed`)."""

    card_ids: CardIds
    recorded: dict[str, str]
    suggestions: dict[str, set[str]]
    signed: dict[str, SignedCard]

    @classmethod
    def load(cls, connection: Connection, card_ids: CardIds, uuids: list[str]) -> "_KnownCards":
        recorded = dict(
            connection.execute(select(IssuedCard.uuid, IssuedCard.service_id).where(IssuedCard.uuid.in_(uuids))).all()
        )
        suggestions: dict[str, set[str]] = {}
        for card_uuid, suggestion_uuid in connection.execute(
            select(CardSuggestion.card_uuid, CardSuggestion.suggestion_uuid).where(
                CardSuggestion.card_uuid.in_(sorted(recorded))
            )
        ):
            suggestions.setdefault(card_uuid, set()).add(suggestion_uuid)
        signed = {uuid: card for uuid in uuids if uuid not in recorded and (card := card_ids.read_card(uuid))}
        return cls(card_ids, recorded, suggestions, signed)

    def service_of(self, card_uuid: str) -> str | None:
        if card_uuid in self.recorded:
            return self.recorded[card_uuid]
        signed = self.signed.get(card_uuid)
        return signed.service_id if signed else None

    def issues(self, entries: Iterable[FeedbackEntry], service_id: str) -> Iterable[dict[str, str]]:
        for i, entry in enumerate(entries):
            if self.service_of(entry.card) != service_id:
                # A card uuid is ours, not a patient identifier: naming it helps the EHR find its mistake.
                yield {
                    "field": f"feedback[{i}].card",
                    "problem": f"unknown card uuid '{entry.card}': service '{service_id}' did not issue it",
                }
                continue
            own = self.suggestions.get(entry.card, set())
            for j, accepted in enumerate(entry.acceptedSuggestions or ()):
                if accepted.id not in own and not self.card_ids.is_suggestion_of(entry.card, accepted.id):
                    yield {
                        "field": f"feedback[{i}].acceptedSuggestions[{j}].id",
                        "problem": f"suggestion uuid '{accepted.id}' is not a suggestion of card '{entry.card}'",
                    }


def _feedback_row(entry: FeedbackEntry, service_id: str, received: datetime) -> dict[str, object]:
    reason = entry.overrideReason.reason if entry.overrideReason else None
    accepted = sorted(s.id for s in entry.acceptedSuggestions or ())
    return {
        "dedupe_key": _dedupe_key(entry),
        "card_uuid": entry.card,
        "service_id": service_id,
        "outcome": entry.outcome,
        "accepted_suggestions": json.dumps(accepted) if accepted else None,
        "override_reason_system": reason.system if reason else None,
        "override_reason_code": reason.code if reason else None,
        "override_reason_display": reason.display if reason else None,
        "user_comment": entry.overrideReason.userComment if entry.overrideReason else None,
        "outcome_timestamp": entry.outcomeTimestamp,
        "received_at": received,
    }


def open_store(settings: Settings) -> Store:
    """Connect, migrate to the newest schema (once, under a lock), and return the store."""
    engine = create_store_engine(settings.database_url)
    upgrade(engine)
    key = settings.patient_hash_key.get_secret_value().encode("utf-8")
    return Store(engine, patient_hash_key=key, card_ids=card_ids_for(settings))
