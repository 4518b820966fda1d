"""RawRecord (JSON) -> ClinicalData (the JSON the pathway reads, validated): select first, then validate
only that.

Each selected resource (and the Patient, and the draft orders) is validated with its `fhir.resources` R4B
model; the model is then dropped and the facts step reads the JSON itself, through the type-safe readers of
`access.py` (a model's attribute reads cost several times a dict's, and the facts step reads thousands of
fields a call). A resource that fails validation is left out and listed as a `DataIssue` naming the
resource (`Type/id`, never a Patient id) and the validation problem (field path and message, never the
input values).

Draft orders are read leniently: an EHR's draft is work in progress (the CDS Hooks Sandbox sends
MedicationRequests with no `intent` and a lone `category` object), and dropping the whole order would hide
it from the order checks. A draft whose only problems lie in fields the facts step does not read of that
type (`DRAFT_FIELDS_READ`) is kept without those fields, and a DataIssue names each field not read and why;
a problem in a field the facts step reads still leaves the draft out, as for any resource. A ServiceRequest
draft may go back to the EHR whole in an update suggestion, so it is kept only as sent: with a required
field missing that is not read (its `intent`), not with invalid values removed.
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

__all__ = ["DRAFT_FIELDS_READ", "MAX_PROBLEMS_PER_ISSUE", "to_clinical_data", "validate", "validate_draft"]

JSON = dict[str, Any]
MAX_PROBLEMS_PER_ISSUE = 5  # a badly broken resource yields one issue listing its first few problems


def _label(resource: JSON) -> str | None:
    resource_type, resource_id = resource.get("resourceType"), resource.get("id")
    if resource_type == "Patient" or not isinstance(resource_id, str):
        return None  # a Patient id is a patient identifier
    return f"{resource_type}/{resource_id}"


def _problem(error: ValidationError, patient_id: str) -> str:
    return _problems(error.errors(include_input=False, include_url=False), patient_id)


def _problems(details: list[Any], patient_id: str) -> str:
    parts = []
    for detail in details[:MAX_PROBLEMS_PER_ISSUE]:
        location = ".".join(str(p) for p in detail.get("loc", ())) or "(resource)"
        message = " ".join(str(detail.get("msg", "invalid")).split())
        parts.append(f"{location}: {message}")
    more = len(details) - MAX_PROBLEMS_PER_ISSUE
    if more > 0:
        parts.append(f"and {more} more")
    text = "; ".join(parts)
    # Belt and braces: a model's own message could quote a value; the patient id must never show.
    return text.replace(patient_id, "<patient>") if patient_id else text


# What the facts step reads of a draft order, by type (facts/orders.py `read_order` and the order checks,
# facts/recognise.py for an imaging order's site and texts). A field outside these may be invalid or
# missing without costing the order; a field the facts step reads never is read from invalid JSON.
_DRAFT_COMMON = frozenset({"resourceType", "id", "status", "subject", "reasonReference"})
DRAFT_FIELDS_READ: dict[str, frozenset[str]] = {
    "ServiceRequest": _DRAFT_COMMON | {
        "code", "category", "bodySite", "reasonCode", "occurrenceDateTime", "occurrencePeriod", "note",
    },
    "MedicationRequest": _DRAFT_COMMON | {"medicationCodeableConcept", "medicationReference"},
}
_DRAFT_OTHER = _DRAFT_COMMON | {"code", "medicationCodeableConcept", "occurrenceDateTime", "occurrencePeriod"}
# Drafts an update suggestion returns whole (pathway/follow_up.py): never read with fields removed.
_RETURNED_WHOLE = frozenset({"ServiceRequest"})


def _error_fields(details: list[Any]) -> set[str] | None:
    """The top-level fields the errors are in; None when one is about the resource as a whole."""
    fields = set()
    for detail in details:
        location = detail.get("loc", ())
        if not location or not isinstance(location[0], str):
            return None
        fields.add(location[0])
    return fields


def _is_missing(detail: Any) -> bool:
    return "missing" in str(detail.get("type", ""))


def validate_draft(draft: JSON, where: str, patient_id: str, issues: list[DataIssue]) -> JSON | None:
    """The draft to read (itself when valid; without the invalid fields it is not read for when only those
    are invalid, with a DataIssue naming them), or None (left out, with a DataIssue), as `validate`."""
    resource_type = draft.get("resourceType")
    try:
        model_class = get_fhir_model_class(str(resource_type))
    except (KeyError, ValueError):
        model_class = None
    if model_class is None or nests_deeper_than(draft, MAX_RESOURCE_DEPTH):
        return draft if validate(draft, where, patient_id, issues) else None
    try:
        model_class.model_validate(draft)
        return draft
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)
    read = DRAFT_FIELDS_READ.get(str(resource_type), _DRAFT_OTHER)
    fields = _error_fields(first)
    removes = not all(_is_missing(detail) for detail in first)
    if fields is None or fields & read or (removes and resource_type in _RETURNED_WHOLE):
        issues.append(DataIssue(where, _label(draft), f"not valid FHIR R4: {_problems(first, patient_id)}; left out"))
        return None
    kept = {name: value for name, value in draft.items() if name not in fields}
    details = list(first)
    try:
        model_class.model_validate(kept)
    except ValidationError as error:
        # Checked only once the fields are valid: required elements (an R4 MedicationRequest's `intent`).
        again = error.errors(include_input=False, include_url=False)
        more = _error_fields(again)
        if more is None or more & read or not all(_is_missing(d) for d in again):
            issues.append(DataIssue(
                where, _label(draft), f"not valid FHIR R4: {_problems(details + again, patient_id)}; left out"
            ))
            return None
        details += [d for d in again if d.get("loc", ("",))[0] not in fields]  # not twice for a field
        fields |= more
    issues.append(DataIssue(
        where,
        _label(draft),
        f"not read: {', '.join(sorted(fields))} (the service does not use them for this order; "
        f"{_problems(details, patient_id)}); the rest of the draft was read",
    ))
    return kept


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
        kept
        for index, draft in enumerate(raw.draft_orders)
        if (kept := validate_draft(draft, f"context.draftOrders.entry[{index}]", patient_id, issues)) is not None
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
