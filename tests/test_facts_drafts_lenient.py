"""Issue 16: draft orders as the CDS Hooks Sandbox sends them are read, not dropped whole.

A draft whose only problems are in fields the facts step does not read of that type is kept without them,
and a data issue names each field not read; a problem in a field it reads still leaves the draft out. A
ServiceRequest draft (which an update suggestion may return whole) is kept only as sent.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from fastapi.testclient import TestClient

from cds_service.facts.parse import DRAFT_FIELDS_READ
from cds_service.invocation import DATA_ISSUES_EXTENSION
from fhir_fixtures.hook_requests import build_request
from tests.support.facts_builders import ICD10CM, LOINC, PATIENT_ID, clinical_data, condition, facts_for, service_request

ENTRY = condition("c1", (ICD10CM, "M65.271"))
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def sandbox_rx_draft(id: str = "request-123", patient: str = PATIENT_ID) -> dict[str, Any]:
    """The Sandbox's Rx View draft: no `intent`, `category` and `reasonCode` as lone objects, an STU3-style
    `doseQuantity` in its dosage."""
    return {
        "resourceType": "MedicationRequest",
        "id": id,
        "status": "draft",
        "subject": {"reference": f"Patient/{patient}"},
        "authoredOn": "2026-11-21",
        "category": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                                 "code": "outpatient"}]},
        "medicationCodeableConcept": {
            "text": "Ibuprofen 400 MG Oral Tablet",
            "coding": [{"system": RXNORM, "code": "197806", "display": "Ibuprofen 400 MG Oral Tablet"}],
        },
        "dosageInstruction": [{
            "doseQuantity": {"value": 1, "system": "http://unitsofmeasure.org", "code": "{pill}"},
            "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
        }],
        "reasonCode": {"coding": [{"system": ICD10CM, "code": "M65.271"}]},
    }


def test_the_sandbox_rx_draft_is_read_and_the_fields_not_read_are_named() -> None:
    draft = sandbox_rx_draft()
    data = clinical_data(ENTRY, drafts=(draft,), selections=("MedicationRequest/request-123",))
    (kept,) = data.draft_orders
    assert kept["id"] == "request-123" and kept["medicationCodeableConcept"] == draft["medicationCodeableConcept"]
    assert not {"category", "dosageInstruction", "reasonCode"} & set(kept)
    (issue,) = data.issues
    assert issue.where == "context.draftOrders.entry[0]" and issue.resource == "MedicationRequest/request-123"
    assert issue.problem.startswith("not read: category, dosageInstruction, intent, reasonCode (")
    assert issue.problem.endswith("the rest of the draft was read")
    assert "intent" in issue.problem and "Input should be a valid list" in issue.problem
    assert draft["category"]  # the request itself is not changed


def test_the_kept_draft_is_an_order_of_the_order_hooks() -> None:
    facts = facts_for(ENTRY, hook="order-sign", drafts=(sandbox_rx_draft(),))
    (order,) = facts.draft_orders
    assert order.reference == "MedicationRequest/request-123"
    assert order.label and "Ibuprofen" in order.label
    assert order.code == ((RXNORM, "197806"),)


def test_a_field_the_facts_step_reads_still_leaves_the_draft_out() -> None:
    draft = sandbox_rx_draft()
    draft["medicationCodeableConcept"] = {"coding": {"system": RXNORM, "code": "197806"}}  # coding not a list
    data = clinical_data(ENTRY, drafts=(draft,))
    assert data.draft_orders == ()
    (issue,) = data.issues
    assert issue.problem.startswith("not valid FHIR R4: ") and issue.problem.endswith("; left out")
    assert "medicationCodeableConcept" in issue.problem


def test_a_missing_required_field_the_facts_step_reads_leaves_the_draft_out() -> None:
    draft = sandbox_rx_draft()
    del draft["subject"]  # R4 MedicationRequest.subject is 1..1, and whose order it is matters
    assert "subject" in DRAFT_FIELDS_READ["MedicationRequest"]
    assert clinical_data(ENTRY, drafts=(draft,)).draft_orders == ()


def test_a_service_request_without_intent_is_kept_as_sent() -> None:
    draft = service_request("d1", (LOINC, "36305-1", "XR Foot 3 Views"), status="draft")
    del draft["intent"]
    sent = copy.deepcopy(draft)
    data = clinical_data(ENTRY, drafts=(draft,), selections=("ServiceRequest/d1",))
    assert data.draft_orders == (sent,)  # whole: an update suggestion may return it
    (issue,) = data.issues
    assert issue.problem.startswith("not read: intent (")


def test_a_service_request_with_an_invalid_unread_value_is_not_read_with_it_removed() -> None:
    draft = service_request("d1", (LOINC, "36305-1", "XR Foot 3 Views"), status="draft")
    draft["authoredOn"] = "yesterday"
    data = clinical_data(ENTRY, drafts=(draft,))
    assert data.draft_orders == ()
    assert data.issues[0].problem.endswith("; left out")


def test_a_valid_draft_has_no_issue_and_is_kept_whole() -> None:
    draft = sandbox_rx_draft()
    draft["intent"] = "order"
    draft["category"] = [draft["category"]]
    draft["reasonCode"] = [draft["reasonCode"]]
    draft["dosageInstruction"] = [{"timing": draft["dosageInstruction"][0]["timing"]}]
    data = clinical_data(ENTRY, drafts=(draft,))
    assert data.draft_orders == (draft,) and data.issues == ()


def test_over_http_the_response_says_what_of_the_sandbox_draft_was_not_read(client: TestClient) -> None:
    patient = "fc-dfi-osteomyelitis"
    body = build_request(patient, "order-sign", date.today())
    entries = body["context"]["draftOrders"]["entry"]
    (index,) = [i for i, e in enumerate(entries) if e["resource"]["resourceType"] == "MedicationRequest"]
    original = entries[index]["resource"]
    entries[index]["resource"] = sandbox_rx_draft(original["id"], patient)
    response = client.post("/cds-services/foot-calcification-order-sign", json=body)
    assert response.status_code == 200, response.text
    issues = response.json()["extension"][DATA_ISSUES_EXTENSION]
    (issue,) = [i for i in issues if i.get("resource") == f"MedicationRequest/{original['id']}"]
    assert issue["where"] == f"context.draftOrders.entry[{index}]"
    assert issue["problem"].startswith("not read: category, dosageInstruction, intent, reasonCode")
    assert patient not in issue["problem"]
