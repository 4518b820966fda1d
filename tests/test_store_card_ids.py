"""Feedback on cards the store never recorded, recognised by their signed uuids (SQLite and PostgreSQL);
forged ids refused; values the database cannot hold are the client's 400, not a store outage."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import pytest
from sqlalchemy import select

from cds_service.errors import BadRequest
from cds_service.protocol.feedback import FeedbackEntry, FeedbackRequest, OverrideReasonFeedback
from cds_service.protocol.response import Card, Coding, Source, Suggestion
from cds_service.settings import Settings
from cds_service.store.models import CardSuggestion, FeedbackRecord, IssuedCard
from cds_service.store.store import Store, open_store
from tests.support.store_cards import accepted, make_card, overridden
from tests.support.store_postgres import store_database_url

__all__ = ["store_database_url"]  # the fixture, imported for pytest

PV, SIGN = "foot-calcification-patient-view", "foot-calcification-order-sign"
NODE = "initial-radiograph"


@pytest.fixture
def store(store_database_url: str) -> Any:
    opened = open_store(Settings(auth_mode="disabled", database_url=store_database_url, patient_hash_key="s" * 40))
    yield opened
    opened.close()

JSON = dict[str, Any]


def signed_card(store: Store, *, service: str = PV, node: str = NODE, hook: str = "h-1", suggestions: int = 2) -> JSON:
    """A card as the renderer issues it (response JSON), with signed uuids, that the store never recorded."""
    ids = store.card_ids
    card_uuid = ids.card(service_id=service, node_id=node, hook_instance=hook)
    items = tuple(Suggestion(label=f"s{i}", uuid=ids.suggestion(card_uuid=card_uuid, key=f"k{i}"))
                  for i in range(suggestions))
    return Card(uuid=card_uuid, summary="s", indicator="info",
                source=Source(label="l", topic=Coding(system="https://x/pathway", code=node)),
                suggestions=items or None, selectionBehavior="at-most-one" if items else None,
                ).model_dump(mode="json", exclude_none=True)


def batch(*entries: dict[str, Any]) -> FeedbackRequest:
    return FeedbackRequest.model_validate({"feedback": list(entries)})


def issued(store: Store) -> list[tuple[Any, ...]]:
    with store.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(
            select(IssuedCard.uuid, IssuedCard.service_id, IssuedCard.node_id, IssuedCard.hook_instance,
                   IssuedCard.source).order_by(IssuedCard.uuid))]


def test_feedback_on_a_card_never_recorded_is_stored(store: Store) -> None:
    card = signed_card(store)
    assert store.record_feedback(service_id=PV, feedback=batch(accepted(card, which=1))) == 1
    assert issued(store) == [(card["uuid"], PV, NODE, "", "feedback")]
    with store.engine.connect() as connection:
        suggestions = connection.execute(select(CardSuggestion.suggestion_uuid)).scalars().all()
        (row,) = connection.execute(select(FeedbackRecord.card_uuid, FeedbackRecord.outcome)).all()
    assert suggestions == [card["suggestions"][1]["uuid"]]  # type: ignore[index]
    assert tuple(row) == (card["uuid"], "accepted")
    (node,) = store.feedback_report(service_id=PV)
    assert (node.node_id, node.issued, node.accepted) == (NODE, 1, 1)


def test_the_issued_record_arriving_later_completes_the_row(store: Store) -> None:
    card = signed_card(store)
    store.record_feedback(service_id=PV, feedback=batch(overridden(card)))
    store.record_issued_cards(service_id=PV, hook_instance="h-1", patient_id="p-1", cards=[card])
    assert issued(store) == [(card["uuid"], PV, NODE, "h-1", "hook-call")]
    # And a card recorded first keeps its record whatever comes after.
    store.record_issued_cards(service_id=PV, hook_instance="h-2", patient_id="p-2", cards=[card])
    assert issued(store)[0][3] == "h-1"


def test_repeated_feedback_on_a_signed_card_is_stored_once(store: Store) -> None:
    card = signed_card(store)
    assert store.record_feedback(service_id=PV, feedback=batch(overridden(card))) == 1
    assert store.record_feedback(service_id=PV, feedback=batch(overridden(card))) == 0
    assert len(issued(store)) == 1


def test_a_forged_card_uuid_is_refused(store: Store) -> None:
    forged = make_card(NODE)  # a random uuid4: neither recorded nor signed
    with pytest.raises(BadRequest, match="unknown card uuid"):
        store.record_feedback(service_id=PV, feedback=batch(overridden(forged)))
    genuine = signed_card(store)
    tampered = {**genuine, "uuid": str(uuid.UUID(int=uuid.UUID(genuine["uuid"]).int ^ 1))}
    with pytest.raises(BadRequest, match="unknown card uuid"):
        store.record_feedback(service_id=PV, feedback=batch(overridden(tampered)))
    assert issued(store) == []


def test_a_card_signed_with_another_key_is_refused(store: Store, store_database_url: str) -> None:
    other = open_store(Settings(auth_mode="disabled", database_url=store_database_url, patient_hash_key="o" * 40))
    try:
        with pytest.raises(BadRequest, match="unknown card uuid"):
            store.record_feedback(service_id=PV, feedback=batch(overridden(signed_card(other))))
    finally:
        other.close()


def test_a_signed_card_of_another_service_is_refused(store: Store) -> None:
    with pytest.raises(BadRequest, match=f"service '{PV}' did not issue it"):
        store.record_feedback(service_id=PV, feedback=batch(overridden(signed_card(store, service=SIGN))))


def test_a_suggestion_of_another_card_is_refused(store: Store) -> None:
    card, other = signed_card(store), signed_card(store, hook="h-2")
    entry = {**accepted(card), "acceptedSuggestions": [{"id": other["suggestions"][0]["uuid"]}]}  # type: ignore[index]
    with pytest.raises(BadRequest) as caught:
        store.record_feedback(service_id=PV, feedback=batch(entry))
    assert caught.value.extra["issues"][0]["field"] == "feedback[0].acceptedSuggestions[0].id"
    assert issued(store) == []


def test_a_value_the_database_refuses_is_a_bad_request_not_an_outage(store: Store) -> None:
    """Bypassing protocol validation (which already refuses these): a NUL breaks PostgreSQL's text, a lone
    surrogate every driver. The store answers BadRequest, so the client gets a 400 and stops retrying."""
    card = signed_card(store)
    store.record_issued_cards(service_id=PV, hook_instance="h-1", patient_id="p-1", cards=[card])
    for comment in ("before\x00after", "lone \ud800 surrogate"):
        entry = FeedbackEntry.model_construct(
            card=card["uuid"], outcome="overridden", acceptedSuggestions=None,
            overrideReason=OverrideReasonFeedback.model_construct(reason=None, userComment=comment),
            outcomeTimestamp=datetime(2026, 11, 21, tzinfo=timezone.utc),
        )
        request = FeedbackRequest.model_construct(feedback=(entry,))
        if "\x00" in comment and store.engine.dialect.name == "sqlite":
            assert store.record_feedback(service_id=PV, feedback=request) == 1  # SQLite holds a NUL
            continue
        with pytest.raises(BadRequest) as caught:
            store.record_feedback(service_id=PV, feedback=request)
        assert caught.value.extra["issues"][0]["field"] == "feedback"
