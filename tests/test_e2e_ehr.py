"""The "as EHRs send it" patients (fhir_fixtures/ehr) end to end, in three modes, against expectations
written from the spec (tests/support/ehr_expectations.py):

- prefetch: every key answered in full, no fhirServer (any FHIR call would fail the test);
- fetch: no prefetch, everything from the real FHIR server, which pages at 20 entries;
- paged: what the CDS Hooks Sandbox sends, the first page of each key (with its `next` link), and the
  fhirServer for the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import unquote

import pytest
import requests
from fhir.resources.R4B import get_fhir_model_class

from cds_service.gathering.fhir_client import FhirClient
from cds_service.services import prefetch_templates
from fhir_fixtures.catalog import HOOKS
from fhir_fixtures.ehr import catalog as ehr
from fhir_fixtures.load import load
from fhir_fixtures.materialize import materialize
from tests.support.e2e_checks import card_of, carried_nodes, check_composition, node_ids
from tests.support.e2e_run import run_request
from tests.support.ehr_expectations import COMPOSED, EXPECTED
from tests.support.facts_terminology import SHARED_TERMINOLOGY, SYSTEM_LABELS, codings, verified_codes
from tests.support.gathering_fhir_server import (  # noqa: F401 (fhir_server: a fixture)
    EHR_BIG_CHARTS as BIG,
    FhirTestServer,
    fhir_server,
    scanning_server_client,
)

TODAY = date(2028, 3, 1)
CASES = [(patient, hook) for patient in ehr.PATIENTS for hook in HOOKS]
JSON = dict[str, Any]


def _nodes(response: JSON) -> dict[str, str]:
    """Every node the response carries (folded ones too) -> its indicator."""
    return carried_nodes(response)


def _check(patient: str, hook: str, response: JSON) -> None:
    assert _nodes(response) == EXPECTED[patient][hook], (patient, hook, node_ids(response))
    problems = check_composition(f"{patient} {hook}", EXPECTED[patient][hook], COMPOSED.get((patient, hook), {}),
                                 response)
    assert not problems, problems
    if not EXPECTED[patient][hook]:
        assert response == {"cards": []} or response.get("cards") == []
    issues = (response.get("extension") or {}).get("org.foot-calcification-cds.data-issues", [])
    assert issues == [], issues  # every record is valid FHIR: nothing is left out
    _details(patient, hook, response)


def _card(response: JSON, node: str) -> JSON:
    return card_of(response, node)


def _created_codes(card: JSON) -> set[str]:
    return {c["code"] for s in card.get("suggestions", []) for a in s.get("actions", []) if a.get("resource")
            for c in a["resource"].get("code", {}).get("coding", [])}


def _details(patient: str, hook: str, response: JSON) -> None:
    """What the table cannot say: the facts behind the cards are as narrow as the record."""
    text = str(response)
    if patient == "ehr-laterality-conflict" and hook == "patient-view":
        assert _created_codes(_card(response, "initial-radiograph")) == {"36305-1"}  # unsided: XR Foot 3 Views
    if patient == "ehr-lower-extremity-draft" and hook != "patient-view":
        assert "possibly of the foot" in _card(response, "initial-radiograph")["detail"]
    if patient == "ehr-mixed-coding":
        assert "IONIZED" not in text and "ionized" not in text
    if patient == "ehr-statuses":
        for left_out in ("xr-wrong", "ca-cancelled", "creat-error", "pth-absent"):
            assert f"ehr-statuses-{left_out}" not in text, left_out
    if patient == "ehr-big-dialysis" and hook == "patient-view":
        detail = _card(response, "metabolic-cause")["detail"]
        assert "Phosphate 6.8 mg/dL" in detail and "PTH 450 pg/mL" in detail  # the latest results
    if patient == "ehr-big-history":
        assert "ehr-big-history-foot-xr-old" not in text  # older than imaging_history_days


@pytest.mark.parametrize(("patient", "hook"), CASES, ids=[f"{p}-{h}" for p, h in CASES])
def test_prefetch_mode(patient: str, hook: str) -> None:
    _check(patient, hook, run_request(ehr.build_request(patient, hook, TODAY), TODAY))


def _load(server: FhirTestServer, patients: tuple[str, ...]) -> None:
    with requests.Session() as session:
        report = load(server.base_url, today=TODAY, patients=patients, bundle_of=ehr.bundle, session=session)
    assert report.patients == len(patients)


@pytest.fixture(scope="module")
def servers(fhir_server: FhirTestServer) -> Iterator[dict[str, FhirTestServer]]:  # noqa: F811
    """The small patients on the session server; the big charts on a server of their own (the in-memory
    engine scans every resource of a type on each search, so they would slow every other search)."""
    import shutil

    from tests.support.gathering_fhir_server import running_fhir_server

    fhir_server.reset()
    _load(fhir_server, tuple(p for p in ehr.PATIENTS if p not in BIG))
    node = shutil.which("node")
    assert node is not None  # the session server needed it too
    with running_fhir_server(node) as big:
        _load(big, BIG)
        yield {patient: big if patient in BIG else fhir_server for patient in ehr.PATIENTS}
    fhir_server.reset()


@pytest.fixture(scope="module")
def client() -> Iterator[FhirClient]:
    with scanning_server_client() as fhir:
        yield fhir


@pytest.mark.fhir_server
@pytest.mark.parametrize(("patient", "hook"), CASES, ids=[f"{p}-{h}" for p, h in CASES])
def test_fetch_mode_against_a_paging_server(servers: dict[str, FhirTestServer], client: FhirClient, patient: str,
                                             hook: str) -> None:
    loaded = servers[patient]
    loaded.clear_requests()
    body = ehr.build_request(patient, hook, TODAY, with_prefetch=False, fhir_server=loaded.base_url)
    _check(patient, hook, run_request(body, TODAY, fhir_client=client))
    if patient in BIG:
        # Bounded: the windows keep a long history to a few pages per key, whatever the chart's size.
        searches = [r for r in loaded.requests() if r["method"] == "GET"]
        assert len(searches) <= 3 * len(prefetch_templates()), len(searches)


def _first_pages(server: FhirTestServer, patient: str) -> JSON:
    """What the Sandbox sends: each template rendered and run, the first page only (its `next` link kept)."""
    prefetch: JSON = {}
    for key, template in prefetch_templates():
        answer = requests.get(f"{server.base_url}/{template.replace('{{context.patientId}}', patient)}", timeout=30)
        prefetch[key] = answer.json() if answer.status_code == 200 else None
    return prefetch


PAGED = [("ehr-big-dialysis", "patient-view"), ("ehr-big-dialysis", "order-sign"), ("ehr-big-history", "patient-view")]


@pytest.mark.fhir_server
@pytest.mark.parametrize(("patient", "hook"), PAGED, ids=[f"{p}-{h}" for p, h in PAGED])
def test_paged_prefetch_as_the_sandbox_sends_it(servers: dict[str, FhirTestServer], client: FhirClient,
                                                 patient: str, hook: str) -> None:
    loaded = servers[patient]
    prefetch = _first_pages(loaded, patient)
    assert any(link["relation"] == "next" for value in prefetch.values() if value
               for link in value.get("link", [])), "the first pages must be partial for this test to mean anything"
    loaded.clear_requests()
    body = ehr.build_request(patient, hook, TODAY, with_prefetch=False, fhir_server=loaded.base_url)
    body["prefetch"] = prefetch
    _check(patient, hook, run_request(body, TODAY, fhir_client=client))
    followed = [r for r in loaded.requests() if r["method"] == "GET"]
    assert followed, "the first pages are partial: something must be fetched"
    for request in followed:
        # The EHR's open-ended pages are followed only for keys read whatever their age (Conditions, active
        # orders); a dated key is completed by its windowed query (not when its first page is already older
        # than its window) and by its search for records without that date (`<param>:missing=true`).
        query = unquote(request["query"])
        assert "=ge" in query or ":missing=true" in query or request["path"] in ("/Condition", "/ServiceRequest"), request


def test_the_set_has_big_charts_and_valid_records() -> None:
    for patient in BIG:
        assert len(ehr.resources(patient)) >= 700, patient
    for patient in ehr.PATIENTS:
        record = materialize(ehr.resources(patient), TODAY)
        orders = materialize(ehr.drafts(patient), TODAY)
        for resource in [*record, *(r for hook in orders.values() for r in hook["draftOrders"])]:
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)
            assert resource["id"].startswith(patient)


@pytest.mark.skipif(not SHARED_TERMINOLOGY.exists(), reason="../shared/reference/terminology.md is not beside the checkout")
def test_clinical_codes_are_verified_and_the_rest_are_the_hospital_s_own() -> None:
    from tests.test_valuesets_terminology import VERIFIED_ELSEWHERE

    verified = verified_codes()
    structural = ("http://terminology.hl7.org/CodeSystem/", "http://hospital.example.org/", "http://unitsofmeasure.org")
    for patient in ehr.PATIENTS:
        for coding in codings([*ehr.resources(patient), ehr.drafts(patient)]):
            system, code = coding["system"], coding["code"]
            if system.startswith(structural):
                continue
            assert (SYSTEM_LABELS[system], code) in verified or (system, code) in VERIFIED_ELSEWHERE, (patient, code)
