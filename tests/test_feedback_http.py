"""Feedback through HTTP: validation against the cards this service issued, all-or-nothing batches,
idempotent repeats, durability across restarts and across two real uvicorn workers, and the report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cds_service.app import create_app
from cds_service.cli import main
from cds_service.settings import Settings
from cds_service.store.models import FeedbackRecord
from cds_service.store.store import Store, open_store
from tests.support.serve_process import served
from tests.support.store_cards import accepted, make_card, overridden
from tests.support.store_postgres import store_database_url

__all__ = ["store_database_url"]  # the fixture, imported for pytest

SERVICE = "foot-calcification-patient-view"
FEEDBACK = f"/cds-services/{SERVICE}/feedback"


def app_settings(url: str) -> Settings:
    return Settings(auth_mode="disabled", database_url=url)


def issue(client: TestClient, *cards: dict) -> None:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    store.record_issued_cards(service_id=SERVICE, hook_instance="hook-1", patient_id="p-1", cards=list(cards))


def count_feedback(client: TestClient) -> int:
    with client.app.state.store.engine.connect() as connection:  # type: ignore[attr-defined]
        return int(connection.execute(select(func.count()).select_from(FeedbackRecord)).scalar_one())


@pytest.fixture
def client(store_database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings(store_database_url))) as test_client:
        yield test_client


def test_feedback_is_stored(client: TestClient) -> None:
    card = make_card("n1")
    issue(client, card)
    response = client.post(FEEDBACK, json={"feedback": [accepted(card)]})
    assert response.status_code == 200
    assert response.json() == {"stored": 1, "new": 1}
    assert count_feedback(client) == 1


def test_unknown_card_answers_400_naming_it(client: TestClient) -> None:
    card = make_card("n1")
    response = client.post(FEEDBACK, json={"feedback": [overridden(card)]})
    assert response.status_code == 400
    body = response.json()
    assert body["issues"][0]["field"] == "feedback[0].card"
    assert card["uuid"] in body["issues"][0]["problem"]


def test_accepted_without_suggestions_answers_400(client: TestClient) -> None:
    card = make_card("n1")
    issue(client, card)
    entry = {k: v for k, v in accepted(card).items() if k != "acceptedSuggestions"}
    response = client.post(FEEDBACK, json={"feedback": [entry]})
    assert response.status_code == 400
    assert "acceptedSuggestions is required" in response.text
    assert count_feedback(client) == 0


def test_accepted_suggestion_of_another_card_answers_400(client: TestClient) -> None:
    card, other = make_card("n1"), make_card("n2")
    issue(client, card, other)
    entry = {**accepted(card), "acceptedSuggestions": [{"id": other["suggestions"][0]["uuid"]}]}
    response = client.post(FEEDBACK, json={"feedback": [entry]})
    assert response.status_code == 400
    assert response.json()["issues"][0]["field"] == "feedback[0].acceptedSuggestions[0].id"


def test_batch_with_one_bad_entry_stores_nothing(client: TestClient) -> None:
    good, unknown = make_card("n1"), make_card("n2")
    issue(client, good)
    response = client.post(FEEDBACK, json={"feedback": [accepted(good), overridden(good), overridden(unknown)]})
    assert response.status_code == 400
    assert [issue["field"] for issue in response.json()["issues"]] == ["feedback[2].card"]
    assert count_feedback(client) == 0


def test_repeated_feedback_is_idempotent(client: TestClient) -> None:
    card = make_card("n1")
    issue(client, card)
    for expected in (1, 0, 0):
        response = client.post(FEEDBACK, json={"feedback": [overridden(card)]})
        assert response.status_code == 200 and response.json() == {"stored": 1, "new": expected}
    assert count_feedback(client) == 1


def test_feedback_survives_a_restart_of_the_service(store_database_url: str) -> None:
    card = make_card("n1")
    with TestClient(create_app(app_settings(store_database_url))) as first:
        issue(first, card)
        assert first.post(FEEDBACK, json={"feedback": [overridden(card)]}).status_code == 200
    with TestClient(create_app(app_settings(store_database_url))) as second:
        assert count_feedback(second) == 1
        # The restarted service still knows the card it issued before.
        assert second.post(FEEDBACK, json={"feedback": [accepted(card)]}).json() == {"stored": 1, "new": 1}


def test_report_command_counts_right(store_database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    cards = [make_card("initial-radiographs") for _ in range(3)] + [make_card("metabolic-labs")]
    with TestClient(create_app(app_settings(store_database_url))) as client:
        issue(client, *cards)
        feedback = [
            accepted(cards[0]),
            overridden(cards[1], code="already-done"),
            overridden(cards[2], code="already-done"),
            overridden(cards[3], code="not-relevant"),
        ]
        assert client.post(FEEDBACK, json={"feedback": feedback}).status_code == 200

    assert main(["feedback", "report", "--json", "--database-url", store_database_url]) == 0
    nodes = {node["node_id"]: node for node in json.loads(capsys.readouterr().out)["nodes"]}
    radiographs, labs = nodes["initial-radiographs"], nodes["metabolic-labs"]
    assert (radiographs["issued"], radiographs["accepted"], radiographs["overridden"]) == (3, 1, 2)
    assert [(r["code"], r["cards"]) for r in radiographs["override_reasons"]] == [("already-done", 2)]
    assert (labs["issued"], labs["accepted"], labs["overridden"]) == (1, 0, 1)

    assert main(["feedback", "report", "--database-url", store_database_url]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["node", "issued", "accepted", "overridden", "no", "feedback", "snoozed"]
    assert table[2].split() == ["initial-radiographs", "3", "1", "2", "0", "0"]
    assert "override reason: already-done Already-Done" in table[3] and table[3].endswith(": 2")
    assert table[-1].split() == ["TOTAL", "4", "1", "3", "0", "0"]


def test_report_on_an_empty_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["feedback", "report", "--database-url", f"sqlite:///{tmp_path / 'empty.db'}"]) == 0
    assert capsys.readouterr().out.strip() == "No cards issued yet."


# Two real uvicorn workers ------------------------------------------------------------------------------

WORKERS = 2
POSTS = 80


def test_two_uvicorn_workers_posting_concurrently_lose_nothing(store_database_url: str) -> None:
    cards = [make_card(f"node-{i % 5}") for i in range(POSTS)]
    store = open_store(app_settings(store_database_url))
    store.record_issued_cards(service_id=SERVICE, hook_instance="h", patient_id="p", cards=cards)

    with served(workers=WORKERS, log_level="warning", CDS_DATABASE_URL=store_database_url) as server:

        def post(card: dict) -> int:
            # A fresh connection per post, so the kernel spreads them over both workers.
            body = {"feedback": [accepted(card), overridden(card, at="2026-11-21T12:00:00Z")]}
            return httpx.post(f"{server.base}{FEEDBACK}", json=body, timeout=30).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(post, cards))
    assert statuses == [200] * POSTS
    with store.engine.connect() as connection:
        rows = connection.execute(select(func.count()).select_from(FeedbackRecord)).scalar_one()
    store.close()
    assert rows == 2 * POSTS


# Override reasons from the service's own CodeSystem ------------------------------------------------------

OUR_REASONS = "http://127.0.0.1:8080/override-reason"  # CDS_PUBLIC_BASE_URL's default + /override-reason


def stored_reason(client: TestClient) -> tuple[str | None, str | None, str | None]:
    with client.app.state.store.engine.connect() as connection:  # type: ignore[attr-defined]
        row = connection.execute(
            select(FeedbackRecord.override_reason_system, FeedbackRecord.override_reason_code,
                   FeedbackRecord.override_reason_display).order_by(FeedbackRecord.id.desc())
        ).first()
    return tuple(row)  # type: ignore[arg-type, return-value]


def test_override_reason_sent_as_system_and_code_gets_our_display(client: TestClient) -> None:
    from cds_service.guideline.nodes import pathway_spec

    code, display = next(iter(pathway_spec().override_reasons.items()))
    card = make_card("n1")
    issue(client, card)
    entry = {**overridden(card, code=None), "overrideReason": {"reason": {"system": OUR_REASONS, "code": code}}}
    assert client.post(FEEDBACK, json={"feedback": [entry]}).status_code == 200
    assert stored_reason(client) == (OUR_REASONS, code, display)


def test_a_display_the_client_sent_is_kept(client: TestClient) -> None:
    from cds_service.guideline.nodes import pathway_spec

    code = next(iter(pathway_spec().override_reasons))
    card = make_card("n1")
    issue(client, card)
    reason = {"system": OUR_REASONS, "code": code, "display": "As the EHR showed it"}
    entry = {**overridden(card, code=None), "overrideReason": {"reason": reason}}
    assert client.post(FEEDBACK, json={"feedback": [entry]}).status_code == 200
    assert stored_reason(client) == (OUR_REASONS, code, "As the EHR showed it")


def test_a_code_our_code_system_does_not_have_is_refused(client: TestClient) -> None:
    card = make_card("n1")
    issue(client, card)
    entry = {**overridden(card, code=None), "overrideReason": {"reason": {"system": OUR_REASONS, "code": "made-up"}}}
    response = client.post(FEEDBACK, json={"feedback": [entry]})
    assert response.status_code == 400
    assert response.json()["issues"][0]["field"] == "feedback[0].overrideReason.reason.code"
    assert count_feedback(client) == 0


def test_another_systems_reason_is_stored_as_sent(client: TestClient) -> None:
    card = make_card("n1")
    issue(client, card)
    entry = {**overridden(card, code=None), "overrideReason": {"reason": {"system": "https://ehr.example/r", "code": "x"}}}
    assert client.post(FEEDBACK, json={"feedback": [entry]}).status_code == 200
    assert stored_reason(client) == ("https://ehr.example/r", "x", None)


def test_a_nul_in_the_user_comment_is_a_400_naming_it_on_every_backend(client: TestClient) -> None:
    """PostgreSQL cannot store a NUL in text; it used to answer 503 with Retry-After, which EHRs retry forever."""
    card = make_card("n1")
    issue(client, card)
    response = client.post(FEEDBACK, json={"feedback": [overridden(card, comment="before\x00after")]})
    assert response.status_code == 400
    assert "retry-after" not in response.headers
    assert response.json()["issues"][0]["field"] == "feedback[0].overrideReason.userComment"
    assert count_feedback(client) == 0
