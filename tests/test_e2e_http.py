"""End to end over HTTP: every fixture request, rendered for today's date, POSTed to the running app
(FastAPI TestClient, auth disabled, a fresh SQLite store); same expectations as the evaluator tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.settings import Settings
from fhir_fixtures.hook_requests import build_request
from tests.support.e2e_checks import check_response
from tests.support.e2e_run import CASES, SERVICE_BY_HOOK


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp: Path = tmp_path_factory.mktemp("e2e-http")
    app = create_app(
        Settings(auth_mode="disabled", database_url=f"sqlite:///{tmp}/t.db", public_base_url="http://cds.example.org")
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(("patient", "hook"), CASES, ids=[f"{p}-{h}" for p, h in CASES])
def test_http_answer_matches_the_spec(http: TestClient, patient: str, hook: str) -> None:
    today = date.today()  # the route evaluates on the server's day; the fixtures are rendered for it
    request = build_request(patient, hook, today)
    reply = http.post(f"/cds-services/{SERVICE_BY_HOOK[hook].id}", json=request)
    assert reply.status_code == 200, reply.text[:500]
    assert reply.headers["content-type"].startswith("application/json")
    problems = check_response(patient, hook, request, reply.json(), today)
    assert not problems, "\n".join(problems)


def test_the_written_request_files_are_accepted_as_they_are(http: TestClient) -> None:
    """requests/*.json rendered by `materialize` (what a person would curl) give the same answer."""
    import json

    from fhir_fixtures.hook_requests import request_path
    from fhir_fixtures.materialize import materialize

    today = date.today()
    for patient, hook in (("fc-necrotizing", "patient-view"), ("fc-diabetic-ulcer", "order-sign")):
        body = materialize(json.loads(request_path(patient, hook).read_text()), today)
        reply = http.post(f"/cds-services/{SERVICE_BY_HOOK[hook].id}", json=body)
        assert reply.status_code == 200, reply.text[:500]
        problems = check_response(patient, hook, body, reply.json(), today)
        assert not problems, "\n".join(problems)


def test_feedback_on_fixture_cards_is_tied_to_their_nodes(tmp_path: Path) -> None:
    """A clinician overrides the radiograph-first card (urgent need) and accepts the stat surgical referral;
    the store's report counts each against its node, with the override reason."""
    from datetime import datetime

    app = create_app(Settings(auth_mode="disabled", database_url=f"sqlite:///{tmp_path}/t.db"))
    today = date.today()
    with TestClient(app) as client:
        select = SERVICE_BY_HOOK["order-select"].id
        view = SERVICE_BY_HOOK["patient-view"].id
        cards = client.post(
            f"/cds-services/{select}", json=build_request("fc-tendinitis-no-xr", "order-select", today)
        ).json()["cards"]
        radiograph = next(c for c in cards if c["source"]["topic"]["code"] == "initial-radiograph")
        urgent_reason = next(r for r in radiograph["overrideReasons"] if r["code"] == "urgent-clinical-need")
        cards = client.post(
            f"/cds-services/{view}", json=build_request("fc-necrotizing", "patient-view", today)
        ).json()["cards"]
        surgery = next(c for c in cards if c["source"]["topic"]["code"] == "urgent-surgery")
        now = datetime.now(UTC).isoformat()

        overridden = {
            "feedback": [
                {
                    "card": radiograph["uuid"],
                    "outcome": "overridden",
                    "outcomeTimestamp": now,
                    "overrideReason": {"reason": urgent_reason, "userComment": "septic foot"},
                }
            ]
        }
        accepted = {
            "feedback": [
                {
                    "card": surgery["uuid"],
                    "outcome": "accepted",
                    "outcomeTimestamp": now,
                    "acceptedSuggestions": [{"id": surgery["suggestions"][0]["uuid"]}],
                }
            ]
        }
        assert client.post(f"/cds-services/{select}/feedback", json=overridden).json() == {"stored": 1, "new": 1}
        assert client.post(f"/cds-services/{view}/feedback", json=accepted).json() == {"stored": 1, "new": 1}

        assert app.state.card_recorder.flush(timeout=10)  # issued cards are written behind the responses
        by_node = {r.node_id: r for r in app.state.store.feedback_report(service_id=select)}
        assert by_node["initial-radiograph"].overridden == 1
        assert [o.code for o in by_node["initial-radiograph"].override_reasons] == ["urgent-clinical-need"]
        by_node = {r.node_id: r for r in app.state.store.feedback_report(service_id=view)}
        assert by_node["urgent-surgery"].accepted == 1
        assert by_node["infection-management"].without_feedback == 1


def test_every_card_link_and_override_reason_resolves_on_the_service(http: TestClient) -> None:
    """`source.url` is the node's page and `overrideReasons[].system` its CodeSystem, both on this service."""
    today = date.today()
    pages: set[str] = set()
    reasons: set[tuple[str, str]] = set()
    for patient, hook in CASES:
        reply = http.post(f"/cds-services/{SERVICE_BY_HOOK[hook].id}", json=build_request(patient, hook, today))
        for card in reply.json()["cards"]:
            pages.add(card["source"]["url"])
            pages |= {link["url"] for link in card.get("links", [])}  # the pages of the nodes folded into it
            reasons |= {(r["system"], r["code"]) for r in card.get("overrideReasons", [])}
    assert len(pages) >= 14
    for url in sorted(pages):
        assert url.startswith("http://cds.example.org/pathway/"), url
        page = http.get(url.removeprefix("http://cds.example.org"))
        assert page.status_code == 200 and "text/html" in page.headers["content-type"], url
    systems = {system for system, _ in reasons}
    assert systems == {"http://cds.example.org/override-reason"}
    served = http.get("/override-reason").json()
    codes = {c["code"] for c in served.get("concept", [])}
    assert {code for _, code in reasons} <= codes


def test_a_retried_hook_call_gives_the_same_uuids(http: TestClient) -> None:
    request = build_request("fc-dfi-osteomyelitis", "patient-view", date.today())
    first, second = (
        http.post(f"/cds-services/{SERVICE_BY_HOOK['patient-view'].id}", json=request).json() for _ in range(2)
    )
    uuids = [[c["uuid"], *[s["uuid"] for s in c.get("suggestions", [])]] for c in first["cards"]]
    assert uuids == [[c["uuid"], *[s["uuid"] for s in c.get("suggestions", [])]] for c in second["cards"]]
    assert len({u for group in uuids for u in group}) == sum(len(g) for g in uuids)
