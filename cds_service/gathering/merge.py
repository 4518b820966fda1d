"""Prefetch values and FHIR server answers, merged into one `RawRecord`.

Resources are grouped by `resourceType` and de-duplicated by `Type/id` (the same Observation often comes back
from two keys). Entries that report on the query (OperationOutcome, `search.mode = outcome`) are skipped;
entries that are not resources at all become `DataIssue`s. Resource types a key did not ask for are kept by
type: deciding what a rule reads is the facts step's job.
"""

from __future__ import annotations

import logging
from typing import Any

from cds_service.gathering.prefetch import OUTCOME, is_outcome_entry
from cds_service.gathering.records import DataIssue, RawRecord

__all__ = ["RecordBuilder", "resource_label"]

log = logging.getLogger("cds_service.gathering")

JSON = dict[str, Any]


def resource_label(resource: JSON) -> str | None:
    """`Type/id` for a DataIssue, except for Patients: a Patient id is a patient identifier."""
    resource_type, resource_id = resource.get("resourceType"), resource.get("id")
    if not isinstance(resource_type, str) or resource_type == "Patient" or not isinstance(resource_id, str):
        return None
    return f"{resource_type}/{resource_id}"


class RecordBuilder:
    def __init__(self, patient_id: str) -> None:
        self._patient_id = patient_id
        self._record = RawRecord()
        self._seen: set[str] = set()
        self._patient_read: JSON | None = None

    def issue(self, where: str, problem: str, resource: str | None = None) -> None:
        self._record.issues.append(DataIssue(where=where, resource=resource, problem=problem))

    def add_value(self, where: str, value: JSON, *, patient_read: bool = False) -> None:
        """A resource or a Bundle (one search page, or a prefetch value), as received."""
        if value.get("resourceType") == "Bundle":
            # A client may answer the Patient read with a searchset holding the Patient: same handling.
            self._add_bundle(where, value, patient_read=patient_read)
        else:
            self._add_resource(where, value, patient_read=patient_read)

    def _add_bundle(self, where: str, bundle: JSON, *, patient_read: bool = False) -> None:
        entries = bundle.get("entry", [])
        if not isinstance(entries, list):
            self.issue(where, "Bundle.entry is not an array; the Bundle was left out")
            return
        for index, entry in enumerate(entries):
            at = f"{where}.entry[{index}]"
            if not isinstance(entry, dict):
                self.issue(at, "is not a JSON object; left out")
                continue
            if is_outcome_entry(entry):
                continue
            resource = entry.get("resource")
            if not isinstance(resource, dict):
                self.issue(at, "has no resource; left out")
                continue
            self._add_resource(at, resource, patient_read=patient_read)

    def _add_resource(self, where: str, resource: JSON, *, patient_read: bool) -> None:
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str) or not resource_type:
            self.issue(where, "has no resourceType, so it is not a FHIR resource; left out")
            return
        if resource_type == OUTCOME:
            return
        if patient_read and resource_type == "Patient":
            self._set_patient(where, resource)
            return
        resource_id = resource.get("id")
        if isinstance(resource_id, str):
            key = f"{resource_type}/{resource_id}"
            if key in self._seen:
                return
            self._seen.add(key)
        self._record.resources.setdefault(resource_type, []).append(resource)

    def _set_patient(self, where: str, patient: JSON) -> None:
        if patient.get("id") != self._patient_id:
            # Data of another patient must not drive this patient's cards.
            self.issue(where, "Patient resource is not the patient of context.patientId; left out")
            return
        self._patient_read = patient

    def set_draft_orders(self, draft_orders: JSON | None, selections: list[str]) -> None:
        if draft_orders is not None:
            for entry in draft_orders.get("entry", []):
                # The protocol step checked each entry has a resource with a resourceType and an id.
                self._record.draft_orders.append(entry["resource"])
        self._record.selections = list(selections)

    def build(self) -> RawRecord:
        patient = self._patient_read
        if patient is None:
            # No read result: a Patient that came with a search (e.g. `_include`) is as good.
            for candidate in self._record.resources.get("Patient", []):
                if candidate.get("id") == self._patient_id:
                    patient = candidate
                    break
        self._record.patient = patient
        return self._record
