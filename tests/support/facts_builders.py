"""Small FHIR R4 JSON builders for the facts tests, and a one-call RawRecord -> Facts helper."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from cds_service.facts.extract import build_facts
from cds_service.facts.model import Facts
from cds_service.facts.parse import to_clinical_data
from cds_service.gathering.records import ClinicalData, RawRecord
from cds_service.guideline.config import PathwayConfig, load_pathway_config

__all__ = [
    "ICD10CM",
    "LOINC",
    "PATIENT_ID",
    "SNOMED",
    "TODAY",
    "UCUM",
    "clinical_data",
    "condition",
    "days_ago",
    "diagnostic_report",
    "facts_for",
    "imaging_study",
    "observation",
    "procedure",
    "raw_record",
    "service_request",
]

JSON = dict[str, Any]
TODAY = date(2026, 11, 21)
PATIENT_ID = "pat-7f3"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM = "http://unitsofmeasure.org"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
Coding = tuple[str, str, str] | tuple[str, str]


def days_ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


def concept(codings: list[Coding] | Coding | None = None, text: str | None = None) -> JSON:
    if codings is not None and isinstance(codings, tuple):
        codings = [codings]
    body: JSON = {}
    if codings:
        body["coding"] = [{"system": c[0], "code": c[1], **({"display": c[2]} if len(c) > 2 else {})} for c in codings]
    if text:
        body["text"] = text
    return body


def _subject(subject: str | None) -> JSON:
    return {"reference": f"Patient/{subject or PATIENT_ID}"}


def condition(
    id: str,
    code: list[Coding] | Coding | None = None,
    *,
    text: str | None = None,
    body_site: list[Coding] | Coding | None = None,
    body_site_text: str | None = None,
    clinical: str | None = "active",
    verification: str | None = None,
    onset: str | None = None,
    recorded: str | None = None,
    severity: Coding | None = None,
    subject: str | None = None,
) -> JSON:
    resource: JSON = {"resourceType": "Condition", "id": id, "subject": _subject(subject), "code": concept(code, text)}
    if clinical:
        resource["clinicalStatus"] = concept(("http://terminology.hl7.org/CodeSystem/condition-clinical", clinical))
    if verification:
        resource["verificationStatus"] = concept(
            ("http://terminology.hl7.org/CodeSystem/condition-ver-status", verification)
        )
    if body_site is not None or body_site_text:
        resource["bodySite"] = [concept(body_site, body_site_text)]
    if onset:
        resource["onsetDateTime"] = onset
    if recorded:
        resource["recordedDate"] = recorded
    if severity:
        resource["severity"] = concept(severity)
    return resource


def observation(
    id: str,
    code: list[Coding] | Coding | None = None,
    *,
    text: str | None = None,
    value: tuple[float, str] | None = None,
    ucum: str | None = None,
    status: str = "final",
    effective: str | None = None,
    interpretation: str | None = None,
    reference_range: tuple[float | None, float | None, str | None] | None = None,
    category: str | None = None,
    value_string: str | None = None,
    value_concept: JSON | None = None,
    body_site: list[Coding] | Coding | None = None,
    subject: str | None = None,
) -> JSON:
    resource: JSON = {
        "resourceType": "Observation",
        "id": id,
        "status": status,
        "subject": _subject(subject),
        "code": concept(code, text),
        "effectiveDateTime": effective or days_ago(1),
    }
    if category:
        resource["category"] = [concept(("http://terminology.hl7.org/CodeSystem/observation-category", category))]
    if value is not None:
        resource["valueQuantity"] = {"value": value[0], "unit": value[1], "system": UCUM, "code": ucum or value[1]}
    if value_string is not None:
        resource["valueString"] = value_string
    if value_concept is not None:
        resource["valueCodeableConcept"] = value_concept
    if interpretation:
        resource["interpretation"] = [
            concept(("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", interpretation))
        ]
    if reference_range:
        low, high, unit = reference_range
        bounds: JSON = {}
        if low is not None:
            bounds["low"] = {"value": low, **({"unit": unit} if unit else {})}
        if high is not None:
            bounds["high"] = {"value": high, **({"unit": unit} if unit else {})}
        resource["referenceRange"] = [bounds]
    if body_site is not None:
        resource["bodySite"] = concept(body_site)
    return resource


def diagnostic_report(
    id: str,
    code: list[Coding] | Coding | None = None,
    *,
    text: str | None = None,
    conclusion: str | None = None,
    conclusion_codes: list[Coding] | None = None,
    status: str = "final",
    effective: str | None = None,
    subject: str | None = None,
) -> JSON:
    resource: JSON = {
        "resourceType": "DiagnosticReport",
        "id": id,
        "status": status,
        "subject": _subject(subject),
        "code": concept(code, text),
        "effectiveDateTime": effective or days_ago(1),
        "category": [concept(("http://terminology.hl7.org/CodeSystem/v2-0074", "RAD"))],
    }
    if conclusion:
        resource["conclusion"] = conclusion
    if conclusion_codes:
        resource["conclusionCode"] = [concept(c) for c in conclusion_codes]
    return resource


def imaging_study(
    id: str,
    modality: str,
    *,
    body_site: Coding | None = None,
    description: str | None = None,
    started: str | None = None,
    status: str = "available",
    subject: str | None = None,
) -> JSON:
    series: JSON = {"uid": f"1.2.3.{abs(hash(id)) % 1000}", "modality": {"system": DCM, "code": modality}}
    if body_site:
        series["bodySite"] = {
            "system": body_site[0],
            "code": body_site[1],
            **({"display": body_site[2]} if len(body_site) > 2 else {}),
        }
    resource: JSON = {
        "resourceType": "ImagingStudy",
        "id": id,
        "status": status,
        "subject": _subject(subject),
        "modality": [{"system": DCM, "code": modality}],
        "started": started or f"{days_ago(1)}T09:00:00Z",
        "series": [series],
    }
    if description:
        resource["description"] = description
    return resource


def service_request(
    id: str,
    code: list[Coding] | Coding | None = None,
    *,
    text: str | None = None,
    status: str = "active",
    reason_codes: list[JSON] | None = None,
    reason_refs: list[str] | None = None,
    occurrence: str | None = None,
    body_site: Coding | None = None,
    subject: str | None = None,
) -> JSON:
    resource: JSON = {
        "resourceType": "ServiceRequest",
        "id": id,
        "status": status,
        "intent": "order",
        "subject": _subject(subject),
        "code": concept(code, text),
    }
    if reason_codes:
        resource["reasonCode"] = reason_codes
    if reason_refs:
        resource["reasonReference"] = [{"reference": r} for r in reason_refs]
    if occurrence:
        resource["occurrenceDateTime"] = occurrence
    if body_site:
        resource["bodySite"] = [concept(body_site)]
    return resource


def procedure(
    id: str,
    code: list[Coding] | Coding | None = None,
    *,
    text: str | None = None,
    status: str = "completed",
    performed: str | None = None,
    subject: str | None = None,
) -> JSON:
    return {
        "resourceType": "Procedure",
        "id": id,
        "status": status,
        "subject": _subject(subject),
        "code": concept(code, text),
        "performedDateTime": performed or days_ago(1),
    }


def raw_record(*resources: JSON, drafts: tuple[JSON, ...] = (), selections: tuple[str, ...] = ()) -> RawRecord:
    record = RawRecord(patient={"resourceType": "Patient", "id": PATIENT_ID})
    for resource in resources:
        record.resources.setdefault(resource["resourceType"], []).append(resource)
    record.draft_orders = list(drafts)
    record.selections = list(selections)
    return record


def clinical_data(*resources: JSON, drafts: tuple[JSON, ...] = (), selections: tuple[str, ...] = ()) -> ClinicalData:
    return to_clinical_data(raw_record(*resources, drafts=drafts, selections=selections), PATIENT_ID)


def facts_for(
    *resources: JSON,
    hook: str = "patient-view",
    today: date = TODAY,
    drafts: tuple[JSON, ...] = (),
    selections: tuple[str, ...] | None = None,
    config: PathwayConfig | None = None,
) -> Facts:
    if selections is None:
        selections = tuple(f"{d['resourceType']}/{d['id']}" for d in drafts)
    data = clinical_data(*resources, drafts=drafts, selections=selections)
    return build_facts(data, hook=hook, today=today, config=config or load_pathway_config())
