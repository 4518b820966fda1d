"""RawRecord -> ClinicalData: selection before validation, invalid resources as DataIssues."""

from __future__ import annotations

from cds_service.facts.model import LabTest
from tests.support.facts_builders import (
    ICD10CM,
    LOINC,
    PATIENT_ID,
    SNOMED,
    clinical_data,
    condition,
    days_ago,
    facts_for,
    imaging_study,
    observation,
    service_request,
)

ENTRY = condition("entry", (ICD10CM, "M65.271"))


def test_irrelevant_resources_are_not_validated_or_kept() -> None:
    data = clinical_data(
        ENTRY,
        condition("htn", (SNOMED, "38341003", "Hypertension")),
        observation("bp", (LOINC, "8480-6", "Systolic blood pressure"), value=(130, "mm[Hg]")),
        imaging_study("chest", "DX", description="Chest PA"),
        {"resourceType": "MedicationStatement", "id": "m1", "status": "active"},
    )
    assert [c["id"] for c in data.conditions] == ["entry"]
    assert data.observations == () and data.imaging_studies == ()
    assert data.issues == ()


def test_entered_in_error_is_left_out_before_validation() -> None:
    broken = condition("bad", (ICD10CM, "M65.271"), verification="entered-in-error")
    broken["onsetDateTime"] = "not a date"  # would fail validation, but is never validated
    data = clinical_data(broken, observation("o", (LOINC, "17861-6"), value=(9, "mg/dL"), status="entered-in-error"))
    assert data.conditions == () and data.observations == () and data.issues == ()


def test_invalid_relevant_resource_becomes_a_data_issue_and_is_left_out() -> None:
    bad = condition("c-bad", (ICD10CM, "M65.272"))
    bad["onsetDateTime"] = "last spring"
    bad["colour"] = "blue"
    facts_data = clinical_data(ENTRY, bad)
    assert [c["id"] for c in facts_data.conditions] == ["entry"]
    (issue,) = facts_data.issues
    assert issue.resource == "Condition/c-bad"
    assert issue.where == "record.Condition"
    assert "onsetDateTime" in issue.problem and "colour" in issue.problem
    assert "last spring" not in issue.problem and "blue" not in issue.problem  # no input values


def test_a_data_issue_never_shows_the_patient_id() -> None:
    bad_patient = {"resourceType": "Patient", "id": PATIENT_ID, "gender": 42}
    from cds_service.facts.parse import to_clinical_data
    from tests.support.facts_builders import raw_record

    record = raw_record(ENTRY)
    record.patient = bad_patient
    bad_draft = service_request("d1", (LOINC, "36305-1"), status="draft")
    bad_draft["subject"] = {"reference": f"Patient/{PATIENT_ID}", "display": 7}
    record.draft_orders = [bad_draft]
    data = to_clinical_data(record, PATIENT_ID)
    assert data.patient is None
    assert len(data.issues) == 2
    for issue in data.issues:
        assert PATIENT_ID not in issue.problem and PATIENT_ID not in (issue.resource or "")
    assert data.issues[0].resource is None  # a Patient id is a patient identifier
    assert data.issues[1].where == "context.draftOrders.entry[0]"
    assert data.draft_orders == ()


def test_only_the_latest_lab_result_is_validated_when_it_is_valid() -> None:
    results = [
        observation(f"ca{d}", (LOINC, "17861-6"), value=(9, "mg/dL"), effective=days_ago(d)) for d in range(1, 40)
    ]
    results[1]["valueQuantity"]["value"] = "not a number"  # the one before the latest: never validated
    results[-1]["valueQuantity"]["value"] = "not a number"  # the oldest: never validated either
    data = clinical_data(ENTRY, *results)
    assert [o["id"] for o in data.observations] == ["ca1"]
    assert data.issues == ()


def test_an_invalid_latest_lab_result_is_a_data_issue_and_the_day_before_is_validated() -> None:
    results = [
        observation(f"ca{d}", (LOINC, "17861-6"), value=(9, "mg/dL"), effective=days_ago(d)) for d in range(1, 5)
    ]
    results[0]["valueQuantity"]["value"] = "not a number"
    data = clinical_data(ENTRY, *results)
    assert [o["id"] for o in data.observations] == ["ca2"]
    assert [issue.resource for issue in data.issues] == ["Observation/ca1"]


def test_invalid_latest_lab_falls_back_to_the_next() -> None:
    newest = observation("new", (LOINC, "17861-6"), value=(12, "mg/dL"), effective=days_ago(1))
    newest["valueQuantity"]["value"] = "twelve"
    older = observation("old", (LOINC, "17861-6"), value=(9, "mg/dL"), effective=days_ago(5))
    facts = facts_for(ENTRY, newest, older)
    assert facts.labs[LabTest.CALCIUM].reference == "Observation/old"


def test_draft_orders_are_validated_and_kept_whole() -> None:
    draft = service_request("d1", (LOINC, "36305-1", "XR Foot 3 Views"), status="draft")
    invalid = service_request("d2", (LOINC, "36305-1", "XR Foot 3 Views"), status="draft")
    invalid["authoredOn"] = "yesterday"
    data = clinical_data(ENTRY, drafts=(draft, invalid), selections=("ServiceRequest/d1",))
    assert data.draft_orders == (draft,)  # the JSON as sent: an update suggestion returns it whole
    assert [issue.where for issue in data.issues] == ["context.draftOrders.entry[1]"]
    assert data.selections == ("ServiceRequest/d1",)
