"""Random FHIR resources of every shape the facts step might meet: any value set's codes or words, the
hospital's own codes, text only, no code; searched and unsearched categories, with and without a system;
every status; sites at the foot, wider, elsewhere or none; studies with the modality at study level, in a
series or only in a procedure code. Valid FHIR R4 (a FHIR server accepts them), built from a `random.Random`
so the same seed gives the same resource.

Used to check that every shape the facts step accepts is reachable by some prefetch template.
"""

from __future__ import annotations

import random
from typing import Any

from cds_service.guideline.valuesets import load_valuesets

__all__ = ["SELECTED", "random_resource"]

JSON = dict[str, Any]
SELECTED = ("Condition", "Observation", "DiagnosticReport", "ImagingStudy", "ServiceRequest", "Procedure")
LOCAL = "http://hospital.example.org/fhir/CodeSystem/any"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
STATUSES = {
    "Observation": ("final", "amended", "corrected", "preliminary", "registered", "cancelled", "entered-in-error"),
    "DiagnosticReport": ("final", "amended", "corrected", "appended", "preliminary", "partial", "registered",
                         "cancelled", "entered-in-error"),
    "ImagingStudy": ("available", "registered", "unknown", "cancelled", "entered-in-error"),
    "ServiceRequest": ("active", "completed", "draft", "on-hold", "revoked", "entered-in-error"),
    "Procedure": ("completed", "in-progress", "not-done", "stopped", "entered-in-error"),
}
CATEGORIES = (
    None,
    (OBS_CATEGORY, "laboratory"), (OBS_CATEGORY, "imaging"), (OBS_CATEGORY, "exam"), (OBS_CATEGORY, "procedure"),
    (OBS_CATEGORY, "vital-signs"), (OBS_CATEGORY, "social-history"),
    (V2_0074, "RAD"), (V2_0074, "CT"), (V2_0074, "LAB"), (V2_0074, "RUS"), (V2_0074, "IMG"), (V2_0074, "CUS"),
    ("http://loinc.org", "LP29684-5"), (None, "imaging"), (None, "laboratory"), (None, "RAD"), ("text", "Radiology"),
)
SITES = (None, "foot", "Left heel", "Left thigh", "Right lower leg", "Skin")
MODALITIES = (None, "DX", "CR", "MR", "CT", "US")


def _pools() -> tuple[list[tuple[str, str, str]], list[str]]:
    valuesets = load_valuesets()
    members = [(m.system, m.code, m.display) for vs in valuesets.sets.values() for m in vs.members]
    terms = [term for vs in valuesets.sets.values() for term in vs.text_terms]
    return members, terms


_MEMBERS, _TERMS = _pools()


def _words(rng: random.Random) -> str:
    words = [rng.choice(_TERMS) for _ in range(rng.randint(1, 3))]
    prefix = rng.choice(("", "Left ", "Right ", "No ", "History of ", ""))
    return prefix + " of the ".join(words)


def _concept(rng: random.Random) -> JSON:
    form = rng.randrange(6)
    if form == 0:
        system, code, display = rng.choice(_MEMBERS)
        return {"coding": [{"system": system, "code": code, **({"display": display} if rng.random() < 0.5 else {})}]}
    if form == 1:
        return {"coding": [{"system": LOCAL, "code": f"L{rng.randrange(1000)}", "display": _words(rng)}]}
    if form == 2:
        return {"text": _words(rng)}
    if form == 3:
        system, code, display = rng.choice(_MEMBERS)
        return {"coding": [{"system": LOCAL, "code": "X1"}, {"system": system, "code": code}], "text": _words(rng)}
    if form == 4:
        return {"coding": [{"system": LOCAL, "code": f"L{rng.randrange(1000)}"}]}  # nothing readable
    return {"text": "Unrelated finding"}


def _category(rng: random.Random) -> list[JSON] | None:
    choice = rng.choice(CATEGORIES)
    if choice is None:
        return None
    system, code = choice
    if system == "text":
        return [{"text": code}]
    return [{"coding": [{"code": code} if system is None else {"system": system, "code": code}]}]


def _site(rng: random.Random) -> JSON | None:
    site = rng.choice(SITES)
    if site is None:
        return None
    if site == "foot":
        return {"coding": [{"system": "http://snomed.info/sct", "code": "56459004"}]}
    return {"text": site}


def _day(rng: random.Random) -> str:
    return f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}"


def random_resource(rng: random.Random, patient_id: str, index: int) -> JSON:
    resource_type = rng.choice(SELECTED)
    resource: JSON = {"resourceType": resource_type, "id": f"shape-{index}",
                      "subject": {"reference": f"Patient/{patient_id}"}}
    category = _category(rng)
    site = _site(rng)
    if resource_type == "Condition":
        resource["code"] = _concept(rng)
        if rng.random() < 0.5:
            status = rng.choice(("active", "recurrence", "relapse", "inactive", "remission", "resolved"))
            resource["clinicalStatus"] = {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": status}]}
        if site:
            resource["bodySite"] = [site]
        resource["recordedDate"] = _day(rng)
    elif resource_type == "Observation":
        resource["status"] = rng.choice(STATUSES[resource_type])
        resource["code"] = _concept(rng)
        if category:
            resource["category"] = category
        resource["effectiveDateTime"] = _day(rng)
        if rng.random() < 0.5:
            resource["valueString"] = _words(rng)
        else:
            resource["valueQuantity"] = {"value": rng.randint(1, 300) / 10, "unit": "mg/dL"}
        if site:
            resource["bodySite"] = site
    elif resource_type == "DiagnosticReport":
        resource["status"] = rng.choice(STATUSES[resource_type])
        resource["code"] = _concept(rng)
        if category:
            resource["category"] = category
        resource["effectiveDateTime"] = _day(rng)
        resource["conclusion"] = _words(rng) + rng.choice(("", " in the soft tissue", " of the tendon"))
    elif resource_type == "ImagingStudy":
        resource["status"] = rng.choice(STATUSES[resource_type])
        resource["started"] = _day(rng)
        modality = rng.choice(MODALITIES)
        if modality:
            resource["modality"] = [{"system": DCM, "code": modality}]
        series_modality = rng.choice(MODALITIES)
        if series_modality:
            series: JSON = {"uid": f"2.25.{index}", "modality": {"system": DCM, "code": series_modality}}
            if site and "coding" in site:
                series["bodySite"] = site["coding"][0]
            resource["series"] = [series]
        if rng.random() < 0.5:
            resource["procedureCode"] = [_concept(rng)]
        if rng.random() < 0.5:
            resource["description"] = _words(rng)
    elif resource_type == "ServiceRequest":
        resource["status"] = rng.choice(STATUSES[resource_type])
        resource["intent"] = "order"
        resource["code"] = _concept(rng)
        if site:
            resource["bodySite"] = [site]
        resource["authoredOn"] = _day(rng)
    else:  # Procedure
        resource["status"] = rng.choice(STATUSES[resource_type])
        resource["code"] = _concept(rng)
        if site:
            resource["bodySite"] = [site]
        resource["performedDateTime"] = _day(rng)
    return resource
