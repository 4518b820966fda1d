"""Resources written the way EHRs send them: the hospital's own codes first (or only), text-only entries,
no clinicalStatus on encounter diagnoses, SI units, value strings and comparators, dataAbsentReason,
periods instead of dates, time zones, partial dates, every status.

Clinical codes come only from shared/reference/terminology.md (a test checks them); the hospital's own
codes use `LOCAL` systems. Dates are `{{today-Nd}}` tokens (`fhir_fixtures.materialize`), ids
`<patient>-<suffix>`.
"""

from __future__ import annotations

import uuid
from typing import Any

from fhir_fixtures.builders import (
    CLINICAL,
    CONDITION_CATEGORY,
    DCM,
    DR_CATEGORY,
    ICD10CM,
    INTERPRETATION,
    LOINC,
    OBS_CATEGORY,
    SNOMED,
    UCUM,
    VERIFICATION,
    Coding,
    ref,
)

__all__ = [
    "CPT",
    "DCM",
    "DR_CATEGORY",
    "ICD10CM",
    "LOCAL",
    "LOINC",
    "SNOMED",
    "concept",
    "local",
    "observation",
    "order",
    "patient",
    "problem",
    "procedure",
    "report",
    "study",
]

JSON = dict[str, Any]
CPT = "http://www.ama-assn.org/go/cpt"
ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
LOCAL = "http://hospital.example.org/fhir/CodeSystem"  # the EHR's own code systems live under it


def local(kind: str, code: str, display: str | None = None) -> Coding | tuple[str, str]:
    """A coding of the hospital's own `kind` code system (problems, lab, rad, orders...)."""
    return (f"{LOCAL}/{kind}", code, display) if display else (f"{LOCAL}/{kind}", code)


def concept(*codings: Coding | tuple[str, str], text: str | None = None) -> JSON:
    body: JSON = {}
    if codings:
        body["coding"] = [
            {"system": c[0], "code": c[1], **({"display": c[2]} if len(c) > 2 and c[2] else {})} for c in codings
        ]
    if text:
        body["text"] = text
    return body


def _subject(pid: str) -> JSON:
    return {"reference": f"Patient/{pid}"}


def patient(pid: str, *, gender: str, birth_date: str, **extra: Any) -> JSON:
    return {"resourceType": "Patient", "id": pid, "gender": gender, "birthDate": birth_date, **extra}


def problem(
    pid: str,
    suffix: str,
    *codings: Coding | tuple[str, str],
    text: str | None = None,
    clinical: str | None = None,
    verification: str | None = None,
    category: str | None = "encounter-diagnosis",
    body_site: JSON | None = None,
    onset: str | JSON | None = None,
    recorded: str | None = None,
    severity: Coding | None = None,
) -> JSON:
    """A Condition; by default an encounter diagnosis with no clinicalStatus (as many EHRs send them).
    `onset` is a dateTime or a Period ({"start": ...})."""
    resource: JSON = {"resourceType": "Condition", "id": f"{pid}-{suffix}", "subject": _subject(pid)}
    if clinical:
        resource["clinicalStatus"] = concept((CLINICAL, clinical))
    if verification:
        resource["verificationStatus"] = concept((VERIFICATION, verification))
    if category:
        resource["category"] = [concept((CONDITION_CATEGORY, category))]
    resource["code"] = concept(*codings, text=text)
    if body_site is not None:
        resource["bodySite"] = [body_site]
    if severity:
        resource["severity"] = concept(severity)
    if isinstance(onset, dict):
        resource["onsetPeriod"] = onset
    elif onset:
        resource["onsetDateTime"] = onset
    if recorded:
        resource["recordedDate"] = recorded
    return resource


def observation(
    pid: str,
    suffix: str,
    *codings: Coding | tuple[str, str],
    text: str | None = None,
    when: str | JSON | None,
    value: tuple[float, str] | None = None,
    value_string: str | None = None,
    comparator: str | None = None,
    status: str = "final",
    category: str | None = "laboratory",
    interpretation: str | None = None,
    reference_range: tuple[float | None, float | None, str] | None = None,
    absent: str | None = None,
) -> JSON:
    """An Observation. `when` is a dateTime or a Period; `value` a (number, printed unit) Quantity whose UCUM
    code is the unit; `absent` a data-absent-reason code (and then no value)."""
    resource: JSON = {"resourceType": "Observation", "id": f"{pid}-{suffix}", "status": status}
    if category:
        resource["category"] = [concept((OBS_CATEGORY, category))]
    resource["code"] = concept(*codings, text=text)
    resource["subject"] = _subject(pid)
    if isinstance(when, dict):
        resource["effectivePeriod"] = when
    elif when:
        resource["effectiveDateTime"] = when
    if value is not None:
        quantity: JSON = {"value": value[0], "unit": value[1], "system": UCUM, "code": value[1]}
        if comparator:
            quantity["comparator"] = comparator
        resource["valueQuantity"] = quantity
    if value_string is not None:
        resource["valueString"] = value_string
    if absent:
        resource["dataAbsentReason"] = concept((ABSENT, absent))
    if interpretation:
        resource["interpretation"] = [concept((INTERPRETATION, interpretation))]
    if reference_range:
        low, high, unit = reference_range
        bounds: JSON = {}
        if low is not None:
            bounds["low"] = {"value": low, "unit": unit}
        if high is not None:
            bounds["high"] = {"value": high, "unit": unit}
        resource["referenceRange"] = [bounds]
    return resource


def report(
    pid: str,
    suffix: str,
    *codings: Coding | tuple[str, str],
    text: str | None = None,
    when: str | JSON,
    conclusion: str,
    status: str = "final",
    category: str | None = "RAD",
) -> JSON:
    """A DiagnosticReport, categorised the R4 way (HL7 v2-0074) unless `category` is None."""
    resource: JSON = {"resourceType": "DiagnosticReport", "id": f"{pid}-{suffix}", "status": status}
    if category:
        resource["category"] = [concept((DR_CATEGORY, category))]
    resource["code"] = concept(*codings, text=text)
    resource["subject"] = _subject(pid)
    if isinstance(when, dict):
        resource["effectivePeriod"] = when
    else:
        resource["effectiveDateTime"] = when
    resource["conclusion"] = conclusion
    return resource


def study(
    pid: str,
    suffix: str,
    *,
    started: str,
    modality: str | None = None,
    series_modality: str | None = None,
    procedure: Coding | tuple[str, str] | None = None,
    description: str | None = None,
    status: str = "available",
) -> JSON:
    """An ImagingStudy with its modality at study level only, in a series, or only in `procedure`."""
    resource: JSON = {"resourceType": "ImagingStudy", "id": f"{pid}-{suffix}", "status": status,
                      "subject": _subject(pid), "started": started}
    if modality:
        resource["modality"] = [{"system": DCM, "code": modality}]
    if series_modality:
        resource["series"] = [{"uid": f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, f'ehr:{pid}-{suffix}').int}",
                               "modality": {"system": DCM, "code": series_modality}}]
    if procedure:
        resource["procedureCode"] = [concept(procedure)]
    if description:
        resource["description"] = description
    return resource


def order(
    pid: str,
    suffix: str,
    *codings: Coding | tuple[str, str],
    text: str | None = None,
    status: str = "draft",
    authored: str = "{{today}}",
    body_site: JSON | None = None,
    reason_codes: tuple[JSON, ...] = (),
    reasons: tuple[JSON, ...] = (),
) -> JSON:
    resource: JSON = {"resourceType": "ServiceRequest", "id": f"{pid}-{suffix}", "status": status,
                      "intent": "order", "code": concept(*codings, text=text), "subject": _subject(pid),
                      "authoredOn": authored}
    if body_site is not None:
        resource["bodySite"] = [body_site]
    if reason_codes:
        resource["reasonCode"] = list(reason_codes)
    if reasons:
        resource["reasonReference"] = [ref(r) for r in reasons]
    return resource


def procedure(
    pid: str, suffix: str, *codings: Coding | tuple[str, str], text: str | None = None, when: str | JSON,
    status: str = "completed",
) -> JSON:
    resource: JSON = {"resourceType": "Procedure", "id": f"{pid}-{suffix}", "status": status,
                      "code": concept(*codings, text=text), "subject": _subject(pid)}
    if isinstance(when, dict):
        resource["performedPeriod"] = when
    else:
        resource["performedDateTime"] = when
    return resource
