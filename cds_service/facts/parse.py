"""RawRecord (JSON) -> ClinicalData (validated R4B models): select first, then validate only that.

A resource that fails validation is left out and listed as a `DataIssue` naming the resource (`Type/id`,
never a Patient id) and the validation problem (field path and message, never the input values).
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from cds_service.facts.access import json_type_problem, watch, watched
from cds_service.facts.select import SELECTED_TYPES, array_problem, is_relevant, keep_latest_labs, skip_reason
from cds_service.gathering.records import ClinicalData, DataIssue, RawRecord
from cds_service.protocol.json_body import MAX_RESOURCE_DEPTH, nests_deeper_than
from cds_service.guideline.valuesets import load_valuesets

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


def validate(resource: JSON, where: str, patient_id: str, issues: list[DataIssue]) -> Resource | None:
    """The R4B model of `resource`, or None with a DataIssue (also for a resource nested too deeply for
    validation to recurse through: gathering does not walk every resource, only what is validated is)."""
    resource_type = resource.get("resourceType")
    if nests_deeper_than(resource, MAX_RESOURCE_DEPTH):
        issues.append(DataIssue(where, _label(resource), f"nests deeper than {MAX_RESOURCE_DEPTH} levels; left out"))
        return None
    try:
        model_class = get_fhir_model_class(str(resource_type))
    except (KeyError, ValueError):
        issues.append(DataIssue(where, _label(resource), f"unknown resourceType {resource_type!r}; left out"))
        return None
    try:
        return model_class.model_validate(resource)
    except ValidationError as error:
        issues.append(DataIssue(where, _label(resource), f"not valid FHIR R4: {_problem(error, patient_id)}; left out"))
        return None


def to_clinical_data(raw: RawRecord, patient_id: str) -> ClinicalData:
    valuesets = load_valuesets()
    issues: list[DataIssue] = list(raw.issues)
    selected: dict[str, list[Any]] = {resource_type: [] for resource_type in SELECTED_TYPES}

    for resource_type in SELECTED_TYPES:
        candidates = []
        for resource in raw.of_type(resource_type):
            watching = watch()
            reason = skip_reason(resource, resource_type, patient_id)
            relevant = reason is None and is_relevant(resource, resource_type, valuesets)
            met = watched(watching) or array_problem(resource, resource_type)
            if met is not None:
                # A field selection reads has a JSON type FHIR forbids: never guess what it meant.
                problem = json_type_problem(resource, resource_type) or met
                issues.append(DataIssue(f"record.{resource_type}", _label(resource), f"{problem}; left out"))
                continue
            if relevant:
                candidates.append(resource)
        if resource_type == "Observation":
            candidates = keep_latest_labs(candidates, valuesets)
        for resource in candidates:
            model = validate(resource, f"record.{resource_type}", patient_id, issues)
            if model is not None:
                selected[resource_type].append(model)

    patient = None
    if raw.patient is not None:
        validated = validate(raw.patient, "record.Patient", patient_id, issues)
        patient = validated if isinstance(validated, Patient) else None

    drafts: list[Resource] = []
    drafts_raw: list[JSON] = []
    for index, draft in enumerate(raw.draft_orders):
        model = validate(draft, f"context.draftOrders.entry[{index}]", patient_id, issues)
        if model is not None:
            drafts.append(model)
            drafts_raw.append(draft)

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
        draft_orders_raw=tuple(drafts_raw),
        selections=tuple(raw.selections),
        issues=tuple(issues),
    )
