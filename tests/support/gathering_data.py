"""Test patients for data gathering, built from the service's own prefetch code lists.

Codes come from `guideline.valuesets.prefetch_codings` (so the data matches whatever the value sets hold) or
from /work/shared/reference/terminology.md. Decoys carry no coding at all (text only), a status the query
excludes, or another patient's reference, so a search that returns them is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cds_service.guideline.valuesets import prefetch_codings

__all__ = ["DCM", "PatientData", "bulk_patient", "foot_patient", "nested_extensions"]

JSON = dict[str, Any]
DCM = "http://dicom.nema.org/resources/ontology/DCM"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
# Foot calcification codes the brief names (terminology.md §3 and §4).
FOOT_CALCIFICATION = ((ICD10CM, "M61.471"), (SNOMED, "442098006"))
CALCIUM = (LOINC, "17861-6")


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
    """A small patient: Conditions, a calcium result, an imaging Observation, a DX study, an active order."""
    data = PatientData(patient_id)
    data.resources.append({"resourceType": "Patient", "id": patient_id, "gender": "female", "birthDate": "1961-04-02"})
    subject = _subject(patient_id)

    for index, (system, code) in enumerate(_pick(prefetch_codings("Condition"), FOOT_CALCIFICATION)):
        data.add({"resourceType": "Condition", "id": f"cond-{index}", "subject": subject,
                  "code": _coding(system, code), "recordedDate": "2026-10-01"}, expected=True)
    # Brief's foot calcification codes, whether or not the value set holds them: expected only if it does.
    for index, (system, code) in enumerate(FOOT_CALCIFICATION):
        wanted = (system, code) in prefetch_codings("Condition")
        data.add({"resourceType": "Condition", "id": f"cond-foot-{index}", "subject": subject,
                  "code": _coding(system, code)}, expected=wanted)
    data.add({"resourceType": "Condition", "id": "cond-text-only", "subject": subject,
              "code": {"text": "unrelated complaint"}}, expected=False)
    data.add({"resourceType": "Condition", "id": "cond-other-patient", "subject": _subject(other_patient_id),
              "code": _coding(*prefetch_codings("Condition")[0])}, expected=False)

    for index, (system, code) in enumerate(_pick(prefetch_codings("Observation"), (CALCIUM,))):
        data.add({"resourceType": "Observation", "id": f"lab-{index}", "status": "final", "subject": subject,
                  "category": [_coding(OBSERVATION_CATEGORY, "laboratory")], "code": _coding(system, code),
                  "effectiveDateTime": "2026-11-01", "valueQuantity": {"value": 9.6, "unit": "mg/dL"}},
                 expected=True)
    calcium_wanted = CALCIUM in prefetch_codings("Observation")
    data.add({"resourceType": "Observation", "id": "lab-calcium", "status": "final", "subject": subject,
              "category": [_coding(OBSERVATION_CATEGORY, "laboratory")], "code": _coding(*CALCIUM),
              "effectiveDateTime": "2026-11-02", "valueQuantity": {"value": 10.9, "unit": "mg/dL"}},
             expected=calcium_wanted)
    data.add({"resourceType": "Observation", "id": "imaging-obs-1", "status": "final", "subject": subject,
              "category": [_coding(OBSERVATION_CATEGORY, "imaging")], "code": {"text": "foot radiograph finding"}},
             expected=True)
    data.add({"resourceType": "Observation", "id": "lab-text-only", "status": "final", "subject": subject,
              "code": {"text": "unrelated test"}}, expected=False)

    data.add({"resourceType": "ImagingStudy", "id": "study-dx-1", "status": "available", "subject": subject,
              "started": "2026-10-15T09:00:00Z",
              "series": [{"uid": "1.2.826.0.1.3680043.8.498.1", "modality": {"system": DCM, "code": "DX"}}]},
             expected=True)

    report_system, report_code = prefetch_codings("DiagnosticReport")[0]
    data.add({"resourceType": "DiagnosticReport", "id": "report-1", "status": "final", "subject": subject,
              "code": _coding(report_system, report_code), "conclusion": "Soft tissue calcification."},
             expected=True)

    order_system, order_code = prefetch_codings("ServiceRequest")[0]
    data.add({"resourceType": "ServiceRequest", "id": "order-active-1", "status": "active", "intent": "order",
              "subject": subject, "code": _coding(order_system, order_code)}, expected=True)
    data.add({"resourceType": "ServiceRequest", "id": "order-completed-1", "status": "completed",
              "intent": "order", "subject": subject, "code": _coding(order_system, order_code)}, expected=False)

    procedure_system, procedure_code = prefetch_codings("Procedure")[0]
    data.add({"resourceType": "Procedure", "id": "procedure-1", "status": "completed", "subject": subject,
              "code": _coding(procedure_system, procedure_code)}, expected=True)
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
                  "code": _coding(*cycle("Condition", i))}, expected=True)
    for i in range(per_type * 2):
        data.add({"resourceType": "Observation", "id": f"bulk-lab-{i}", "status": "final", "subject": subject,
                  "code": _coding(*cycle("Observation", i)), "effectiveDateTime": f"2026-{1 + i % 11:02d}-01",
                  "valueQuantity": {"value": 9.0 + (i % 20) / 10, "unit": "mg/dL"}}, expected=True)
    for i in range(per_type):
        data.add({"resourceType": "Observation", "id": f"bulk-imaging-obs-{i}", "status": "final",
                  "subject": subject, "category": [_coding(OBSERVATION_CATEGORY, "imaging")],
                  "code": {"text": "imaging finding"}}, expected=True)
        data.add({"resourceType": "ImagingStudy", "id": f"bulk-study-{i}", "status": "available",
                  "subject": subject, "series": [{"uid": f"1.2.826.0.1.3680043.8.498.{100 + i}",
                                                  "modality": {"system": DCM, "code": ("DX", "CR")[i % 2]}}]},
                 expected=True)
    for i in range(per_type // 2):
        data.add({"resourceType": "DiagnosticReport", "id": f"bulk-report-{i}", "status": "final",
                  "subject": subject, "code": _coding(*cycle("DiagnosticReport", i))}, expected=True)
        data.add({"resourceType": "ServiceRequest", "id": f"bulk-order-{i}", "status": "active", "intent": "order",
                  "subject": subject, "code": _coding(*cycle("ServiceRequest", i))}, expected=True)
    for i in range(per_type):
        data.add({"resourceType": "Procedure", "id": f"bulk-procedure-{i}", "status": "completed",
                  "subject": subject, "code": _coding(*cycle("Procedure", i))}, expected=True)
    return data


def nested_extensions(levels: int) -> list[dict[str, Any]]:
    """An `extension` array nesting `levels` complex extensions (two JSON levels each)."""
    extension: dict[str, Any] = {"url": "http://example.org/leaf", "valueString": "x"}
    for _ in range(levels):
        extension = {"url": "http://example.org/node", "extension": [extension]}
    return [extension]
