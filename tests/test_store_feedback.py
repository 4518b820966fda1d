"""The store on SQLite and on a real PostgreSQL server: issued cards, feedback rules, restarts, migrations."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, select, text

from cds_service.errors import BadRequest
from cds_service.protocol.feedback import FeedbackRequest
from cds_service.settings import Settings
from cds_service.store.migrate import head_revision
from cds_service.store.models import FeedbackRecord
from cds_service.store.store import Store, open_store
from tests.support.store_cards import accepted, make_card, overridden
from tests.support.store_postgres import store_database_url

__all__ = ["store_database_url"]  # the fixture, imported for pytest

SERVICE = "foot-calcification-patient-view"
PATIENT = "patient-id-that-must-not-be-stored"
KEY = "test-hash-key"


def settings(url: str) -> Settings:
    return Settings(auth_mode="disabled", database_url=url, patient_hash_key=KEY)


def batch(*entries: dict[str, Any]) -> FeedbackRequest:
    return FeedbackRequest.model_validate({"feedback": list(entries)})


def feedback_rows(store: Store) -> list[FeedbackRecord]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(FeedbackRecord).order_by(FeedbackRecord.id)).all())


@pytest.fixture
def store(store_database_url: str) -> Any:
    opened = open_store(settings(store_database_url))
    yield opened
    opened.close()


def test_migrations_create_the_schema_and_rerun_as_noop(store_database_url: str) -> None:
    open_store(settings(store_database_url)).close()
    open_store(settings(store_database_url)).close()
    engine = create_engine(store_database_url)
    try:
        tables = set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    finally:
        engine.dispose()
    assert {"issued_cards", "card_suggestions", "feedback", "seen_jtis"} <= tables
    assert versions == [head_revision()]


def test_issued_cards_keep_a_keyed_hash_of_the_patient_never_the_id(store: Store) -> None:
    card = make_card("initial-radiographs", suggestions=2)
    store.record_issued_cards(service_id=SERVICE, hook_instance="hook-1", patient_id=PATIENT, cards=[card])
    with store.engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM issued_cards")).mappings().one()
        suggestions = connection.execute(text("SELECT suggestion_uuid FROM card_suggestions")).scalars().all()
        everything = " ".join(
            str(value)
            for table in ("issued_cards", "card_suggestions", "feedback", "seen_jtis")
            for record in connection.execute(text(f"SELECT * FROM {table}")).all()
            for value in record
        )
    assert row["uuid"] == card["uuid"] and row["node_id"] == "initial-radiographs"
    assert row["service_id"] == SERVICE and row["hook_instance"] == "hook-1" and row["issued_at"] is not None
    assert row["patient_hash"] == hmac.new(KEY.encode(), PATIENT.encode(), hashlib.sha256).hexdigest()
    assert sorted(suggestions) == sorted(s["uuid"] for s in card.get("suggestions", ()))
    assert PATIENT not in everything


def test_feedback_is_stored_with_every_field_linked_to_its_card(store: Store) -> None:
    card, other = make_card("n1", suggestions=2), make_card("n2")
    store.record_issued_cards(service_id=SERVICE, hook_instance="h", patient_id=PATIENT, cards=[card, other])
    stored = store.record_feedback(
        service_id=SERVICE,
        feedback=batch(accepted(card, which=1), overridden(other, code="already-done", comment="done last week")),
    )
    assert stored == 2
    first, second = feedback_rows(store)
    assert (first.card_uuid, first.outcome) == (card["uuid"], "accepted")
    assert first.accepted_suggestions == f'["{card["suggestions"][1]["uuid"]}"]'
    assert (second.card_uuid, second.outcome, second.override_reason_code) == (other["uuid"], "overridden", "already-done")
    assert second.override_reason_system == "https://cds.test.example/override-reasons"
    assert second.override_reason_display == "Already-Done"
    assert second.user_comment == "done last week"
    assert second.outcome_timestamp is not None and second.received_at is not None


def test_unknown_card_is_refused_by_name(store: Store) -> None:
    card = make_card("n1")
    store.record_issued_cards(service_id=SERVICE, hook_instance="h", patient_id=PATIENT, cards=[card])
    stranger = make_card("n1")  # never issued
    with pytest.raises(BadRequest) as caught:
        store.record_feedback(service_id=SERVICE, feedback=batch(accepted(card), overridden(stranger)))
    problem = f"unknown card uuid '{stranger['uuid']}': service '{SERVICE}' did not issue it"
    assert caught.value.extra["issues"] == [{"field": "feedback[1].card", "problem": problem}]
    assert feedback_rows(store) == []  # all or nothing: the good entry was not kept either


def test_card_of_another_service_is_unknown_here(store: Store) -> None:
    card = make_card("n1")
    store.record_issued_cards(service_id="another-service", hook_instance="h", patient_id=PATIENT, cards=[card])
    with pytest.raises(BadRequest, match="unknown card uuid"):
        store.record_feedback(service_id=SERVICE, feedback=batch(overridden(card)))


def test_accepted_suggestion_must_belong_to_the_card(store: Store) -> None:
    card, other = make_card("n1"), make_card("n2")
    store.record_issued_cards(service_id=SERVICE, hook_instance="h", patient_id=PATIENT, cards=[card, other])
    wrong = {**accepted(card), "acceptedSuggestions": [{"id": other["suggestions"][0]["uuid"]}]}
    with pytest.raises(BadRequest) as caught:
        store.record_feedback(service_id=SERVICE, feedback=batch(wrong))
    assert caught.value.extra["issues"][0]["field"] == "feedback[0].acceptedSuggestions[0].id"
    assert feedback_rows(store) == []


def test_repeated_feedback_is_stored_once(store: Store) -> None:
    card = make_card("n1")
    store.record_issued_cards(service_id=SERVICE, hook_instance="h", patient_id=PATIENT, cards=[card])
    assert store.record_feedback(service_id=SERVICE, feedback=batch(accepted(card), accepted(card))) == 1
    assert store.record_feedback(service_id=SERVICE, feedback=batch(accepted(card))) == 0
    # Same card, a later decision: a new fact, kept.
    assert store.record_feedback(service_id=SERVICE, feedback=batch(overridden(card, at="2026-11-21T11:00:00Z"))) == 1
    # The same instant written in another zone is the same timestamp.
    same_instant = accepted(card, at="2026-11-21T11:00:00+01:00")
    assert store.record_feedback(service_id=SERVICE, feedback=batch(same_instant)) == 0
    assert len(feedback_rows(store)) == 2


def test_reissued_card_uuid_keeps_its_first_record(store: Store) -> None:
    card = make_card("n1")
    store.record_issued_cards(service_id=SERVICE, hook_instance="h1", patient_id=PATIENT, cards=[card])
    store.record_issued_cards(service_id=SERVICE, hook_instance="h2", patient_id=PATIENT, cards=[card])
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT hook_instance FROM issued_cards")).scalars().all() == ["h1"]


def test_feedback_survives_a_restart(store_database_url: str) -> None:
    card = make_card("n1")
    first = open_store(settings(store_database_url))
    first.record_issued_cards(service_id=SERVICE, hook_instance="h", patient_id=PATIENT, cards=[card])
    first.record_feedback(service_id=SERVICE, feedback=batch(overridden(card)))
    first.close()
    second = open_store(settings(store_database_url))
    try:
        (node,) = second.feedback_report()
        assert (node.node_id, node.issued, node.overridden) == ("n1", 1, 1)
        # And the restarted store still knows the card: a repeat is recognised, not refused.
        assert second.record_feedback(service_id=SERVICE, feedback=batch(overridden(card))) == 0
    finally:
        second.close()


def test_jti_is_remembered_until_it_expires(store: Store, store_database_url: str) -> None:
    now = int(time.time())
    assert store.remember_jti(issuer="iss-a", jti="j1", expires_at=now + 300) is True
    assert store.remember_jti(issuer="iss-a", jti="j1", expires_at=now + 300) is False
    assert store.remember_jti(issuer="iss-b", jti="j1", expires_at=now + 300) is True
    assert store.remember_jti(issuer="iss-a", jti="old", expires_at=now - 1) is True
    # Another process (a new store) purges expired ids on its first use; live ones stay.
    other = open_store(settings(store_database_url))
    try:
        assert other.remember_jti(issuer="iss-a", jti="j2", expires_at=now + 300) is True
        assert other.remember_jti(issuer="iss-a", jti="old", expires_at=now + 300) is True
        assert other.remember_jti(issuer="iss-a", jti="j1", expires_at=now + 300) is False
    finally:
        other.close()


def test_report_counts_per_node(store: Store) -> None:
    a1, a2, a3, b1 = make_card("node-a"), make_card("node-a"), make_card("node-a"), make_card("node-b")
    store.record_issued_cards(service_id=SERVICE, hook_instance="h", patient_id=PATIENT, cards=[a1, a2, a3, b1])
    store.record_feedback(
        service_id=SERVICE,
        feedback=batch(
            accepted(a1),
            accepted(a1, at="2026-11-21T10:05:00Z"),  # the same card accepted twice counts once
            overridden(a2, code="not-relevant"),
            overridden(a2, code="not-relevant", at="2026-11-21T10:06:00Z"),
            overridden(b1, code=None, comment="no"),
        ),
    )
    report = {node.node_id: node for node in store.feedback_report()}
    a, b = report["node-a"], report["node-b"]
    assert (a.issued, a.accepted, a.overridden, a.without_feedback) == (3, 1, 1, 1)
    assert [(r.code, r.cards) for r in a.override_reasons] == [("not-relevant", 1)]
    assert (b.issued, b.accepted, b.overridden, b.without_feedback) == (1, 0, 1, 0)
    assert [(r.code, r.label()) for r in b.override_reasons] == [(None, "(no reason given)")]
    assert store.feedback_report(service_id="another-service") == []


def test_migrations_leave_the_service_logging_alone(tmp_path: Any) -> None:
    import logging

    service_logger = logging.getLogger("cds_service.store")
    root = logging.getLogger()
    before = (list(root.handlers), root.level, service_logger.disabled, service_logger.level)
    open_store(settings(f"sqlite:///{tmp_path / 'logging.db'}")).close()
    assert (list(root.handlers), root.level, service_logger.disabled, service_logger.level) == before


def test_plain_postgresql_url_uses_psycopg_3() -> None:
    from cds_service.store.engine import create_store_engine

    engine = create_store_engine("postgresql://cds:secret@db.invalid:5432/cds")  # no connection is made
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


def test_unsupported_database_url_is_named() -> None:
    from cds_service.store.engine import create_store_engine

    with pytest.raises(ValueError, match="CDS_DATABASE_URL must be a sqlite:/// or postgresql\\+psycopg:// URL"):
        create_store_engine("mysql://db.invalid/cds")


def test_migrations_match_the_models(store_database_url: str) -> None:
    """A model changed without a migration (or the reverse) shows up here, on each backend."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from cds_service.store.models import Base

    store = open_store(settings(store_database_url))
    try:
        with store.engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        store.close()
