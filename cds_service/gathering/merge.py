"""Prefetch values and FHIR server answers, merged into one `RawRecord` of the context patient's data.

Resources are grouped by `resourceType` and de-duplicated by `Type/id` (the same Observation often comes back
from two keys). Entries that report on the query (OperationOutcome, `search.mode = outcome`) are skipped;
entries that are not resources at all become `DataIssue`s (the first `MAX_LISTED_ISSUES` listed, the rest
counted). Resource types a key did not ask for are kept by type: deciding what a rule reads is the facts
step's job. Whose data it is, though, is decided here, once (`belongs_to_patient`).

A value that cannot be used at all raises `UnusableValue`, and its key is missing (412): a Bundle of more
than `MAX_ENTRIES_PER_KEY` entries, or a Patient read that answered another patient (the server or the
client is mixing up patients, so nothing else it sent for this call can be trusted either).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from fhir.resources.R4B import get_fhir_model_class

from cds_service.gathering import limits
from cds_service.gathering.prefetch import OUTCOME, is_outcome_entry
from cds_service.gathering.records import DataIssue, RawRecord

__all__ = [
    "NOT_THIS_PATIENT",
    "RecordBuilder",
    "UnusableValue",
    "belongs_to_patient",
    "patient_element",
    "resource_label",
]

log = logging.getLogger("cds_service.gathering")

JSON = dict[str, Any]

NOT_THIS_PATIENT = "is not the context patient's data"
WRONG_PATIENT_READ = "the Patient read answered another patient than context.patientId"


class UnusableValue(Exception):
    """A prefetch value or fetched answer that cannot be used at all. `reason` is safe for a 412 body."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def resource_label(resource: JSON) -> str | None:
    """`Type/id` for a DataIssue, except for Patients: a Patient id is a patient identifier."""
    resource_type, resource_id = resource.get("resourceType"), resource.get("id")
    if not isinstance(resource_type, str) or resource_type == "Patient" or not isinstance(resource_id, str):
        return None
    if len(resource_id) > limits.MAX_LABEL_ID_CHARS:
        resource_id = resource_id[: limits.MAX_LABEL_ID_CHARS] + "..."
    return f"{resource_type[: limits.MAX_LABEL_ID_CHARS]}/{resource_id}"


@lru_cache(maxsize=256)
def patient_element(resource_type: str) -> str | None:
    """The element naming whose data a resource of this type is (`subject`, else `patient`), or None for
    types that are nobody's data (Practitioner, Organization, Medication, ...) or that R4B does not know."""
    try:
        fields = get_fhir_model_class(resource_type).model_fields
    except (KeyError, ValueError):
        return None
    for name in ("subject", "patient"):
        if name in fields:
            return name
    return None


def belongs_to_patient(reference: Any, patient_id: str, fhir_server: str | None) -> bool:
    """Whether a Reference points at the context patient, spelled as FHIR spells it.

    Yes: `Patient/<id>`, `Patient/<id>/_history/<v>`, and the same as an absolute URL on the call's own
    `fhirServer`. No: an identifier or display only, a `urn:uuid:` or `#contained` reference, `patient/<id>`
    (FHIR type names are case-sensitive), a URL on another server (or any absolute URL when the call names
    no FHIR server), a `type` other than Patient, and no reference at all.
    """
    if not isinstance(reference, dict):
        return False
    target = reference.get("reference")
    if not isinstance(target, str):
        return False
    declared_type = reference.get("type")
    if declared_type is not None and declared_type != "Patient":
        return False
    if "://" in target:
        relative = _relative_to(target, fhir_server)
        if relative is None:
            return False
        target = relative
    parts = target.split("/")
    if len(parts) == 4 and parts[2] == "_history":
        parts = parts[:2]
    return len(parts) == 2 and parts[0] == "Patient" and parts[1] == patient_id


def _relative_to(url: str, fhir_server: str | None) -> str | None:
    """`url` relative to the FHIR server's base, or None when it is on another server (or there is none)."""
    if fhir_server is None:
        return None
    base, target = urlsplit(fhir_server.rstrip("/") + "/"), urlsplit(url)
    if (target.scheme.lower(), target.netloc.lower()) != (base.scheme.lower(), base.netloc.lower()):
        return None
    if target.query or target.fragment or not target.path.startswith(base.path):
        return None
    return target.path[len(base.path):]


def _entry_at(where: str, index: int | None) -> str:
    return where if index is None else f"{where}.entry[{index}]"


class RecordBuilder:
    def __init__(self, patient_id: str, fhir_server: str | None = None) -> None:
        self._patient_id = patient_id
        self._fhir_server = fhir_server
        self._own_reference = f"Patient/{patient_id}"  # how almost every resource says it
        self._record = RawRecord()
        self._seen: set[tuple[str, str]] = set()  # (resourceType, id) of the resources kept
        self._patient_read: JSON | None = None

    def issue(self, where: str, problem: str, resource: str | None = None) -> None:
        if len(self._record.issues) < limits.MAX_LISTED_ISSUES:
            self._record.issues.append(DataIssue(where=where, resource=resource, problem=problem))
        else:
            self._record.issues_not_listed += 1

    def add_value(self, where: str, value: JSON, *, patient_read: bool = False) -> None:
        """A resource or a Bundle (one search page, or a prefetch value), as received.

        Raises `UnusableValue` when the whole value must not be used (its key is then missing).
        """
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
        if len(entries) > limits.MAX_ENTRIES_PER_KEY:
            raise UnusableValue(f"Bundle has more than {limits.MAX_ENTRIES_PER_KEY} entries")
        for index, entry in enumerate(entries):
            # (The entry's place is spelled out only for an issue: this loop runs for every entry.)
            if not isinstance(entry, dict):
                self.issue(_entry_at(where, index), "is not a JSON object; left out")
                continue
            resource = entry.get("resource")
            search = entry.get("search")
            # The common entry, a resource found by the search, needs none of the checks below (an
            # OperationOutcome as its resource is skipped by _add_resource).
            common = isinstance(resource, dict) and (
                search is None or (isinstance(search, dict) and search.get("mode") != "outcome")
            )
            if not common:
                if is_outcome_entry(entry):
                    continue
                if not isinstance(resource, dict):
                    self.issue(_entry_at(where, index), "has no resource; left out")
                    continue
            self._add_resource(where, resource, patient_read=patient_read, index=index)

    def _add_resource(self, where: str, resource: JSON, *, patient_read: bool, index: int | None = None) -> None:
        """`index`: the resource's entry in the Bundle at `where` (None: `where` is the resource itself)."""
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str) or not resource_type:
            self.issue(_entry_at(where, index), "has no resourceType, so it is not a FHIR resource; left out")
            return
        if resource_type == OUTCOME:
            return
        # No walk of the whole resource here: only what the facts step selects is ever walked (its depth
        # is checked there, before validation recurses through it); the rest is read a few fixed levels
        # deep, whatever its nesting.
        if resource_type == "Patient":
            self._add_patient(_entry_at(where, index), resource, patient_read=patient_read)
            return
        if not self._is_this_patients(resource, resource_type):
            # Never quote the reference: it may name another patient.
            self.issue(_entry_at(where, index), f"{NOT_THIS_PATIENT}; left out", resource_label(resource))
            return
        resource_id = resource.get("id")
        if isinstance(resource_id, str):
            key = (resource_type, resource_id)
            if key in self._seen:
                return
            self._seen.add(key)
        found = self._record.resources.get(resource_type)
        if found is None:
            self._record.resources[resource_type] = [resource]
        else:
            found.append(resource)

    def _is_this_patients(self, resource: JSON, resource_type: str) -> bool:
        element = patient_element(resource_type)
        if element is None:
            return True  # nobody's data (a Practitioner, a Medication): nothing to check
        reference = resource.get(element)
        if type(reference) is dict and reference.get("reference") == self._own_reference and "type" not in reference:
            return True  # the common spelling, without the general parse (this runs on every resource)
        return belongs_to_patient(reference, self._patient_id, self._fhir_server)

    def _add_patient(self, where: str, patient: JSON, *, patient_read: bool) -> None:
        if patient.get("id") != self._patient_id:
            if patient_read:
                raise UnusableValue(WRONG_PATIENT_READ)
            # Another Patient in a search (an `_include`): not this patient, so not used.
            self.issue(where, "Patient resource is not the patient of context.patientId; left out")
            return
        if patient_read:
            self._patient_read = patient
        elif not any(p.get("id") == self._patient_id for p in self._record.resources.get("Patient", [])):
            self._record.resources.setdefault("Patient", []).append(patient)

    def set_draft_orders(self, draft_orders: JSON | None, selections: list[str]) -> None:
        if draft_orders is not None:
            for entry in draft_orders.get("entry", []):
                # The protocol step checked each entry has a resource with a resourceType and an id, and
                # nests no deeper than a resource may.
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
