"""Small constructors for the fixture resources, so each patient in `author.py` reads as a story.

Every code comes from `shared/reference/terminology.md`; a concept without a verified code is written as
`CodeableConcept.text` only. Dates are tokens (see `materialize.py`). Resource ids are
`<patient id>-<suffix>`, so they are unique across fixtures.
"""

from __future__ import annotations

import uuid
from typing import Any

__all__ = [
    "CLINICAL",
    "DCM",
    "ICD10CM",
    "LOINC",
    "OBS_CATEGORY",
    "SNOMED",
    "UCUM",
    "VERIFICATION",
    "Coding",
    "cc",
    "condition",
    "culture",
    "diagnostic_report",
    "imaging_study",
    "lab",
    "patient",
    "ref",
    "service_request",
]

JSON = dict[str, Any]
Coding = tuple[str, str, str]  # system, code, display

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
UCUM = "http://unitsofmeasure.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
DR_CATEGORY = "http://terminology.hl7.org/CodeSystem/v2-0074"


def cc(*codings: Coding, text: str | None = None) -> JSON:
    concept: JSON = {}
    if codings:
        concept["coding"] = [{"system": s, "code": c, "display": d} for s, c, d in codings]
    if text:
        concept["text"] = text
    return concept


def ref(resource: JSON) -> JSON:
    return {"reference": f"{resource['resourceType']}/{resource['id']}"}


def _subject(pid: str) -> JSON:
    return {"reference": f"Patient/{pid}"}


def patient(pid: str, *, family: str, given: str, gender: str, birth_date: str) -> JSON:
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.19.5.99999.1", "value": f"MRN-{pid}"}],
        "name": [{"use": "official", "family": family, "given": [given]}],
        "gender": gender,
        "birthDate": birth_date,
    }


def condition(
    pid: str,
    suffix: str,
    *codings: Coding,
    text: str | None = None,
    body_site: JSON | None = None,
    clinical: str | None = "active",
    verification: str | None = "confirmed",
    onset: str | None = None,
    recorded: str | None = None,
    abatement: str | None = None,
    severity: Coding | None = None,
    category: str = "problem-list-item",
) -> JSON:
    resource: JSON = {"resourceType": "Condition", "id": f"{pid}-{suffix}"}
    if clinical:
        resource["clinicalStatus"] = cc((CLINICAL, clinical, clinical.capitalize()))
    if verification:
        resource["verificationStatus"] = cc((VERIFICATION, verification, verification.capitalize()))
    resource["category"] = [
        cc(
            (
                CONDITION_CATEGORY,
                category,
                "Problem List Item" if category == "problem-list-item" else "Encounter Diagnosis",
            )
        )
    ]
    if severity:
        resource["severity"] = cc(severity)
    resource["code"] = cc(*codings, text=text)
    if body_site:
        resource["bodySite"] = [body_site]
    resource["subject"] = _subject(pid)
    if onset:
        resource["onsetDateTime"] = onset
    if abatement:
        resource["abatementDateTime"] = abatement
    if recorded or onset:
        resource["recordedDate"] = recorded or onset
    return resource


# Human-readable unit -> UCUM code, where they differ (EHRs send both).
UCUM_CODES = {"mL/min/1.73m2": "mL/min/{1.73_m2}"}


def _quantity(value: float, unit: str) -> JSON:
    return {"value": value, "unit": unit, "system": UCUM, "code": UCUM_CODES.get(unit, unit)}


def _interpretation(flag: str) -> list[JSON]:
    names = {"H": "High", "HH": "Critical high", "L": "Low", "LL": "Critical low", "N": "Normal", "A": "Abnormal"}
    return [cc((INTERPRETATION, flag, names[flag]))]


def lab(
    pid: str,
    suffix: str,
    code: Coding,
    value: float,
    unit: str,
    when: str,
    *,
    interpretation: str | None = None,
    low: float | None = None,
    high: float | None = None,
    status: str = "final",
) -> JSON:
    resource: JSON = {
        "resourceType": "Observation",
        "id": f"{pid}-{suffix}",
        "status": status,
        "category": [cc((OBS_CATEGORY, "laboratory", "Laboratory"))],
        "code": cc(code),
        "subject": _subject(pid),
        "effectiveDateTime": f"{when}T08:15:00Z",
        "issued": f"{when}T11:40:00Z",
        "valueQuantity": _quantity(value, unit),
    }
    if interpretation:
        resource["interpretation"] = _interpretation(interpretation)
    if low is not None or high is not None:
        bounds: JSON = {}
        if low is not None:
            bounds["low"] = _quantity(low, unit)
        if high is not None:
            bounds["high"] = _quantity(high, unit)
        resource["referenceRange"] = [bounds]
    return resource


def culture(pid: str, suffix: str, code: Coding, result: str, when: str, *, interpretation: str | None) -> JSON:
    resource: JSON = {
        "resourceType": "Observation",
        "id": f"{pid}-{suffix}",
        "status": "final",
        "category": [cc((OBS_CATEGORY, "laboratory", "Laboratory"))],
        "code": cc(code),
        "subject": _subject(pid),
        "effectiveDateTime": f"{when}T10:00:00Z",
        "issued": f"{when}T16:00:00Z",
        "valueCodeableConcept": cc(text=result),
    }
    if interpretation:
        resource["interpretation"] = _interpretation(interpretation)
    return resource


def imaging_study(
    pid: str, suffix: str, modality: str, when: str, *, procedure: Coding | None, body_site: Coding, description: str
) -> JSON:
    names = {
        "DX": "Digital Radiography",
        "CR": "Computed Radiography",
        "MR": "Magnetic Resonance",
        "CT": "Computed Tomography",
        "US": "Ultrasound",
    }
    mod = {"system": DCM, "code": modality, "display": names[modality]}
    resource: JSON = {
        "resourceType": "ImagingStudy",
        "id": f"{pid}-{suffix}",
        "status": "available",
        "modality": [mod],
        "subject": _subject(pid),
        "started": f"{when}T09:30:00Z",
        "description": description,
        "numberOfSeries": 1,
        "series": [
            {
                # A DICOM UID under the 2.25 (UUID) root, stable across runs.
                "uid": f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, f'fixture:{pid}-{suffix}').int}",
                "modality": mod,
                "bodySite": {"system": body_site[0], "code": body_site[1], "display": body_site[2]},
            }
        ],
    }
    if procedure:
        resource["procedureCode"] = [cc(procedure)]
    return resource


def diagnostic_report(
    pid: str,
    suffix: str,
    code: Coding,
    when: str,
    *,
    conclusion: str,
    conclusion_codes: tuple[Coding, ...] = (),
    study: JSON | None = None,
    status: str = "final",
) -> JSON:
    resource: JSON = {
        "resourceType": "DiagnosticReport",
        "id": f"{pid}-{suffix}",
        "status": status,
        "category": [cc((DR_CATEGORY, "RAD", "Radiology"))],
        "code": cc(code),
        "subject": _subject(pid),
        "effectiveDateTime": f"{when}T09:30:00Z",
        "issued": f"{when}T15:00:00Z",
    }
    if study is not None:
        resource["imagingStudy"] = [ref(study)]
    resource["conclusion"] = conclusion
    if conclusion_codes:
        resource["conclusionCode"] = [cc(c) for c in conclusion_codes]
    return resource


def service_request(
    pid: str,
    suffix: str,
    code: JSON,
    *,
    status: str,
    authored: str,
    category: str,
    occurrence: str | None = None,
    reason_codes: tuple[JSON, ...] = (),
    reasons: tuple[JSON, ...] = (),
    body_site: JSON | None = None,
    intent: str = "order",
) -> JSON:
    resource: JSON = {
        "resourceType": "ServiceRequest",
        "id": f"{pid}-{suffix}",
        "status": status,
        "intent": intent,
        "category": [cc(text=category)],
        "code": code,
        "subject": _subject(pid),
        "authoredOn": authored,
    }
    if occurrence:
        resource["occurrenceDateTime"] = occurrence
    if reason_codes:
        resource["reasonCode"] = list(reason_codes)
    if reasons:
        resource["reasonReference"] = [ref(r) for r in reasons]
    if body_site:
        resource["bodySite"] = [body_site]
    return resource
