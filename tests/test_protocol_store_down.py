"""When the store is out of reach: hook calls still answer their cards; feedback answers 503, not 500."""

from __future__ import annotations

from datetime import date

from sqlalchemy.exc import OperationalError

from fhir_fixtures import build_request


def _broken(*args, **kwargs):
    raise OperationalError("INSERT", {}, Exception("database is locked"))


def test_hook_call_answers_cards_when_the_store_fails(client, monkeypatch, caplog):
    monkeypatch.setattr(client.app.state.store, "record_issued_cards", _broken)
    body = build_request("fc-diabetic-ulcer", "patient-view", date.today())
    response = client.post("/cds-services/foot-calcification-patient-view", json=body)
    assert response.status_code == 200
    assert response.json()["cards"]
    assert "issued cards not recorded" in caplog.text


def test_feedback_is_503_when_the_store_fails(client, monkeypatch):
    monkeypatch.setattr(client.app.state.store, "record_feedback", _broken)
    feedback = {"feedback": [{"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2026-11-21T10:00:00Z"}]}
    response = client.post("/cds-services/foot-calcification-patient-view/feedback", json=feedback)
    assert response.status_code == 503
    assert response.json()["error"] == "store_unavailable"
    assert response.headers["retry-after"] == "5"
