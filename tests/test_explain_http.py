"""`POST /cds-services/{id}/explain` over HTTP: authenticated like the hook, the hook's body and 4xx, JSON with a
schema in the OpenAPI document, or a FHIR GuidanceResponse (`?format=fhir`, `Accept: application/fhir+json`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient
from fhir.resources.R4B.guidanceresponse import GuidanceResponse

from cds_service.explain.build import carried_nodes
from cds_service.explain.model import Explanation
from fhir_fixtures.hook_requests import build_request
from tests.support.auth_tokens import BASE_URL, EHR_ISS, claims, es384_key, mint, write_clients

PV = "/cds-services/foot-calcification-patient-view"
EXPLAIN = PV + "/explain"
PATIENT = "fc-tendinitis-no-xr"


def test_explain_answers_json_whose_fired_nodes_are_the_hooks_cards(client: TestClient) -> None:
    body = build_request(PATIENT, "patient-view", date.today())
    response = client.post(EXPLAIN, json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    explanation = Explanation.model_validate(response.json())
    cards = client.post(PV, json=body).json()["cards"]
    fired = [n.id for n in explanation.nodes if n.outcome == "fired"]
    assert sorted(fired) == sorted(node for card in cards for node in carried_nodes(card))
    assert explanation.nodes[0].outcome == "fired"  # fired first
    assert {n.id for n in explanation.nodes} >= {"initial-radiograph", "metabolic-cause"}


def test_explain_as_fhir_is_a_valid_guidance_response(client: TestClient) -> None:
    body = build_request(PATIENT, "patient-view", date.today())
    for response in (client.post(EXPLAIN + "?format=fhir", json=body),
                     client.post(EXPLAIN, json=body, headers={"Accept": "application/fhir+json"})):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/fhir+json")
        resource = GuidanceResponse.model_validate(response.json())
        assert resource.status == "success"
        outcomes = {p["name"]: p["part"][0]["valueCode"] for p in response.json()["contained"][0]["parameter"]}
        assert outcomes["initial-radiograph"] == "fired"


def test_explain_gives_the_hooks_4xx(client: TestClient) -> None:
    assert client.post("/cds-services/no-such-service/explain", json={}).status_code == 404
    bad = client.post(EXPLAIN, json={"hook": "patient-view"})
    assert bad.status_code == 400 and bad.json()["error"]
    assert client.post(EXPLAIN, content=b"{not json", headers={"content-type": "application/json"}).status_code == 400
    assert client.post(EXPLAIN + "?format=xml", json=build_request(PATIENT, "patient-view", date.today())).status_code == 400
    no_data = build_request(PATIENT, "patient-view", date.today(), with_prefetch=False)
    assert client.post(EXPLAIN, json=no_data).status_code == 412


def test_explain_is_authenticated_like_the_hook(make_client: Callable[..., TestClient], tmp_path: Path) -> None:
    clients = write_clients(tmp_path / "clients.json", [{"iss": EHR_ISS, "jwks": {"keys": [es384_key().public_jwk()]}}])
    client = make_client(auth_mode="required", trusted_clients=clients, public_base_url=BASE_URL)
    body = build_request(PATIENT, "patient-view", date.today())
    assert client.post(EXPLAIN, json=body).status_code == 401
    # A token minted for the hook's own URL is not one for explain (aud is the exact URL called).
    hook_token = mint(es384_key(), claims(PV))
    assert client.post(EXPLAIN, json=body, headers={"Authorization": f"Bearer {hook_token}"}).status_code == 401
    token = mint(es384_key(), claims(EXPLAIN))
    response = client.post(EXPLAIN, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert token not in response.text


def test_openapi_documents_explain_with_its_schema(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/cds-services/{service_id}/explain"]["post"]
    assert operation["security"] == [{"ehrJwt": []}]
    ok = operation["responses"]["200"]["content"]
    assert ok["application/json"]["schema"]["$ref"].endswith("/Explanation")
    assert "application/fhir+json" in ok
    assert {"400", "401", "404", "412"} <= set(operation["responses"])
    schemas = document["components"]["schemas"]
    assert "Explanation" in schemas and "NodeExplanation" in schemas
    refs = [s["$ref"].rsplit("/", 1)[1] for s in operation["requestBody"]["content"]["application/json"]["schema"]["oneOf"]]
    assert all(ref in schemas for ref in refs) and len(refs) == 3


# --- cds-service evaluate --explain ---------------------------------------------------------------------


def test_cli_explain_prints_readable_text_and_json(monkeypatch, tmp_path: Path, capsys) -> None:
    import json

    from cds_service.cli import main
    from fhir_fixtures.catalog import bundle as fixture_bundle
    from fhir_fixtures.materialize import materialize

    monkeypatch.setenv("CDS_PUBLIC_BASE_URL", "http://testserver")
    monkeypatch.delenv("CDS_PATHWAY_CONFIG", raising=False)
    monkeypatch.setenv("CDS_DATABASE_URL", f"sqlite:///{tmp_path}/never-used.db")
    today = date(2028, 3, 1)
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(materialize(fixture_bundle(PATIENT), today)), encoding="utf-8")
    assert main(["evaluate", "--explain", str(path), "--today", today.isoformat()]) == 0
    text = capsys.readouterr().out
    assert text.startswith("patient-view, evaluated on 2028-03-01")
    assert "+ initial-radiograph (Plain radiograph first): fired" in text
    assert "- [all] metabolic_abnormality: no (no-record)" in text  # every condition, with its reason
    assert main(["evaluate", "--explain", "--json", str(path), "--today", today.isoformat()]) == 0
    explanation = Explanation.model_validate_json(capsys.readouterr().out)
    assert [n.id for n in explanation.nodes if n.outcome == "fired"][0] == "initial-radiograph"
    assert main(["evaluate", "--explain", str(tmp_path / "missing.json")]) == 2
    assert "no such file" in capsys.readouterr().err


# --- CDS_EXPLAIN_LINKS -----------------------------------------------------------------------------------


def test_explain_links_are_off_by_default(client: TestClient) -> None:
    cards = client.post(PV, json=build_request(PATIENT, "patient-view", date.today())).json()["cards"]
    assert cards and not any(link.get("label") == "Why this card?" for c in cards for link in c.get("links", []))


def test_explain_links_lead_to_an_expiring_page_that_names_no_patient(make_client: Callable[..., TestClient],
                                                                     monkeypatch, caplog) -> None:
    import logging
    import re

    caplog.set_level(logging.DEBUG)
    import time as clock

    client = make_client(explain_links=True, explain_links_ttl_seconds=60)
    cards = client.post(PV, json=build_request(PATIENT, "patient-view", date.today())).json()["cards"]
    links = [link for c in cards for link in c.get("links", []) if link["label"] == "Why this card?"]
    assert len(links) == len(cards) and all(link["type"] == "absolute" for link in links)
    url = links[0]["url"]
    assert url.startswith("http://testserver/explain/") and PATIENT not in url
    token = re.match(r"http://testserver/explain/([^#]+)#card-0$", url).group(1)  # type: ignore[union-attr]
    assert len(token) >= 32 and len({link["url"].split("#")[0] for link in links}) == 1
    page = client.get(f"/explain/{token}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    assert "id='card-0'" in page.text and "initial-radiograph" in page.text and "fired" in page.text
    assert client.get("/explain/not-a-token").status_code == 404
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert token not in logged and PATIENT not in logged and "Calcific tendinitis" not in logged
    # Expired after the TTL: the page is gone (time moved on, not a real wait).
    later = clock.monotonic() + 61
    monkeypatch.setattr("cds_service.explain.links.time.monotonic", lambda: later)
    assert client.get(f"/explain/{token}").status_code == 404


def test_the_explanation_cache_is_bounded() -> None:
    from cds_service.explain.links import ExplanationCache

    cache = ExplanationCache(60, max_entries=3)
    explanation = Explanation(service="s", hook="patient-view", evaluated_on="2028-03-01", in_pathway=False,
                              entry=[], nodes=[], cards=[])
    tokens = [cache.put(explanation) for _ in range(5)]
    assert [cache.get(t) is not None for t in tokens] == [False, False, True, True, True]


# --- snoozes: explained as the hook applies them, and read without writing -----------------------------


def _snooze_tables(client: TestClient) -> dict[str, list[tuple]]:
    """Every row of the store's snooze tables (after the background writer has committed what is queued)."""
    from sqlalchemy import select

    from cds_service.store.models import CardEvidence, Snooze, SnoozedCard

    client.app.state.snooze.store.flush()
    with client.app.state.store.engine.connect() as connection:
        return {model.__tablename__: sorted(tuple(row) for row in connection.execute(select(model)).all())
                for model in (CardEvidence, Snooze, SnoozedCard)}


def test_a_snoozed_node_is_explained_as_snoozed_and_explaining_writes_no_snooze_state(client: TestClient) -> None:
    import uuid

    from tests.test_snooze import call, override

    override(client, call(client, PATIENT)["initial-radiograph"])  # the hook's card, overridden with a reason
    before = _snooze_tables(client)
    assert before["snoozes"] and before["card_evidence"]  # the hook call wrote its evidence; the override a snooze

    body = build_request(PATIENT, "patient-view", date.today())
    body["hookInstance"] = str(uuid.uuid4())  # a new chart opening, as the hook call would be
    response = client.post(EXPLAIN, json=body)
    assert response.status_code == 200, response.text
    explanation = Explanation.model_validate(response.json())
    node = next(n for n in explanation.nodes if n.id == "initial-radiograph")
    assert (node.outcome, node.why_code, node.card) == ("not-reached", "snoozed", None)
    assert node.rules[0].fired  # its rule held: the snooze hid the card
    assert "initial-radiograph" not in [n for card in explanation.cards for n in card.nodes]
    assert _snooze_tables(client) == before  # the explanation changed no state

    # The hook itself, on the same body, still records its evidence and the node it snoozed.
    cards = client.post(PV, json=body).json()["cards"]
    assert "initial-radiograph" not in [n for card in cards for n in carried_nodes(card)]
    after = _snooze_tables(client)
    assert len(after["card_evidence"]) > len(before["card_evidence"])
    assert len(after["snoozed_cards"]) == len(before["snoozed_cards"]) + 1
