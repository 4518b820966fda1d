"""RawRecord (JSON) -> ClinicalData (the JSON the pathway reads, validated): select first, then validate
only that.

Each selected resource (and the Patient, and the draft orders) is validated with its `fhir.resources` R4B
model; the model is then dropped and the facts step reads the JSON itself, through the type-safe readers of
`access.py` (a model's attribute reads cost several times a dict's, and the facts step reads thousands of
fields a call). A resource that fails validation is left out and listed as a `DataIssue` naming the
resource (`Type/id`, never a Patient id) and the validation problem (field path and message, never the
input values).
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from cds_service.facts.access import json_type_problem
from cds_service.facts.select import SELECTED_TYPES, select
from cds_service.gathering.records import ClinicalData, DataIssue, RawRecord
from cds_service.guideline.valuesets import load_valuesets, normalising_once
from cds_service.protocol.json_body import MAX_RESOURCE_DEPTH, nests_deeper_than

__all__ = ["MAX_PROBLEMS_PER_ISSUE", "to_clinical_data", "validate"]

JSON = dict[str, Any]
MAX_PROBLEMS_PER_ISSUE = 5  # a badly broken resource yields one issue listing its first few problems


def _label(resource: JSON) -> str | None:
    resource_type, resource_id = resource.get("resourceType"), resource.get("id")
    if resource_type == "Patient" or not isinstance(resource_id, str):
        return None  # a Patient id is a patient identifier
    return f"{resource_type}/{resource_id}"


def _problem(error: ValidationError, patient_id: str) -> str:
    parts = []
    for detail in error.errors(include_input=False, include_url=False)[:MAX_PROBLEMS_PER_ISSUE]:
        location = ".".join(str(p) for p in detail.get("loc", ())) or "(resource)"
        message = " ".join(str(detail.get("msg", "invalid")).split())
        parts.append(f"{location}: {message}")
    more = error.error_count() - MAX_PROBLEMS_PER_ISSUE
    if more > 0:
        parts.append(f"and {more} more")
    text = "; ".join(parts)
    # Belt and braces: a model's own message could quote a value; the patient id must never show.
    return text.replace(patient_id, "<patient>") if patient_id else text


def validate(resource: JSON, where: str, patient_id: str, issues: list[DataIssue]) -> bool:
    """Whether `resource` is valid FHIR R4 (its R4B model validates); if not, a DataIssue says why. Also
    False, with an issue, for a resource nested too deeply for validation to recurse through (gathering
    does not walk every resource: only what is validated is)."""
    resource_type = resource.get("resourceType")
    if nests_deeper_than(resource, MAX_RESOURCE_DEPTH):
        issues.append(DataIssue(where, _label(resource), f"nests deeper than {MAX_RESOURCE_DEPTH} levels; left out"))
        return False
    try:
        model_class = get_fhir_model_class(str(resource_type))
    except (KeyError, ValueError):
        issues.append(DataIssue(where, _label(resource), f"unknown resourceType {resource_type!r}; left out"))
        return False
    try:
        model_class.model_validate(resource)
    except ValidationError as error:
        issues.append(DataIssue(where, _label(resource), f"not valid FHIR R4: {_problem(error, patient_id)}; left out"))
        return False
    return True


def _reason_references(draft: JSON) -> list[str]:
    references = draft.get("reasonReference")
    if not isinstance(references, list):
        return []
    return [r["reference"] for r in references if isinstance(r, dict) and isinstance(r.get("reference"), str)]


@normalising_once()  # selection tests a text against several value sets: normalised once
def to_clinical_data(raw: RawRecord, patient_id: str) -> ClinicalData:
    valuesets = load_valuesets()
    issues: list[DataIssue] = list(raw.issues)
    selected: dict[str, list[JSON]] = {resource_type: [] for resource_type in SELECTED_TYPES}

    for resource_type in SELECTED_TYPES:
        chosen, rejected = select(raw.of_type(resource_type), resource_type, valuesets)
        where = f"record.{resource_type}"
        for bad in rejected:
            # Name the precise field (the readers noted only what they met first, cheaply).
            problem = json_type_problem(bad.resource, resource_type) or bad.problem
            issues.append(DataIssue(where, _label(bad.resource), f"{problem}; left out"))
        for candidates in chosen:
            for group in candidates.groups:  # validated in turn, until one has a valid resource
                valid = [r for r in group if validate(r, where, patient_id, issues)]
                if valid:
                    selected[resource_type] += valid
                    break

    patient = None
    if raw.patient is not None and raw.patient.get("resourceType") == "Patient":
        patient = raw.patient if validate(raw.patient, "record.Patient", patient_id, issues) else None

    drafts = [
        draft
        for index, draft in enumerate(raw.draft_orders)
        if validate(draft, f"context.draftOrders.entry[{index}]", patient_id, issues)
    ]
    # Issue 16: a draft's reasonReference may name a Condition no value set selects ("Injury of knee"); it
    # is read for the site it names, so it is kept (validated) too. Only when a draft has such a reference.
    wanted = {ref for draft in drafts for ref in _reason_references(draft)} - {
        _label(c) for c in selected["Condition"]
    }
    if wanted:
        for condition in raw.of_type("Condition"):
            if _label(condition) in wanted and validate(condition, "record.Condition", patient_id, issues):
                selected["Condition"].append(condition)
                wanted.discard(_label(condition))

    return ClinicalData(
        patient_id=patient_id,
        patient=patient,
        conditions=tuple(selected["Condition"]),
        observations=tuple(selected["Observation"]),
        imaging_studies=tuple(selected["ImagingStudy"]),
        diagnostic_reports=tuple(selected["DiagnosticReport"]),
        service_requests=tuple(selected["ServiceRequest"]),
        procedures=tuple(selected["Procedure"]),
        draft_orders=tuple(drafts),
        selections=tuple(raw.selections),
        issues=tuple(issues),
    )
