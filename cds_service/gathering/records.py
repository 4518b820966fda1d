"""What data gathering hands to the facts step.

`RawRecord` is the patient's data as JSON, merged from prefetch and the FHIR server, one list per resource
type, de-duplicated by `Type/id`. `ClinicalData` is what the pathway reads of it, validated with the
`fhir.resources` R4B models; resources that fail validation are left out and listed as `DataIssue`s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.imagingstudy import ImagingStudy
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.resource import Resource
from fhir.resources.R4B.servicerequest import ServiceRequest

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
    patient_id: str
    patient: Patient | None
    conditions: tuple[Condition, ...] = ()
    observations: tuple[Observation, ...] = ()
    imaging_studies: tuple[ImagingStudy, ...] = ()
    diagnostic_reports: tuple[DiagnosticReport, ...] = ()
    service_requests: tuple[ServiceRequest, ...] = ()
    procedures: tuple[Procedure, ...] = ()
    # Draft orders of the order hooks, as validated models (ServiceRequest, MedicationRequest, ...),
    # with their raw JSON so an `update` suggestion can return the whole resource.
    draft_orders: tuple[Resource, ...] = ()
    draft_orders_raw: tuple[JSON, ...] = ()
    selections: tuple[str, ...] = ()
    issues: tuple[DataIssue, ...] = ()
