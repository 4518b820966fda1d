"""gather() and the hook endpoint against the real in-memory FHIR server (tests/fhir_server)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests

from cds_service.errors import DataUnavailable
from cds_service.gathering.fhir_client import FhirClient
from cds_service.gathering.gather import gather
from cds_service.protocol.parse import parse_hook_request
from cds_service.services import prefetch_keys, prefetch_templates
from tests.support.gathering_data import TODAY, PatientData, bulk_patient, foot_patient
from tests.support.gathering_fhir_server import FhirTestServer, fhir_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.fhir_server

TOKEN = "tok-gathering-3f9a1c"
HOOK_INSTANCE = "2f0b1d7e-3c4a-4b8e-9f61-0a5c2e7d9b14"
PV = "/cds-services/foot-calcification-patient-view"
KEYS = [key for key, _ in prefetch_templates()]
WINDOWED = {spec.key for spec in prefetch_keys() if spec.window is not None}
# The searches of a fetch: one per key, and `<date>:missing=true` for each windowed key.
QUERIES = len(KEYS) + len(WINDOWED)


@pytest.fixture
def server(fhir_server: FhirTestServer) -> Iterator[FhirTestServer]:  # noqa: F811
    fhir_server.reset()
    yield fhir_server
    fhir_server.reset()


@pytest.fixture
def client() -> Iterator[FhirClient]:
    fhir = FhirClient(connect_timeout=5, read_timeout=15, max_pages=10, max_parallel=4)
    yield fhir
    fhir.close()


def _request(server: FhirTestServer, patient_id: str, prefetch: dict[str, Any] | None = None,
             token: str | None = TOKEN) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": HOOK_INSTANCE,
        "fhirServer": server.base_url,
        "context": {"userId": "Practitioner/doc-7", "patientId": patient_id},
    }
    if token is not None:
        body["fhirAuthorization"] = {"access_token": token, "token_type": "Bearer", "expires_in": 300,
                                     "scope": "user/*.read", "subject": "cds-service"}
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def _gather(body: dict[str, Any], client: FhirClient):
    request, context = parse_hook_request(body, body["hook"])
    return asyncio.run(gather(request, context, client, today=TODAY))


def _ids(record, resource_type: str) -> set[str]:
    return {resource["id"] for resource in record.of_type(resource_type)}


def _assert_matches(record, data: PatientData) -> None:
    assert record.patient is not None and record.patient["id"] == data.patient_id
    for resource_type, ids in data.expected.items():
        assert _ids(record, resource_type) == ids, resource_type
    returned = {f"{t}/{r['id']}" for t, rs in record.resources.items() for r in rs}
    assert not returned & data.decoys


def _search_paths(server: FhirTestServer) -> list[str]:
    return [entry["path"] for entry in server.requests() if entry["method"] == "GET"]


def test_no_prefetch_fetches_every_key_with_the_right_resources(server, client):
    data = foot_patient()
    server.load(data.resources)
    server.clear_requests()

    record = _gather(_request(server, data.patient_id), client)

    _assert_matches(record, data)
    assert record.issues == []
    seen = server.requests()
    # One request per key, two for a windowed key: the templates' own paths, each with the token and FHIR
    # JSON accepted.
    assert len(seen) == QUERIES
    expected_paths = sorted("/" + template.split("?")[0].replace("{{context.patientId}}", data.patient_id)
                            for key, template in prefetch_templates() for _ in range(1 + (key in WINDOWED)))
    assert sorted(entry["path"] for entry in seen) == expected_paths
    assert all(entry["authorization"] == f"Bearer {TOKEN}" for entry in seen)
    assert all(entry["accept"].startswith("application/fhir+json") for entry in seen)


def test_searches_carry_the_rendered_patient_codes_and_windows(server, client):
    data = foot_patient(patient_id="pt-gather-codes")
    server.load(data.resources)
    server.clear_requests()
    _gather(_request(server, data.patient_id), client)
    queries = [parse_qs(entry["query"]) for entry in server.requests() if entry["query"]]
    assert queries and all(q["patient"] == [data.patient_id] for q in queries)
    lab_codes = {code for q in queries for value in q.get("code", []) for code in value.split(",")}
    assert "http://loinc.org|17861-6" in lab_codes
    # Each windowed key runs twice, in parallel (so in either order): its window, and date:missing=true.
    by_category = {q["category"][0]: q for q in queries if "category" in q and "date" in q}
    assert by_category["laboratory"]["date"] == ["ge2026-08-23"]  # TODAY - 90 days
    assert any(q.get("date:missing") == ["true"] for q in queries if q.get("category") == ["laboratory"])
    assert by_category["laboratory"]["_sort"] == ["-date"]


def test_without_fhir_authorization_no_authorization_header_is_sent(server, client):
    data = foot_patient()
    server.load(data.resources)
    server.clear_requests()
    _gather(_request(server, data.patient_id, token=None), client)
    assert server.requests() and all(entry["authorization"] is None for entry in server.requests())


def test_partial_prefetch_fetches_only_the_missing_keys(server, client):
    data = foot_patient()
    server.load(data.resources)
    server.clear_requests()
    given_key, null_key, *missing_keys = [key for key in KEYS if key != "patient"]
    given_condition = {"resourceType": "Condition", "id": "cond-from-prefetch",
                       "subject": {"reference": f"Patient/{data.patient_id}"}, "code": {"text": "given"}}
    prefetch = {
        "patient": {"resourceType": "Patient", "id": data.patient_id},
        given_key: {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": given_condition}]},
        null_key: None,
        "another-services-key": {"resourceType": "Bundle", "type": "searchset",
                                 "entry": [{"resource": {"resourceType": "CarePlan", "id": "cp-1"}}]},
    }

    record = _gather(_request(server, data.patient_id, prefetch), client)

    fetched = server.requests()
    assert len(fetched) == len(missing_keys) + len(WINDOWED & set(missing_keys))
    templates = dict(prefetch_templates())
    assert sorted(entry["path"] for entry in fetched) == sorted(
        "/" + templates[key].split("?")[0] for key in missing_keys for _ in range(1 + (key in WINDOWED))
    )
    assert "cond-from-prefetch" in _ids(record, "Condition")
    assert record.of_type("CarePlan") == []  # a key we did not ask for is ignored
    assert record.patient == {"resourceType": "Patient", "id": data.patient_id}


def test_operation_outcome_prefetch_is_fetched_instead(server, client):
    data = foot_patient()
    server.load(data.resources)
    prefetch: dict[str, Any] = {key: None for key in KEYS}
    prefetch["patient"] = {"resourceType": "OperationOutcome",
                           "issue": [{"severity": "error", "code": "forbidden"}]}
    server.clear_requests()
    record = _gather(_request(server, data.patient_id, prefetch), client)
    assert [entry["path"] for entry in server.requests()] == [f"/Patient/{data.patient_id}"]
    assert record.patient is not None and record.patient["id"] == data.patient_id


def test_pages_are_followed(server, client):
    data = bulk_patient(per_type=10)
    server.load(data.resources)
    server.clear_requests()
    with server.page_size(3):
        record = _gather(_request(server, data.patient_id), client)
    _assert_matches(record, data)
    searches = [entry for entry in server.requests() if entry["query"]]
    assert any("_offset=" in entry["query"] for entry in searches)
    assert all(entry["authorization"] == f"Bearer {TOKEN}" for entry in server.requests())


def test_a_paged_prefetch_bundle_is_continued_from_the_server(server, client):
    data = bulk_patient(per_type=10)
    server.load(data.resources)
    key = "conditions"
    query = dict(prefetch_templates())[key].replace("{{context.patientId}}", data.patient_id)
    with server.page_size(3):
        page_1 = requests.get(f"{server.base_url}/{query}", timeout=10).json()
        assert any(link["relation"] == "next" for link in page_1["link"])
        prefetch: dict[str, Any] = {k: None for k in KEYS}
        prefetch["patient"] = {"resourceType": "Patient", "id": data.patient_id}
        prefetch[key] = page_1
        server.clear_requests()
        record = _gather(_request(server, data.patient_id, prefetch), client)
    fetched = server.requests()
    assert fetched and all("_offset=" in entry["query"] for entry in fetched)  # page 1 was not fetched again
    everything = requests.get(f"{server.base_url}/{query}&_count=1000", timeout=10).json()
    expected = {entry["resource"]["id"] for entry in everything["entry"]}
    assert len(expected) > 3 and _ids(record, "Condition") == expected


def test_more_pages_than_allowed_is_412_naming_the_key(server):
    data = bulk_patient(per_type=10)
    server.load(data.resources)
    fhir = FhirClient(connect_timeout=5, read_timeout=15, max_pages=2, max_parallel=4)
    try:
        with server.page_size(3), pytest.raises(DataUnavailable) as raised:
            _gather(_request(server, data.patient_id), fhir)
    finally:
        fhir.close()
    missing = raised.value.extra["missing"]
    assert "conditions" in missing and missing["conditions"] == "FHIR server answered more than 2 pages"
    assert "patient" not in missing


def test_unknown_patient_is_no_data_not_412(server, client):
    record = _gather(_request(server, "pt-nobody"), client)
    assert record.patient is None
    assert record.resources == {}


def test_patient_view_over_http_answers_200(server, make_client):
    data = foot_patient(patient_id="pt-gather-http")
    server.load(data.resources)
    server.clear_requests()
    response = make_client().post(PV, json=_request(server, data.patient_id))
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body.get("cards"), list)
    assert all(isinstance(card, dict) and "summary" in card for card in body["cards"])
    assert len(server.requests()) == QUERIES
    # Suggestions may name the patient (ServiceRequest.subject); the token never appears.
    assert TOKEN not in response.text


def test_concurrent_calls_for_different_patients_do_not_mix(server, client):
    patients = [foot_patient(patient_id=f"pt-gather-c{i}", other_patient_id="pt-gather-none") for i in range(3)]
    for data in patients:
        # Same resource ids per patient would overwrite each other: prefix them.
        for resource in data.resources:
            if resource["resourceType"] != "Patient":
                resource["id"] = f"{data.patient_id}-{resource['id']}"
        data.expected = {t: {f"{data.patient_id}-{i}" for i in ids} for t, ids in data.expected.items()}
        data.decoys = {f"{d.split('/')[0]}/{data.patient_id}-{d.split('/')[1]}" for d in data.decoys}
        server.load(data.resources)
    with ThreadPoolExecutor(3) as callers:
        records = list(callers.map(lambda d: _gather(_request(server, d.patient_id), client), patients * 2))
    for data, record in zip(patients * 2, records, strict=True):
        _assert_matches(record, data)
