"""When the store is out of reach: hook calls still answer their cards, and feedback on those cards is
accepted once the store is back (their signed uuids prove them ours). Feedback answers 503 only while
the database is unavailable; a value the database refuses is the client's 400."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, ProgrammingError

from cds_service.store.models import IssuedCard
from cds_service.store.writer import IssuedCardWriter
from fhir_fixtures import build_request

PV = "foot-calcification-patient-view"


def _unavailable(*args: Any, **kwargs: Any) -> None:
    raise OperationalError("INSERT", {}, Exception("database is locked"))


@pytest.fixture
def fast_writer(client: Any) -> IssuedCardWriter:
    """The app's writer, retrying without the production delays."""
    writer = IssuedCardWriter(client.app.state.store, retry_delays=(0.01,))
    client.app.state.card_recorder = writer
    yield writer
    writer.close()


def test_hook_call_answers_cards_when_the_store_fails(client: Any, fast_writer: IssuedCardWriter,
                                                      monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    monkeypatch.setattr(client.app.state.store, "write_issued", _unavailable)
    body = build_request("fc-diabetic-ulcer", "patient-view", date.today())
    response = client.post(f"/cds-services/{PV}", json=body)
    assert response.status_code == 200
    assert response.json()["cards"]
    assert fast_writer.flush(timeout=10)
    assert "issued cards not recorded (OperationalError) after 2 attempts" in caplog.text
    assert fast_writer.dropped_calls == 1
    assert body["context"]["patientId"] not in caplog.text


def test_feedback_on_cards_issued_while_the_store_was_down_is_accepted(
    client: Any, fast_writer: IssuedCardWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = client.app.state.store
    with monkeypatch.context() as down:
        down.setattr(store, "write_issued", _unavailable)
        cards = client.post(f"/cds-services/{PV}", json=build_request("fc-dfi-compartment", "patient-view",
                                                                        date.today())).json()["cards"]
        assert fast_writer.flush(timeout=10)
    with store.engine.connect() as connection:
        assert connection.execute(select(IssuedCard.uuid)).all() == []  # nothing was recorded

    card = next(c for c in cards if c.get("suggestions"))
    other = next(c for c in cards if c is not card)
    feedback = {"feedback": [
        {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-11-21T10:00:00Z",
         "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}]},
        {"card": other["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-21T10:00:00Z"},
    ]}
    response = client.post(f"/cds-services/{PV}/feedback", json=feedback)
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 2, "new": 2}
    report = {node.node_id: node for node in store.feedback_report(service_id=PV)}
    assert report[card["source"]["topic"]["code"]].accepted == 1
    assert report[other["source"]["topic"]["code"]].overridden == 1
    with store.engine.connect() as connection:
        rows = connection.execute(select(IssuedCard.uuid, IssuedCard.source, IssuedCard.service_id)).all()
    assert sorted(rows) == sorted([(card["uuid"], "feedback", PV), (other["uuid"], "feedback", PV)])


def test_feedback_is_503_while_the_store_is_unavailable(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client.app.state.store, "record_feedback", _unavailable)
    feedback = {"feedback": [{"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2026-11-21T10:00:00Z"}]}
    response = client.post(f"/cds-services/{PV}/feedback", json=feedback)
    assert response.status_code == 503
    assert response.json()["error"] == "store_unavailable"
    assert response.headers["retry-after"] == "5"


@pytest.mark.parametrize("error", [DataError("INSERT", {}, Exception("text cannot contain NUL")),
                                   IntegrityError("INSERT", {}, Exception("violates a constraint"))])
def test_a_database_error_caused_by_the_data_is_a_400(client: Any, monkeypatch: pytest.MonkeyPatch,
                                                      error: Exception) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(client.app.state.store, "record_feedback", refuse)
    feedback = {"feedback": [{"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2026-11-21T10:00:00Z"}]}
    response = client.post(f"/cds-services/{PV}/feedback", json=feedback)
    assert response.status_code == 400
    assert "retry-after" not in response.headers
    assert response.json()["issues"][0]["field"] == "(body)"


def test_a_database_error_of_our_own_making_is_a_500_not_a_retry(client: Any, monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: Any) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ProgrammingError("SELECT", {}, Exception("no such column"))

    monkeypatch.setattr(client.app.state.store, "record_feedback", broken)
    feedback = {"feedback": [{"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2026-11-21T10:00:00Z"}]}
    response = client.post(f"/cds-services/{PV}/feedback", json=feedback)
    assert response.status_code == 500
    assert "store error ProgrammingError" in caplog.text
