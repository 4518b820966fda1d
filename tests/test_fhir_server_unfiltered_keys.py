"""The two prefetch keys not filtered by code, against the real FHIR server: a text-only problem and a
radiology report under a local code each bring the patient into the pathway when fetched, not prefetched."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from tests.support.e2e_checks import carried
from tests.support.gathering_fhir_server import FhirTestServer, fhir_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.fhir_server

PV = "/cds-services/foot-calcification-patient-view"
TODAY = date.today()


@pytest.fixture
def server(fhir_server: FhirTestServer) -> Iterator[FhirTestServer]:  # noqa: F811
    fhir_server.reset()
    yield fhir_server
    fhir_server.reset()


def _call(client, server: FhirTestServer, patient_id: str) -> list[str]:
    body = {
        "hook": "patient-view",
        "hookInstance": "0b7f3a52-93c1-4d0e-8f0a-1d2c3b4a5e6f",
        "fhirServer": server.base_url,
        "context": {"userId": "Practitioner/doc-1", "patientId": patient_id},
    }
    response = client.post(PV, json=body)
    assert response.status_code == 200, response.text
    # every node of the response, folded ones too (pathway/compose.py)
    return [node for card in response.json()["cards"] for node in carried(card)]


def test_a_radiology_report_under_a_local_code_is_read(client, server):
    pid = "pt-local-report"
    server.load([
        {"resourceType": "Patient", "id": pid},
        {
            "resourceType": "DiagnosticReport",
            "id": f"{pid}-rad",
            "status": "final",
            # A local code no value set knows: only the radiology category finds this report.
            "category": [{"coding": [{"system": "http://loinc.org", "code": "LP29684-5", "display": "Radiology"}]}],
            "code": {"coding": [{"system": "http://hospital.example.org/rad-codes", "code": "FOOTXR"}],
                     "text": "Left foot radiograph"},
            "subject": {"reference": f"Patient/{pid}"},
            "effectiveDateTime": (TODAY - timedelta(days=5)).isoformat(),
            "conclusion": "Dystrophic soft tissue calcification of the left foot.",
        },
    ])
    nodes = _call(client, server, pid)
    assert "differential-diagnosis" in nodes, nodes


def test_a_text_only_problem_is_read(client, server):
    pid = "pt-text-problem"
    server.load([
        {"resourceType": "Patient", "id": pid},
        {
            "resourceType": "Condition",
            "id": f"{pid}-calc",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "code": {"text": "Soft tissue calcification of the right heel"},
            "subject": {"reference": f"Patient/{pid}"},
            "onsetDateTime": (TODAY - timedelta(days=10)).isoformat(),
        },
    ])
    nodes = _call(client, server, pid)
    assert "initial-radiograph" in nodes and "differential-diagnosis" in nodes, nodes


def test_without_those_records_the_patient_stays_outside(client, server):
    pid = "pt-nothing"
    server.load([{"resourceType": "Patient", "id": pid}])
    assert _call(client, server, pid) == []
