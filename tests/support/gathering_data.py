"""Test patients for data gathering, built from the service's own prefetch code lists.

Codes come from `guideline.valuesets.prefetch_codings` (so the data matches whatever the value sets hold) or
from /work/shared/reference/terminology.md. Every resource the prefetch keys can bring is expected (text-only
problems, the EHR's own codes under a searched category, studies without series); decoys carry a status the
query excludes, another patient's reference, a category no key searches, or a date older than the key's
window, so a search that returns them is wrong. Dates are relative to `TODAY`: gather with `today=TODAY`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from cds_service.guideline.valuesets import prefetch_codings

__all__ = ["DCM", "TODAY", "PatientData", "bulk_patient", "foot_patient", "nested_extensions"]

JSON = dict[str, Any]
TODAY = date(2026, 11, 21)
DCM = "http://dicom.nema.org/resources/ontology/DCM"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
LOCAL = "http://hospital.example.org/codes"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
REPORT_CATEGORY = "http://terminology.hl7.org/CodeSystem/v2-0074"
# Foot calcification codes the brief names (terminology.md §3 and §4).
FOOT_CALCIFICATION = ((ICD10CM, "M61.471"), (SNOMED, "442098006"))
CALCIUM = (LOINC, "17861-6")


def day(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).isoformat()


@dataclass
class PatientData:
    patient_id: str
    resources: list[JSON] = field(default_factory=list)
    # resourceType -> ids a prefetch-less gather must return (the Patient is checked on its own)
    expected: dict[str, set[str]] = field(default_factory=dict)
    decoys: set[str] = field(default_factory=set)  # `Type/id` that must never come back

    def add(self, resource: JSON, *, expected: bool) -> JSON:
        self.resources.append(resource)
        if expected:
            self.expected.setdefault(resource["resourceType"], set()).add(resource["id"])
        else:
            self.decoys.add(f"{resource['resourceType']}/{resource['id']}")
        return resource


def _coding(system: str, code: str) -> JSON:
    return {"coding": [{"system": system, "code": code}]}


def _pick(codings: list[tuple[str, str]], wanted: tuple[tuple[str, str], ...] = ()) -> list[tuple[str, str]]:
    """The first and last codes of a value set, and any `wanted` code it holds."""
    picked = [codings[0], codings[-1], *(c for c in wanted if c in codings)]
    return list(dict.fromkeys(picked))


def _subject(patient_id: str) -> JSON:
    return {"reference": f"Patient/{patient_id}"}


def foot_patient(patient_id: str = "pt-gather-1", *, other_patient_id: str = "pt-gather-other") -> PatientData:
    """A small patient: Conditions, lab results, imaging results and studies, reports, orders, procedures."""
    data = PatientData(patient_id)
    data.resources.append({"resourceType": "Patient", "id": patient_id, "gender": "female", "birthDate": "1961-04-02"})
    subject = _subject(patient_id)
    lab_category = [_coding(OBSERVATION_CATEGORY, "laboratory")]

    for index, (system, code) in enumerate(FOOT_CALCIFICATION):
        data.add({"resourceType": "Condition", "id": f"cond-foot-{index}", "subject": subject,
                  "code": _coding(system, code), "recordedDate": day(50)}, expected=True)
    # Every Condition comes: text-only, the EHR's own code, no clinicalStatus, resolved.
    data.add({"resourceType": "Condition", "id": "cond-text-only", "subject": subject,
              "code": {"text": "Calcified nodule, left heel"}}, expected=True)
    data.add({"resourceType": "Condition", "id": "cond-local", "subject": subject,
              "code": {"coding": [{"system": LOCAL, "code": "DX-77", "display": "Heel spur"}]},
              "clinicalStatus": _coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "resolved")},
             expected=True)
    data.add({"resourceType": "Condition", "id": "cond-other-patient", "subject": _subject(other_patient_id),
              "code": _coding(*FOOT_CALCIFICATION[0])}, expected=False)

    for index, (system, code) in enumerate(_pick(prefetch_codings("Observation"), (CALCIUM,))):
        data.add({"resourceType": "Observation", "id": f"lab-{index}", "status": "final", "subject": subject,
                  "category": lab_category, "code": _coding(system, code),
                  "effectiveDateTime": day(20), "valueQuantity": {"value": 9.6, "unit": "mg/dL"}}, expected=True)
    data.add({"resourceType": "Observation", "id": "lab-coded-no-category", "status": "final", "subject": subject,
              "code": _coding(*CALCIUM), "effectiveDateTime": day(19)}, expected=True)
    data.add({"resourceType": "Observation", "id": "lab-local-code", "status": "final", "subject": subject,
              "category": lab_category, "code": {"coding": [{"system": LOCAL, "code": "PTH1", "display": "PTH intact"}]},
              "effectiveDateTime": day(10)}, expected=True)
    data.add({"resourceType": "Observation", "id": "lab-too-old", "status": "final", "subject": subject,
              "category": lab_category, "code": _coding(*CALCIUM), "effectiveDateTime": day(91)}, expected=False)
    data.add({"resourceType": "Observation", "id": "imaging-obs-1", "status": "final", "subject": subject,
              "category": [_coding(OBSERVATION_CATEGORY, "imaging")], "code": {"text": "foot radiograph finding"},
              "effectiveDateTime": day(30)}, expected=True)
    data.add({"resourceType": "Observation", "id": "vital-sign", "status": "final", "subject": subject,
              "category": [_coding(OBSERVATION_CATEGORY, "vital-signs")], "code": {"text": "Heart rate"},
              "effectiveDateTime": day(1)}, expected=False)
    data.add({"resourceType": "Observation", "id": "lab-text-only", "status": "final", "subject": subject,
              "code": {"text": "unrelated test"}, "effectiveDateTime": day(1)}, expected=False)

    data.add({"resourceType": "ImagingStudy", "id": "study-dx-1", "status": "available", "subject": subject,
              "started": f"{day(40)}T09:00:00Z",
              "series": [{"uid": "1.2.826.0.1.3680043.8.498.1", "modality": {"system": DCM, "code": "DX"}}]},
             expected=True)
    # The R4 `modality` search reads series.modality: a study-level modality or a procedureCode alone is
    # found only because the key does not filter by modality.
    data.add({"resourceType": "ImagingStudy", "id": "study-level-modality", "status": "available", "subject": subject,
              "started": day(35), "modality": [{"system": DCM, "code": "CR"}]}, expected=True)
    data.add({"resourceType": "ImagingStudy", "id": "study-procedure-code", "status": "available", "subject": subject,
              "started": day(34), "procedureCode": [_coding(LOINC, "36305-1")]}, expected=True)
    data.add({"resourceType": "ImagingStudy", "id": "study-too-old", "status": "available", "subject": subject,
              "started": day(800), "modality": [{"system": DCM, "code": "DX"}]}, expected=False)

    report_system, report_code = prefetch_codings("DiagnosticReport")[0]
    data.add({"resourceType": "DiagnosticReport", "id": "report-1", "status": "final", "subject": subject,
              "code": _coding(report_system, report_code), "conclusion": "Soft tissue calcification.",
              "effectiveDateTime": day(40)}, expected=True)
    data.add({"resourceType": "DiagnosticReport", "id": "report-local-rad", "status": "final", "subject": subject,
              "category": [_coding(REPORT_CATEGORY, "RAD")], "code": {"coding": [{"system": LOCAL, "code": "XRFT"}]},
              "conclusion": "Calcification of the plantar soft tissue.", "effectiveDateTime": day(41)}, expected=True)
    data.add({"resourceType": "DiagnosticReport", "id": "report-lab", "status": "final", "subject": subject,
              "category": [_coding(REPORT_CATEGORY, "LAB")], "code": {"text": "Basic metabolic panel"},
              "effectiveDateTime": day(2)}, expected=False)

    data.add({"resourceType": "ServiceRequest", "id": "order-active-1", "status": "active", "intent": "order",
              "subject": subject, "code": {"coding": [{"system": LOCAL, "code": "ORD-XR", "display": "XR foot"}]}},
             expected=True)
    # Completed orders come with the `completed-orders` key (a completed imaging order is a study done; the
    # facts step reads no other), over `imaging_history_days` of authoredOn, undated ones too.
    data.add({"resourceType": "ServiceRequest", "id": "order-completed-1", "status": "completed",
              "intent": "order", "subject": subject, "code": _coding(*CALCIUM)}, expected=True)
    data.add({"resourceType": "ServiceRequest", "id": "order-completed-old", "status": "completed",
              "intent": "order", "subject": subject, "code": {"text": "XR foot"}, "authoredOn": day(900)},
             expected=False)

    data.add({"resourceType": "Procedure", "id": "procedure-1", "status": "completed", "subject": subject,
              "code": {"text": "Probe-to-bone test"}, "performedDateTime": day(5)}, expected=True)
    data.add({"resourceType": "Procedure", "id": "procedure-too-old", "status": "completed", "subject": subject,
              "code": {"text": "XR foot"}, "performedDateTime": day(900)}, expected=False)
    return data


def bulk_patient(patient_id: str = "pt-gather-bulk", *, per_type: int = 20) -> PatientData:
    """8 x `per_type` resources (`per_type` even) that the prefetch queries match, and the Patient."""
    data = PatientData(patient_id)
    data.resources.append({"resourceType": "Patient", "id": patient_id, "gender": "male", "birthDate": "1958-07-30"})
    subject = _subject(patient_id)

    def cycle(resource_type: str, index: int) -> tuple[str, str]:
        codings = prefetch_codings(resource_type)
        return codings[index % len(codings)]

    for i in range(per_type * 2):
        data.add({"resourceType": "Condition", "id": f"bulk-cond-{i}", "subject": subject,
                  "code": {"text": f"problem {i}"}}, expected=True)
    for i in range(per_type * 2):
        data.add({"resourceType": "Observation", "id": f"bulk-lab-{i}", "status": "final", "subject": subject,
                  "code": _coding(*cycle("Observation", i)), "effectiveDateTime": day(1 + i % 80),
                  "valueQuantity": {"value": 9.0 + (i % 20) / 10, "unit": "mg/dL"}}, expected=True)
    for i in range(per_type):
        data.add({"resourceType": "Observation", "id": f"bulk-imaging-obs-{i}", "status": "final",
                  "subject": subject, "category": [_coding(OBSERVATION_CATEGORY, "imaging")],
                  "code": {"text": "imaging finding"}, "effectiveDateTime": day(i)}, expected=True)
        data.add({"resourceType": "ImagingStudy", "id": f"bulk-study-{i}", "status": "available",
                  "subject": subject, "started": day(i), "series": [
                      {"uid": f"1.2.826.0.1.3680043.8.498.{100 + i}",
                       "modality": {"system": DCM, "code": ("DX", "CR")[i % 2]}}]},
                 expected=True)
    for i in range(per_type // 2):
        data.add({"resourceType": "DiagnosticReport", "id": f"bulk-report-{i}", "status": "final",
                  "subject": subject, "code": _coding(*cycle("DiagnosticReport", i)), "effectiveDateTime": day(i)},
                 expected=True)
        data.add({"resourceType": "ServiceRequest", "id": f"bulk-order-{i}", "status": "active", "intent": "order",
                  "subject": subject, "code": {"text": f"order {i}"}}, expected=True)
    for i in range(per_type):
        data.add({"resourceType": "Procedure", "id": f"bulk-procedure-{i}", "status": "completed",
                  "subject": subject, "code": {"text": f"procedure {i}"}, "performedDateTime": day(i)}, expected=True)
    return data


def nested_extensions(levels: int) -> list[dict[str, Any]]:
    """An `extension` array nesting `levels` complex extensions (two JSON levels each)."""
    extension: dict[str, Any] = {"url": "http://example.org/leaf", "valueString": "x"}
    for _ in range(levels):
        extension = {"url": "http://example.org/node", "extension": [extension]}
    return [extension]
