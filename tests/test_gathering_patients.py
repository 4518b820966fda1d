"""Only the context patient's data is used, however a resource spells (or fails to spell) whose it is."""

from __future__ import annotations

import asyncio
import copy
from datetime import date
from typing import Any

import pytest

from cds_service.errors import DataUnavailable
from cds_service.gathering.fhir_client import FhirClient
from cds_service.gathering.gather import gather
from cds_service.gathering.merge import NOT_THIS_PATIENT, RecordBuilder, belongs_to_patient
from cds_service.guideline.config import load_pathway_config
from cds_service.invocation import Invocation
from cds_service.protocol.parse import parse_hook_request
from cds_service.services import prefetch_templates
from fhir_fixtures.hook_requests import build_request
from tests.support.e2e_run import BASE_URL, SERVICE_BY_HOOK, RecordedCards, run_invoke
from tests.support.gathering_stub_server import Answer, stub_fhir_server

PATIENT_ID = "pt-own-5"
SERVER = "https://ehr.example.org/fhir"
TODAY = date(2026, 11, 21)
KEYS = sorted(key for key, _ in prefetch_templates())

THIS_PATIENT = {
    "relative": {"reference": f"Patient/{PATIENT_ID}"},
    "relative, typed": {"reference": f"Patient/{PATIENT_ID}", "type": "Patient", "display": "Doe"},
    "versioned": {"reference": f"Patient/{PATIENT_ID}/_history/3"},
    "absolute on fhirServer": {"reference": f"{SERVER}/Patient/{PATIENT_ID}"},
    "absolute, host in capitals": {"reference": f"https://EHR.example.org/fhir/Patient/{PATIENT_ID}"},
}
NOT_THIS_PATIENT_REFS: dict[str, Any] = {
    "another patient": {"reference": "Patient/someone-else"},
    "an id that only starts alike": {"reference": f"Patient/{PATIENT_ID}0"},
    "identifier only": {"identifier": {"system": "urn:oid:1.2.3", "value": PATIENT_ID}},
    "display only": {"display": PATIENT_ID},
    "urn:uuid": {"reference": "urn:uuid:0d4e4b3c-8c1b-4e4f-9b7a-2a1c3d4e5f60"},
    "contained": {"reference": "#p1"},
    "lowercase type": {"reference": f"patient/{PATIENT_ID}"},
    "another server": {"reference": f"https://other.example.org/fhir/Patient/{PATIENT_ID}"},
    "same host, another base": {"reference": f"https://ehr.example.org/other/Patient/{PATIENT_ID}"},
    "a search": {"reference": f"Patient?identifier={PATIENT_ID}"},
    "a group": {"reference": f"Group/{PATIENT_ID}"},
    "typed as a group": {"reference": f"Patient/{PATIENT_ID}", "type": "Group"},
    "not an object": f"Patient/{PATIENT_ID}",
    "a list": [{"reference": f"Patient/{PATIENT_ID}"}],
    "no subject": None,
}


@pytest.mark.parametrize("spelling", list(THIS_PATIENT))
def test_the_patient_spelled_as_fhir_spells_it(spelling):
    assert belongs_to_patient(THIS_PATIENT[spelling], PATIENT_ID, SERVER + "/")


@pytest.mark.parametrize("spelling", list(NOT_THIS_PATIENT_REFS))
def test_anything_else_is_not_the_patient(spelling):
    assert not belongs_to_patient(NOT_THIS_PATIENT_REFS[spelling], PATIENT_ID, SERVER)


def test_an_absolute_reference_needs_a_fhir_server_to_compare_with():
    assert not belongs_to_patient(THIS_PATIENT["absolute on fhirServer"], PATIENT_ID, None)


def _with_subject(resource: dict[str, Any], subject: Any) -> dict[str, Any]:
    resource = {k: v for k, v in resource.items() if k not in ("subject", "patient")}
    if subject is not None:
        resource["subject" if resource["resourceType"] != "AllergyIntolerance" else "patient"] = subject
    return resource


def test_the_builder_keeps_only_this_patients_resources_and_lists_the_rest_without_their_reference():
    builder = RecordBuilder(PATIENT_ID, fhir_server=SERVER)
    entries = []
    for index, subject in enumerate([*THIS_PATIENT.values(), *NOT_THIS_PATIENT_REFS.values()]):
        entries.append({"resource": _with_subject({"resourceType": "Observation", "id": f"o{index}"}, subject)})
    entries.append({"resource": {"resourceType": "AllergyIntolerance", "id": "a1",
                                 "patient": {"reference": "Patient/someone-else"}}})
    # Nobody's data: kept, nothing to check.
    entries.append({"resource": {"resourceType": "Practitioner", "id": "doc"}})
    entries.append({"resource": {"resourceType": "Patient", "id": "someone-else"}})
    builder.add_value("prefetch.k", {"resourceType": "Bundle", "type": "searchset", "entry": entries})
    record = builder.build()
    assert [o["id"] for o in record.of_type("Observation")] == [f"o{i}" for i in range(len(THIS_PATIENT))]
    assert record.of_type("AllergyIntolerance") == [] and record.of_type("Patient") == []
    assert [p["id"] for p in record.of_type("Practitioner")] == ["doc"]
    assert len(record.issues) == len(NOT_THIS_PATIENT_REFS) + 2
    text = str([issue.to_json() for issue in record.issues])
    assert "someone-else" not in text and "other.example.org" not in text and "urn:uuid" not in text
    assert all(NOT_THIS_PATIENT in issue.problem for issue in record.issues[:-1])


def _fixture_with_subjects(patient: str, hook: str, subject: Any) -> dict[str, Any]:
    body = build_request(patient, hook, TODAY)
    for value in body["prefetch"].values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            for entry in value.get("entry", []):
                entry["resource"] = _with_subject(entry["resource"], subject)
    return body


def _run(body: dict[str, Any], hook: str) -> dict[str, Any]:
    call = Invocation(SERVICE_BY_HOOK[hook], BASE_URL, FhirClient(), load_pathway_config(), RecordedCards())
    return run_invoke(call, body, today=TODAY)


@pytest.mark.parametrize("spelling", list(NOT_THIS_PATIENT_REFS))
def test_a_chart_of_resources_that_are_not_this_patients_gets_no_cards(spelling):
    """The fixture's patient gets cards; the same chart whose resources name someone else gets none."""
    body = build_request("fc-tendinitis-no-xr", "patient-view", TODAY)
    assert _run(copy.deepcopy(body), "patient-view")["cards"]
    response = _run(_fixture_with_subjects("fc-tendinitis-no-xr", "patient-view", NOT_THIS_PATIENT_REFS[spelling]),
                    "patient-view")
    assert response["cards"] == []
    issues = response["extension"]["org.foot-calcification-cds.data-issues"]
    assert issues and all(NOT_THIS_PATIENT in issue["problem"] for issue in issues)


def _searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def _gather(body: dict[str, Any]):
    request, context = parse_hook_request(body, "patient-view")
    client = FhirClient(connect_timeout=5, read_timeout=5)
    try:
        return asyncio.run(gather(request, context, client))
    finally:
        client.close()


def _request(fhir_server: str) -> dict[str, Any]:
    return {"hook": "patient-view", "hookInstance": "5d2c8f1e-7a3b-4c9d-8e6f-1a2b3c4d5e6f",
            "context": {"userId": "Practitioner/doc-1", "patientId": PATIENT_ID}, "fhirServer": fhir_server}


def test_fetched_resources_are_kept_only_when_they_are_this_patients():
    def spellings(path: str, base: str) -> Answer:
        if path.startswith("/fhir/Patient/"):
            return Answer(body={"resourceType": "Patient", "id": PATIENT_ID})
        resources = [
            _with_subject({"resourceType": "Condition", "id": "mine"}, {"reference": f"Patient/{PATIENT_ID}"}),
            _with_subject({"resourceType": "Condition", "id": "mine-absolute"},
                          {"reference": f"{base}/Patient/{PATIENT_ID}"}),
            *(_with_subject({"resourceType": "Condition", "id": f"not-{i}"}, subject)
              for i, subject in enumerate(NOT_THIS_PATIENT_REFS.values())),
        ]
        return Answer(body=_searchset(*resources))

    with stub_fhir_server(spellings) as stub:
        record = _gather(_request(stub.base_url))
    assert {c["id"] for c in record.of_type("Condition")} == {"mine", "mine-absolute"}
    assert record.patient == {"resourceType": "Patient", "id": PATIENT_ID}


def test_a_patient_read_that_answers_another_patient_fails_the_call():
    def wrong_patient(path: str, base: str) -> Answer:
        if path.startswith("/fhir/Patient/"):
            return Answer(body={"resourceType": "Patient", "id": "someone-else"})
        return Answer()

    with stub_fhir_server(wrong_patient) as stub, pytest.raises(DataUnavailable) as raised:
        _gather(_request(stub.base_url))
    assert raised.value.extra["missing"] == {
        "patient": "FHIR server answer: the Patient read answered another patient than context.patientId"}
    assert "someone-else" not in str(raised.value.body())


def test_a_patient_read_that_answers_another_patient_is_412_over_http(make_client):
    def wrong_patient(path: str, base: str) -> Answer:
        if path.startswith("/fhir/Patient/"):
            return Answer(body={"resourceType": "Patient", "id": "someone-else"})
        return Answer()

    with stub_fhir_server(wrong_patient) as stub:
        response = make_client().post("/cds-services/foot-calcification-patient-view", json=_request(stub.base_url))
    assert response.status_code == 412
    assert list(response.json()["missing"]) == ["patient"]
    assert "someone-else" not in response.text
