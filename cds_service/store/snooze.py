"""The store's side of snoozing: evidence of issued cards, snoozes created by overrides, cards snoozed.

Shared by every worker and instance through the database, like the rest of the store. Patient ids and
evidence references never reach it in clear: the patient is its keyed hash (as in `issued_cards`), and each
evidence item is an HMAC of the patient hash, the resource reference and its date.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, select

from cds_service.protocol.feedback import FeedbackRequest
from cds_service.store.engine import READ_ONLY, insert_ignoring_duplicates
from cds_service.store.models import CardEvidence, IssuedCard, Snooze, SnoozedCard
from cds_service.store.store import Store, patient_hash
from cds_service.store.writer import GroupCommitWriter

__all__ = ["EVIDENCE_RETENTION_DAYS", "ActiveSnooze", "SnoozeStore"]

log = logging.getLogger("cds_service.snooze")

# Evidence is kept this long after the card was issued: an override that arrives later snoozes nothing.
EVIDENCE_RETENTION_DAYS = 30  # local default
PURGE_INTERVAL_SECONDS = 3600  # old evidence rows are deleted at most this often per process


@dataclass(frozen=True, slots=True)
class ActiveSnooze:
    node_id: str
    card_uuid: str  # the overridden card
    evidence: frozenset[str]


# The background writer waits this long after a call's write is queued, for more to join its transaction
# (unless a flush is waiting): under load one commit then carries several calls, and the writer's Python
# work, which holds the GIL the event loop needs, is paid once per batch (see store/writer.py).
LINGER_SECONDS = 0.1
# Per-call writes waiting for the background writer, at most; past it a call's evidence is dropped (its
# cards then start no snooze when overridden), with a warning, rather than memory growing while the database
# is slow or down.
MAX_PENDING_CALLS = 5000
# The lookup of a hook call, built once (SQLAlchemy caches its compiled form; building the statement on
# every call cost more than running it).
_ACTIVE_SNOOZES = select(Snooze.node_id, Snooze.card_uuid, Snooze.evidence).where(
    Snooze.patient_hash == bindparam("patient_hash"),
    Snooze.node_id.in_(bindparam("nodes", expanding=True)),
    Snooze.created_at >= bindparam("since"),
)


class SnoozeStore:
    """Reads are done in the caller's thread, in a read-only transaction (on SQLite it takes no write lock:
    in WAL mode it never waits for a writer, so the event loop never waits for a commit). The per-call write
    (evidence, snoozed nodes) is queued for one background thread, which writes everything waiting in one
    transaction (group commit, store/writer.py), so the hook's answer never waits for a commit. Feedback
    first waits for this process's pending writes."""

    def __init__(self, engine: Engine, *, patient_hash_key: bytes) -> None:
        self.engine = engine
        self._key = patient_hash_key
        self._next_purge = 0.0
        self._writer = _SnoozeWriter(self)
        self._last_patient: tuple[str | None, str] = (None, "")  # (patient id, its hash)

    def flush(self) -> None:
        """Wait until every write queued so far by this process is committed (or has failed)."""
        self._writer.flush()

    def close(self) -> None:
        """Write what is queued (however long it takes), then stop the writer's thread; a write queued
        afterwards starts a new one."""
        writer, self._writer = self._writer, _SnoozeWriter(self)
        writer.close(timeout=None)

    @classmethod
    def beside(cls, store: Store) -> "SnoozeStore":
        """The snooze tables of `store`'s database, with its patient hash key."""
        return cls(store.engine, patient_hash_key=store._patient_hash_key)  # noqa: SLF001 - same key, by design

    def patient_hash(self, patient_id: str) -> str:
        # A hook call asks once per card and once for the lookup: the last patient's hash is kept.
        last = self._last_patient
        if last[0] == patient_id:
            return last[1]
        hashed = patient_hash(self._key, patient_id)
        self._last_patient = (patient_id, hashed)
        return hashed

    def evidence_keys(self, patient_id: str, items: Iterable[str]) -> frozenset[str]:
        """Keyed hashes of evidence items ("Observation/1|2026-11-20"), bound to the patient."""
        hashed = self.patient_hash(patient_id)
        key = self._key
        # hmac.digest: the same HMAC-SHA256 as hmac.new(...).hexdigest(), in one C call.
        return frozenset(hmac.digest(key, f"{hashed}|{item}".encode("utf-8"), "sha256").hex()[:32] for item in items)

    # Hook calls ----------------------------------------------------------------------------------------

    def active_snoozes(self, patient_id: str, node_ids: Iterable[str], *, days: int) -> list[ActiveSnooze]:
        nodes = sorted(set(node_ids))
        if days <= 0 or not nodes:
            return []
        since = datetime.now(timezone.utc) - timedelta(days=days)
        parameters = {"patient_hash": self.patient_hash(patient_id), "nodes": nodes, "since": since}
        with self.engine.connect().execution_options(**READ_ONLY) as connection:
            return [
                ActiveSnooze(node_id, card_uuid, frozenset(json.loads(evidence)))
                for node_id, card_uuid, evidence in connection.execute(_ACTIVE_SNOOZES, parameters)
            ]

    def record_call_later(self, **kwargs: Any) -> None:
        """`record_call` in the background writer, with the calls queued before it in one transaction; a
        failure is logged, never raised to the hook call."""
        self._writer.put(kwargs)

    def record_call(
        self,
        *,
        service_id: str,
        hook_instance: str,
        evidence: dict[str, frozenset[str]],
        snoozed: dict[str, str],
    ) -> None:
        """One transaction: the evidence of the cards shown (node -> keys) and the nodes snoozed (node ->
        the overridden card's uuid). A retried call keeps its first rows."""
        self.record_calls(
            [{"service_id": service_id, "hook_instance": hook_instance, "evidence": evidence, "snoozed": snoozed}]
        )

    def record_calls(self, calls: list[dict[str, Any]]) -> None:
        """`record_call` for several calls (keyword arguments of each), in one transaction."""
        now = datetime.now(timezone.utc)
        evidence_rows = [
            {"hook_instance": call["hook_instance"], "node_id": node, "evidence": json.dumps(sorted(keys)),
             "recorded_at": now}
            for call in calls
            for node, keys in call["evidence"].items()
        ]
        snoozed_rows = [
            {"hook_instance": call["hook_instance"], "node_id": node, "service_id": call["service_id"],
             "snooze_card_uuid": card_uuid, "snoozed_at": now}
            for call in calls
            for node, card_uuid in call["snoozed"].items()
        ]
        with self.engine.begin() as connection:
            self._purge(connection, now)
            if evidence_rows:
                connection.execute(insert_ignoring_duplicates(self.engine, CardEvidence), evidence_rows)
            if snoozed_rows:
                connection.execute(insert_ignoring_duplicates(self.engine, SnoozedCard), snoozed_rows)

    def _purge(self, connection: Connection, now: datetime) -> None:
        if time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
        connection.execute(
            delete(CardEvidence).where(CardEvidence.recorded_at < now - timedelta(days=EVIDENCE_RETENTION_DAYS))
        )

    # Feedback ------------------------------------------------------------------------------------------

    def record_overrides(self, *, service_id: str, feedback: FeedbackRequest) -> int:
        """A snooze for each card of the batch overridden with a coded reason; returns how many are new.

        Called after the feedback is stored (so every card is known). A card whose evidence was not recorded
        (issued while snoozing was off, or more than EVIDENCE_RETENTION_DAYS ago) starts no snooze.
        """
        uuids = sorted(
            {e.card for e in feedback.feedback if e.outcome == "overridden" and e.overrideReason and e.overrideReason.reason}
        )
        if not uuids:
            return 0
        self.flush()  # the evidence of cards this process just issued may still be queued
        now = datetime.now(timezone.utc)
        with self.engine.begin() as connection:
            rows = connection.execute(
                select(IssuedCard.uuid, IssuedCard.patient_hash, IssuedCard.node_id, CardEvidence.evidence)
                .join(
                    CardEvidence,
                    (CardEvidence.hook_instance == IssuedCard.hook_instance) & (CardEvidence.node_id == IssuedCard.node_id),
                )
                .where(IssuedCard.uuid.in_(uuids), IssuedCard.service_id == service_id)
            ).all()
            if not rows:
                return 0
            result = connection.execute(
                insert_ignoring_duplicates(self.engine, Snooze).returning(Snooze.card_uuid),
                [
                    {"card_uuid": uuid, "patient_hash": hashed, "node_id": node, "evidence": evidence, "created_at": now}
                    for uuid, hashed, node, evidence in rows
                ],
            )
            created = len(result.all())
        log.info("feedback for service %s: %d override(s) snooze their node", service_id, created)
        return created


class _SnoozeWriter(GroupCommitWriter[dict[str, Any]]):
    """`SnoozeStore.record_calls` behind the hook's answer: a failing batch is logged, not retried."""

    thread_name = "snooze-writer"

    def __init__(self, store: SnoozeStore) -> None:
        # The module's values when the store is made (tests change them).
        super().__init__(max_pending=MAX_PENDING_CALLS, linger_seconds=LINGER_SECONDS)
        self._store = store

    def _write_batch(self, batch: list[dict[str, Any]]) -> None:
        self._store.record_calls(batch)

    def _refused_full(self) -> None:
        log.warning("card evidence not recorded: %d calls already wait for the database", self._queue.maxsize)

    def _gave_up(self, exc: Exception, attempt: int, batch: list[dict[str, Any]]) -> None:
        log.error("card evidence of %d call(s) not recorded (%s): overrides of these cards will not snooze",
                  len(batch), type(exc).__name__)
