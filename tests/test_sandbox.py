"""The sandbox page's server side: on/off by setting, its API (fixture, Bundle, request, FHIR server), the
rendered card detail, and feedback on its cards through the real endpoint. The page itself is tested in a
real browser (test_sandbox_browser.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cds_service.sandbox.markdown import render_markdown
from fhir_fixtures.catalog import PATIENTS
from fhir_fixtures.catalog import bundle as fixture_bundle
from fhir_fixtures.hook_requests import build_request
from tests.support.auth_tokens import EHR_ISS, es384_key, write_clients
from tests.support.e2e_checks import carried
from tests.support.gathering_fhir_server import FhirTestServer, fhir_server, fixtures_loaded  # noqa: F401 (fixture)

RUN = "/sandbox/api/run"
TODAY = date(2026, 11, 21)
FIXTURE_PATIENTS = "fhir_fixtures.sandbox:PATIENTS"  # what `make serve` offers (CDS_SANDBOX_PATIENTS)


@pytest.fixture
def make_client(make_client: Callable[..., TestClient]) -> Callable[..., TestClient]:
    """conftest's app, its sandbox given the fixture patients as `make serve` gives them."""
    return lambda **overrides: make_client(**{"sandbox_patients": FIXTURE_PATIENTS, **overrides})


def required(tmp_path: Path) -> dict[str, Any]:
    clients = write_clients(tmp_path / "clients.json", [{"iss": EHR_ISS, "jwks": {"keys": [es384_key().public_jwk()]}}])
    return {"auth_mode": "required", "trusted_clients": clients}


def nodes(run: dict[str, Any]) -> list[str]:
    """The nodes of the response in card order, each card's own first, then those folded into it."""
    return [node for card in run["response"]["cards"] for node in carried(card)]


def test_on_by_default_in_development_off_when_auth_is_required(tmp_path: Path, make_client: Callable[..., TestClient]) -> None:
    page = make_client().get("/sandbox")
    assert page.status_code == 200 and "<h1>Sandbox</h1>" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'; script-src 'self'")
    assert make_client(**required(tmp_path)).get("/sandbox").status_code == 404
    assert make_client(**required(tmp_path)).post(RUN, json={"source": "fixture"}).status_code == 404
    assert make_client(**required(tmp_path), sandbox_enabled=True).get("/sandbox").status_code == 200
    assert make_client(sandbox_enabled=False).get("/sandbox").status_code == 404


def test_without_ready_made_patients_the_other_sources_still_work(make_client: Callable[..., TestClient]) -> None:
    # The service is not given the fixture patients (CDS_SANDBOX_PATIENTS unset): it lists none and says why.
    client = make_client(sandbox_patients=None)
    assert client.get("/sandbox/api/fixtures").json() == {"fixtures": []}
    refused = client.post(RUN, json={"source": "fixture", "fixture": "fc-outside"})
    assert refused.status_code == 400
    assert refused.json()["issues"] == [{"field": "fixture",
                                         "problem": "this service has no ready-made patients (CDS_SANDBOX_PATIENTS is unset)"}]
    pasted = client.post(RUN, json={"source": "bundle", "bundle": fixture_bundle("fc-diabetic-ulcer"),
                                    "today": TODAY.isoformat()})
    assert pasted.status_code == 200 and pasted.json()["status"] == 200 and pasted.json()["response"]["cards"]


def test_the_page_loads_nothing_from_elsewhere(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    page = client.get("/sandbox").text
    assert 'src="/sandbox/static/sandbox.js"' in page and 'href="/sandbox/static/sandbox.css"' in page
    assert "http://" not in page.replace("http://127.0.0.1:8103/fhir", "") and "https://" not in page
    script = client.get("/sandbox/static/sandbox.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "https://" not in script.text and "http://" not in script.text
    assert client.get("/sandbox/static/sandbox.css").status_code == 200
    assert client.get("/sandbox/static/../settings.py").status_code == 404
    assert client.get("/sandbox/static/sandbox.html").status_code == 404


def test_fixtures_list_every_patient_with_story_and_drafts(make_client: Callable[..., TestClient]) -> None:
    fixtures = make_client().get("/sandbox/api/fixtures").json()["fixtures"]
    assert [f["id"] for f in fixtures] == list(PATIENTS)
    ckd = next(f for f in fixtures if f["id"] == "fc-ckd-metastatic")
    assert "CKD stage 4" in ckd["story"]
    assert [d["reference"] for d in ckd["drafts"]["order-select"]] == ["ServiceRequest/fc-ckd-metastatic-draft-calcium"]
    assert all(d["selected"] for d in ckd["drafts"]["order-sign"])


def test_a_fixture_run_is_the_hook_call_on_the_chosen_day(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    run = client.post(RUN, json={"source": "fixture", "fixture": "fc-mass-undetermined", "today": TODAY.isoformat()}).json()
    assert run["serviceId"] == "foot-calcification-patient-view" and run["status"] == 200
    assert nodes(run) == ["advanced-imaging", "metabolic-workup", "differential-diagnosis", "conservative-care",
                          "repeat-radiograph"]
    repeat = next(c for c in run["response"]["cards"] if c["source"]["topic"]["code"] == "repeat-radiograph")
    assert repeat["summary"] == "Repeat the foot radiograph between 2026-11-25 and 2026-12-09"  # README, that day
    assert run["request"]["context"]["patientId"] == "fc-mass-undetermined" and run["request"]["prefetch"]
    # Detail rendered from markdown on the server.
    html = run["detailHtml"][repeat["uuid"]]
    assert html.startswith("<p>") and "<strong>" in html and "**" not in html
    # The cards were recorded: feedback on them is accepted by the real endpoint.
    card = run["response"]["cards"][0]
    reason = {"system": "http://testserver/override-reason", "code": "other", "display": "Other reason"}
    feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden",
                              "outcomeTimestamp": datetime.now(timezone.utc).isoformat(),
                              "overrideReason": {"reason": reason}}]}
    answer = client.post(f"/cds-services/{run['serviceId']}/feedback", json=feedback)
    assert answer.status_code == 200 and answer.json() == {"stored": 1, "new": 1}


def test_order_hooks_use_the_fixtures_drafts_or_the_chosen_selection(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    select = client.post(RUN, json={"source": "fixture", "fixture": "fc-ckd-metastatic", "hook": "order-select",
                                    "today": TODAY.isoformat()}).json()
    assert select["serviceId"] == "foot-calcification-order-select"
    assert nodes(select) == ["metabolic-workup"] and "Duplicate lab" in select["response"]["cards"][0]["summary"]
    sign = client.post(RUN, json={"source": "fixture", "fixture": "fc-diabetic-ulcer", "hook": "order-sign",
                                  "today": TODAY.isoformat()}).json()
    assert nodes(sign) == ["osteomyelitis-rule-out", "repeat-radiograph"]
    none = client.post(RUN, json={"source": "fixture", "fixture": "fc-diabetic-ulcer", "hook": "order-sign",
                                  "today": TODAY.isoformat(), "drafts": []})
    assert none.status_code == 400
    assert none.json()["issues"] == [{"field": "fixture", "problem": "order-sign needs draft orders: none were given "
                                      "and the record has no draft ServiceRequest"}]


def test_a_pasted_bundle_and_a_pasted_request(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    from_bundle = client.post(RUN, json={"source": "bundle", "bundle": fixture_bundle("fc-diabetic-ulcer"),
                                         "today": TODAY.isoformat()}).json()
    request = build_request("fc-diabetic-ulcer", "patient-view")  # date tokens kept: the sandbox renders them
    from_request = client.post(RUN, json={"source": "request", "request": request, "today": TODAY.isoformat()}).json()
    assert nodes(from_bundle) == nodes(from_request) == [
        "osteomyelitis-rule-out", "differential-diagnosis", "repeat-radiograph"]
    assert from_request["request"]["hookInstance"] == request["hookInstance"]


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        ({"source": "fixture", "fixture": "nobody"}, "fixture", "is not one of the bundled fixture patients"),
        ({"source": "bundle"}, "bundle", "is required"),
        ({"source": "bundle", "bundle": {"resourceType": "Bundle", "type": "batch"}}, "bundle", "is a Bundle of type 'batch'"),
        ({"source": "request"}, "request", "is required"),
        ({"source": "request", "request": {"hook": "appointment-book"}}, "request.hook", "must be one of"),
        ({"source": "fhir-server", "patientId": "p"}, "fhirServer", "is required with a FHIR server"),
        ({"source": "fhir-server", "fhirServer": "ftp://x", "patientId": "p"}, "fhir-server", "must be an http"),
        ({"source": "teleport"}, "source", "Input should be"),
        ({"source": "fixture", "fixture": "fc-outside", "today": "yesterday"}, "today", "Input should be a valid date"),
        ({"source": "fixture", "fixture": "fc-outside", "extra": 1}, "extra", "is not allowed"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(make_client: Callable[..., TestClient], body: dict, field: str, problem: str) -> None:
    response = make_client().post(RUN, json=body)
    assert response.status_code == 400
    issue = response.json()["issues"][0]
    assert issue["field"] == field and problem in issue["problem"], issue


def test_a_request_the_service_refuses_is_shown_with_its_status(make_client: Callable[..., TestClient]) -> None:
    run = make_client().post(RUN, json={"source": "request", "request": {"hook": "patient-view", "context": {}}}).json()
    assert run["status"] == 400 and run["response"]["error"] == "invalid_request" and run["detailHtml"] == {}


def test_markdown_is_rendered_without_raw_html_or_script_links() -> None:
    html = render_markdown("**bold** <img src=x onerror=alert(1)> [link](javascript:alert(1))\n\n| a |\n|---|\n| 1 |\n")
    assert "<strong>bold</strong>" in html and "<table>" in html
    assert "<img" not in html and "&lt;img" in html
    assert 'href="javascript' not in html


@pytest.fixture(scope="module")
def loaded(fhir_server: FhirTestServer) -> Iterator[FhirTestServer]:  # noqa: F811
    with fixtures_loaded(fhir_server, TODAY):
        yield fhir_server


@pytest.mark.fhir_server
def test_from_a_fhir_server(loaded: FhirTestServer, make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    run = client.post(RUN, json={"source": "fhir-server", "fhirServer": loaded.base_url,
                                 "patientId": "fc-ckd-metastatic", "today": TODAY.isoformat()}).json()
    fixture = client.post(RUN, json={"source": "fixture", "fixture": "fc-ckd-metastatic", "today": TODAY.isoformat()}).json()
    assert run["status"] == 200 and "prefetch" not in run["request"]
    assert nodes(run) == nodes(fixture) == ["metabolic-cause", "differential-diagnosis", "conservative-care", "repeat-radiograph"]
