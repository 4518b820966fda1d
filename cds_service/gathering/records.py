"""What data gathering hands to the facts step.

`RawRecord` is the patient's data as JSON, merged from prefetch and the FHIR server, one list per resource
type, de-duplicated by `Type/id`. `ClinicalData` is what the pathway reads of it, still JSON, each resource
validated with its `fhir.resources` R4B model; resources that fail validation are left out and listed as
`DataIssue`s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ClinicalData", "DataIssue", "RawRecord"]

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class DataIssue:
    """A piece of input the service could not use. Never carries a patient identifier or a token."""

    where: str  # e.g. "prefetch.conditions_1" or "context.draftOrders.entry[0]"
    resource: str | None  # "Observation/abc" when known (resource ids are not patient identifiers)
    problem: str

    def to_json(self) -> JSON:
        body: JSON = {"where": self.where, "problem": self.problem}
        if self.resource:
            body["resource"] = self.resource
        return body


@dataclass(slots=True)
class RawRecord:
    patient: JSON | None = None
    # resourceType -> resources as received (never entered-in-error filtered here: that is a facts rule)
    resources: dict[str, list[JSON]] = field(default_factory=dict)
    draft_orders: list[JSON] = field(default_factory=list)
    # order-select: `Type/id` of the selected drafts; order-sign: every draft
    selections: list[str] = field(default_factory=list)
    # The first `limits.MAX_LISTED_ISSUES` issues; the others are only counted (a hostile Bundle can hold
    # a million broken entries, and listing each made a response fifty times the request).
    issues: list[DataIssue] = field(default_factory=list)
    issues_not_listed: int = 0

    def of_type(self, resource_type: str) -> list[JSON]:
        return self.resources.get(resource_type, [])


@dataclass(frozen=True, slots=True)
class ClinicalData:
    """What the facts step reads: the selected resources' JSON, each validated with its R4B model."""

    patient_id: str
    patient: JSON | None
    conditions: tuple[JSON, ...] = ()
    observations: tuple[JSON, ...] = ()
    imaging_studies: tuple[JSON, ...] = ()
    diagnostic_reports: tuple[JSON, ...] = ()
    service_requests: tuple[JSON, ...] = ()
    procedures: tuple[JSON, ...] = ()
    # Draft orders of the order hooks (ServiceRequest, MedicationRequest, ...), validated, whole: an
    # `update` suggestion returns the whole resource.
    draft_orders: tuple[JSON, ...] = ()
    selections: tuple[str, ...] = ()
    issues: tuple[DataIssue, ...] = ()
