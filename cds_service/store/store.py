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
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from cds_service.errors import BadRequest
from cds_service.protocol.feedback import FeedbackEntry, FeedbackRequest
from cds_service.settings import Settings
from cds_service.store.engine import create_store_engine, is_sqlite
from cds_service.store.migrate import upgrade
from cds_service.store.models import CardSuggestion, FeedbackRecord, IssuedCard, SeenJti
from cds_service.store.report import NodeReport, build_report

__all__ = ["Store", "open_store", "patient_hash"]

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


class Store:
    def __init__(self, engine: Engine, *, patient_hash_key: bytes) -> None:
        self.engine = engine
        self._patient_hash_key = patient_hash_key
        self._next_purge = 0.0

    def _insert_ignoring_duplicates(self, model: type) -> object:
        """INSERT that skips rows whose unique key exists: the atomic check-and-set on both backends."""
        dialect = sqlite if is_sqlite(self.engine) else postgresql
        return dialect.insert(model).on_conflict_do_nothing()

    # Issued cards --------------------------------------------------------------------------------------

    def record_issued_cards(
        self, *, service_id: str, hook_instance: str, patient_id: str, cards: Sequence[Mapping[str, Any]]
    ) -> None:
        """`cards`: the response's card JSON, as issued."""
        if not cards:
            return
        now = datetime.now(timezone.utc)
        hashed = patient_hash(self._patient_hash_key, patient_id)
        card_rows = [
            {
                "uuid": card["uuid"],
                "service_id": service_id,
                "node_id": (card["source"].get("topic") or {}).get("code"),
                "hook_instance": hook_instance,
                "patient_hash": hashed,
                "issued_at": now,
            }
            for card in cards
        ]
        suggestion_rows = [
            {"card_uuid": card["uuid"], "suggestion_uuid": suggestion["uuid"]}
            for card in cards
            for suggestion in card.get("suggestions", ())
        ]
        with self.engine.begin() as connection:
            # A card uuid seen again (a retried hook call) keeps its first record.
            connection.execute(self._insert_ignoring_duplicates(IssuedCard), card_rows)
            if suggestion_rows:
                connection.execute(self._insert_ignoring_duplicates(CardSuggestion), suggestion_rows)

    # Feedback ------------------------------------------------------------------------------------------

    def record_feedback(self, *, service_id: str, feedback: FeedbackRequest) -> int:
        """Store the batch in one transaction, or nothing: returns how many entries were new.

        Every entry must name a card this service issued, and accepted suggestions must be that card's;
        otherwise `BadRequest` lists each bad entry. Repeats (same card, outcome, timestamp, suggestions)
        are stored once.
        """
        entries = feedback.feedback
        received = datetime.now(timezone.utc)
        with self.engine.begin() as connection:
            uuids = sorted({entry.card for entry in entries})
            issued = set(
                connection.scalars(
                    select(IssuedCard.uuid).where(IssuedCard.uuid.in_(uuids), IssuedCard.service_id == service_id)
                )
            )
            suggestions: dict[str, set[str]] = {}
            for card_uuid, suggestion_uuid in connection.execute(
                select(CardSuggestion.card_uuid, CardSuggestion.suggestion_uuid).where(
                    CardSuggestion.card_uuid.in_(sorted(issued))
                )
            ):
                suggestions.setdefault(card_uuid, set()).add(suggestion_uuid)
            issues = list(_feedback_issues(entries, service_id, issued, suggestions))
            if issues:
                raise BadRequest(issues)  # leaving the block rolls back: nothing of the batch is stored
            rows = [_feedback_row(entry, service_id, received) for entry in entries]
            insert = self._insert_ignoring_duplicates(FeedbackRecord).returning(FeedbackRecord.id)
            result = connection.execute(insert, rows)
            stored = len(result.all())
        log.info("feedback for service %s: %d entr(ies), %d new", service_id, len(entries), stored)
        return stored

    # JWT replay cache ----------------------------------------------------------------------------------

    def remember_jti(self, *, issuer: str, jti: str, expires_at: int) -> bool:
        """True if (issuer, jti) was not seen before and is now recorded; False if it is a replay."""
        now = int(time.time())
        with self.engine.begin() as connection:
            if time.monotonic() >= self._next_purge:
                self._next_purge = time.monotonic() + JTI_PURGE_INTERVAL_SECONDS
                connection.execute(delete(SeenJti).where(SeenJti.expires_at < now))
            result = connection.execute(
                self._insert_ignoring_duplicates(SeenJti).returning(SeenJti.key),
                [{"key": _jti_key(issuer, jti), "expires_at": expires_at}],
            )
            return len(result.all()) == 1

    # Reporting -----------------------------------------------------------------------------------------

    def feedback_report(self, *, service_id: str | None = None) -> list[NodeReport]:
        with self.engine.connect() as connection:
            return build_report(connection, service_id=service_id)

    def close(self) -> None:
        self.engine.dispose()


def _feedback_issues(
    entries: Iterable[FeedbackEntry], service_id: str, issued: set[str], suggestions: dict[str, set[str]]
) -> Iterable[dict[str, str]]:
    for i, entry in enumerate(entries):
        if entry.card not in issued:
            # A card uuid is ours, not a patient identifier: naming it helps the EHR find its mistake.
            yield {
                "field": f"feedback[{i}].card",
                "problem": f"unknown card uuid '{entry.card}': service '{service_id}' did not issue it",
            }
            continue
        own = suggestions.get(entry.card, set())
        for j, accepted in enumerate(entry.acceptedSuggestions or ()):
            if accepted.id not in own:
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
    return Store(engine, patient_hash_key=key)
