"""Suggestion actions as FHIR: each resource is built, then validated with fhir.resources R4B before it
leaves the service, and serialised without nulls."""

from __future__ import annotations

import copy
from typing import Any

from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.facts.model import Facts
from cds_service.guideline.valuesets import orderable
from cds_service.pathway.result import CreateOrder, DeleteDraft, OrderAction, UpdateDraftOccurrence
from cds_service.protocol.response import Action
from cds_service.render.text import bounded, record_text

__all__ = ["build_action", "service_request", "validated"]

# R4 ServiceRequest.occurrence[x]: only one may be present.
OCCURRENCE_KEYS = ("occurrenceDateTime", "occurrencePeriod", "occurrenceTiming")


def validated(resource: dict[str, Any]) -> dict[str, Any]:
    """Round-trip through the R4B model: raises (naming the field) if the resource is not valid FHIR."""
    return ServiceRequest.model_validate(resource).model_dump(mode="json", exclude_none=True)


def _bounded_concept(concept: dict[str, Any]) -> dict[str, Any]:
    """A CodeableConcept copied from a draft order, its free text capped (a draft may carry megabytes)."""
    out = copy.deepcopy(concept)
    if isinstance(out.get("text"), str):
        out["text"] = bounded(out["text"])
    for coding in out.get("coding") or ():
        if isinstance(coding, dict) and isinstance(coding.get("display"), str):
            coding["display"] = bounded(coding["display"])
    return out


def service_request(order: CreateOrder, *, patient_id: str, resource_id: str) -> dict[str, Any]:
    item = orderable(order.orderable)
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": resource_id,
        "status": "draft",
        "intent": order.intent,
        "code": item.codeable_concept(),
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    if order.priority:
        resource["priority"] = order.priority
    if order.occurrence_start or order.occurrence_end:
        period = {}
        if order.occurrence_start:
            period["start"] = order.occurrence_start.isoformat()
        if order.occurrence_end:
            period["end"] = order.occurrence_end.isoformat()
        resource["occurrencePeriod"] = period
    if order.reason_codes:
        resource["reasonCode"] = [_bounded_concept(code) for code in order.reason_codes]
    if order.reason_references:
        resource["reasonReference"] = [{"reference": ref} for ref in order.reason_references]
    return validated(resource)


def _updated_draft(action: UpdateDraftOccurrence, facts: Facts) -> dict[str, Any]:
    draft = next((d for d in facts.draft_orders if d.reference == action.draft_reference), None)
    if draft is None or draft.resource is None:
        raise ValueError(f"cannot update {action.draft_reference}: the draft order's resource is not in the facts")
    resource = copy.deepcopy(draft.resource)
    for key in OCCURRENCE_KEYS:
        resource.pop(key, None)
    resource["occurrencePeriod"] = {"start": action.start.isoformat(), "end": action.end.isoformat()}
    return validated(resource)


def build_action(action: OrderAction, *, facts: Facts, resource_id: str) -> Action:
    if isinstance(action, CreateOrder):
        resource = service_request(action, patient_id=facts.patient_id, resource_id=resource_id)
        text = orderable(action.orderable).text
        when = ""
        if action.occurrence_start and action.occurrence_end:
            when = f" between {action.occurrence_start.isoformat()} and {action.occurrence_end.isoformat()}"
        urgency = f" ({action.priority})" if action.priority and action.priority != "routine" else ""
        return Action(type="create", description=f"Order {text}{when}{urgency}", resource=resource)
    if isinstance(action, DeleteDraft):
        return Action(type="delete", description=f"Remove the draft order: {record_text(action.label)}",
                      resourceId=action.resource_id)
    if isinstance(action, UpdateDraftOccurrence):
        # The update carries the whole draft back (the EHR replaces it): as long as the draft itself.
        return Action(
            type="update",
            description=f"Schedule {record_text(action.label)} between {action.start.isoformat()} and "
                        f"{action.end.isoformat()}",
            resource=_updated_draft(action, facts),
        )
    raise TypeError(f"unknown suggestion action {action!r}")
