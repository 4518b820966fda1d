"""Issue 16, fetch mode = prefetch mode, against the real in-memory FHIR server (Medplum's router), paged.

Records the service's own date-windowed searches cannot match (an Observation or report dated only by
`issued`, an ImagingStudy dated only in its series, a Procedure without performed[x], an order without
authoredOn) are fetched by the second, `<param>:missing=true`, search of their key, so a test already done
is not suggested again. The same patient sent with full prefetch (the EHR's templates have no date) and
fetched from the server gives the same cards.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from urllib.parse import unquote

import pytest

from cds_service.gathering.fhir_client import FhirClient
from cds_service.gathering.gather import gather
from cds_service.protocol.parse import parse_hook_request
from cds_service.services import prefetch_templates
from cds_service.tools.bundle_search import search
from tests.support.e2e_run import run_request
from tests.support.gathering_fhir_server import FhirTestServer, fhir_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.fhir_server

TODAY = date(2026, 11, 21)
PATIENT = "pt-undated-1"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
PAGE_SIZE = 5  # every key of this patient answers over several pages, the undated searches too
HOOK_INSTANCE = "6a1f7c0e-5b2d-4c3e-8f9a-1d2e3f4a5b6c"


def _ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


def _subject() -> dict[str, str]:
    return {"reference": f"Patient/{PATIENT}"}


def _lab(id: str, code: str, value: float, unit: str, *, issued_days: int) -> dict[str, Any]:
    """A result dated only by `issued` (no effective[x]), as many lab feeds send them."""
    return {
        "resourceType": "Observation", "id": id, "status": "final", "subject": _subject(),
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory"}]}],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "issued": f"{_ago(issued_days)}T08:30:00Z",
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }


def patient_resources() -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": PATIENT, "gender": "female", "birthDate": "1961-04-02"},
        {
            "resourceType": "Condition", "id": "calc", "subject": _subject(),
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M65.271",
                                 "display": "Calcific tendinitis, right ankle and foot"}]},
            "onsetDateTime": _ago(30),
        },
        # CKD: the metabolic work-up applies (calcium, phosphate, PTH, renal function).
        {
            "resourceType": "Condition", "id": "ckd", "subject": _subject(),
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "code": {"coding": [{"system": SNOMED, "code": "431857002", "display": "Chronic kidney disease stage 4"}]},
            "onsetDateTime": _ago(400),
        },
        # The radiograph: dated only in its series (no ImagingStudy.started).
        {
            "resourceType": "ImagingStudy", "id": "xr-series", "status": "available", "subject": _subject(),
            "modality": [{"system": DCM, "code": "DX"}],
            "description": "XR RIGHT FOOT 3 VIEWS",
            "series": [
                {"uid": "1.2.840.1.1", "modality": {"system": DCM, "code": "DX"}, "started": f"{_ago(12)}T09:05:00Z",
                 "bodySite": {"system": SNOMED, "code": "56459004", "display": "Foot structure"}},
                {"uid": "1.2.840.1.2", "modality": {"system": DCM, "code": "DX"}, "started": f"{_ago(12)}T09:01:00Z"},
            ],
        },
        # An earlier film known only from its completed order, long before the episode.
        {
            "resourceType": "ServiceRequest", "id": "xr-order-done", "status": "completed", "intent": "order",
            "subject": _subject(), "code": {"coding": [{"system": LOINC, "code": "36305-1", "display": "XR Foot 3 Views"}]},
        },
        # The metabolic labs, dated only by `issued`: done, not to be suggested again.
        _lab("ca", "17861-6", 9.4, "mg/dL", issued_days=8),
        _lab("phos", "2777-1", 3.5, "mg/dL", issued_days=8),
    ]
    # Older issued-only results of the same tests (still inside the lab lookback), enough for several pages.
    resources += [_lab(f"ca-{n}", "17861-6", 9.0 + n / 100, "mg/dL", issued_days=20 + n) for n in range(12)]
    return resources


@pytest.fixture(scope="module")
def loaded(fhir_server: FhirTestServer) -> Iterator[FhirTestServer]:  # noqa: F811
    fhir_server.reset()
    fhir_server.load(patient_resources())
    with fhir_server.page_size(PAGE_SIZE):
        yield fhir_server
    fhir_server.reset()


@pytest.fixture(scope="module")
def client() -> Iterator[FhirClient]:
    fhir = FhirClient(connect_timeout=5, read_timeout=30, max_pages=10, max_parallel=8)
    yield fhir
    fhir.close()


def _request(base_url: str | None, prefetch: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": HOOK_INSTANCE,
        "context": {"userId": "Practitioner/doc-1", "patientId": PATIENT},
    }
    if base_url is not None:
        body["fhirServer"] = base_url
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def _full_prefetch() -> dict[str, Any]:
    """What an EHR sends for the discovery templates (no date in them): every record of the query."""
    resources = patient_resources()
    return {
        key: search(template.replace("{{context.patientId}}", PATIENT), resources, PATIENT)
        for key, template in prefetch_templates()
    }


def _without_uuids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_uuids(v) for k, v in value.items() if k != "uuid"}
    if isinstance(value, list):
        return [_without_uuids(v) for v in value]
    return value


def _created_codes(response: dict[str, Any]) -> set[str]:
    return {
        coding.get("code")
        for card in response.get("cards", [])
        for suggestion in card.get("suggestions", [])
        for action in suggestion.get("actions", [])
        if action.get("type") == "create"
        for coding in ((action.get("resource") or {}).get("code") or {}).get("coding", [])
    }


def test_the_undated_records_are_fetched_over_their_pages(loaded: FhirTestServer, client: FhirClient) -> None:
    loaded.clear_requests()
    request, context = parse_hook_request(_request(loaded.base_url, None), "patient-view")
    record = asyncio.run(gather(request, context, client, today=TODAY))
    ids = {f"{t}/{r['id']}" for t, rs in record.resources.items() for r in rs}
    assert {"ImagingStudy/xr-series", "ServiceRequest/xr-order-done", "Observation/ca", "Observation/phos"} <= ids
    assert {f"Observation/ca-{n}" for n in range(12)} <= ids
    queries = [unquote(entry["query"]) for entry in loaded.requests() if entry["method"] == "GET"]
    assert any("started:missing=true" in q for q in queries)
    assert any("date:missing=true" in q and "_offset=" in q for q in queries), "an undated search was paged"
    assert record.issues == []


def test_fetch_mode_gives_the_cards_of_prefetch_mode(loaded: FhirTestServer, client: FhirClient) -> None:
    prefetched = run_request(_request(None, _full_prefetch()), TODAY)
    fetched = run_request(_request(loaded.base_url, None), TODAY, client)
    assert prefetched["cards"], "the patient is on the pathway"
    assert _without_uuids(fetched) == _without_uuids(prefetched)


def test_a_test_already_done_is_not_suggested_again_in_fetch_mode(loaded: FhirTestServer, client: FhirClient) -> None:
    fetched = run_request(_request(loaded.base_url, None), TODAY, client)
    created = _created_codes(fetched)
    # Calcium and phosphate, done 8 days ago, are not ordered again; PTH and renal function, never done, are.
    assert not created & {"17861-6", "2000-8", "2777-1"}
    assert {"2731-8", "2160-0"} <= created
    # No first radiograph: the film of 12 days ago counts, and its series date sets the repeat window.
    topics = [((card.get("source") or {}).get("topic") or {}).get("code") for card in fetched["cards"]]
    assert "initial-radiograph" not in topics
    assert any(f"(last: {_ago(12)})" in card["detail"] for card in fetched["cards"])


def test_a_server_without_missing_support_still_answers_and_says_so(loaded: FhirTestServer) -> None:
    """A FHIR server that refuses `:missing` (400) costs the undated records, said in a data issue; the
    windowed searches still answer and the call is not a 412."""
    from tests.support.gathering_stub_server import Answer, stub_fhir_server

    resources = patient_resources()

    def answer(path: str, base: str) -> Answer:
        if ":missing=" in path:
            return Answer(status=400, body={"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "not-supported", "diagnostics": "unknown modifier"}]})
        query = path.split("/fhir/", 1)[1]
        found = search(query.split("&date=ge")[0].split("&started=ge")[0].split("&authored=ge")[0], resources, PATIENT)
        return Answer(body=copy.deepcopy(found) if found is not None else {"resourceType": "Bundle", "type": "searchset"})

    with stub_fhir_server(answer) as stub:
        fhir = FhirClient(connect_timeout=5, read_timeout=30)
        try:
            request, context = parse_hook_request(_request(stub.base_url, None), "patient-view")
            record = asyncio.run(gather(request, context, fhir, today=TODAY))
        finally:
            fhir.close()
    undated = [issue for issue in record.issues if issue.where.endswith("+undated")]
    assert undated and all("may be missing" in issue.problem for issue in undated)
    assert record.patient is not None
