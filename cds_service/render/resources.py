"""Suggestion actions as CDS Hooks JSON, with their FHIR resources.

The service builds these resources itself, from a few fixed shapes (one per action kind) filled with
codes from `valuesets.toml`, so they are not validated on every call: `tests/test_render_resources.py`
proves every shape valid with the fhir.resources R4B models, for every orderable. A drafted order that is
updated was validated when the request came in (facts step); only its occurrence changes.
"""

from __future__ import annotations

import copy
from typing import Any

from cds_service.facts.model import Facts
from cds_service.guideline.valuesets import orderable
from cds_service.pathway.result import CreateOrder, DeleteDraft, OrderAction, UpdateDraftOccurrence
from cds_service.render.text import bounded, record_text

__all__ = ["OCCURRENCE_KEYS", "build_action", "service_request"]

JSON = dict[str, Any]

# R4 ServiceRequest.occurrence[x]: only one may be present.
OCCURRENCE_KEYS = ("occurrenceDateTime", "occurrencePeriod", "occurrenceTiming")


def _bounded_concept(concept: JSON) -> JSON:
    """A CodeableConcept copied from a draft order, its free text capped (a draft may carry megabytes)."""
    out = copy.deepcopy(concept)
    if isinstance(out.get("text"), str):
        out["text"] = bounded(out["text"])
    for coding in out.get("coding") or ():
        if isinstance(coding, dict) and isinstance(coding.get("display"), str):
            coding["display"] = bounded(coding["display"])
    return out


def service_request(order: CreateOrder, *, patient_id: str, resource_id: str) -> JSON:
    item = orderable(order.orderable)
    resource: JSON = {
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
    return resource


def _updated_draft(action: UpdateDraftOccurrence, facts: Facts) -> JSON:
    draft = next((d for d in facts.draft_orders if d.reference == action.draft_reference), None)
    if draft is None or draft.resource is None:
        raise ValueError(f"cannot update {action.draft_reference}: the draft order's resource is not in the facts")
    resource = copy.deepcopy(draft.resource)
    for key in OCCURRENCE_KEYS:
        resource.pop(key, None)
    resource["occurrencePeriod"] = {"start": action.start.isoformat(), "end": action.end.isoformat()}
    return resource


def build_action(action: OrderAction, *, facts: Facts, resource_id: str) -> JSON:
    if isinstance(action, CreateOrder):
        resource = service_request(action, patient_id=facts.patient_id, resource_id=resource_id)
        text = orderable(action.orderable).text
        when = ""
        if action.occurrence_start and action.occurrence_end:
            when = f" between {action.occurrence_start.isoformat()} and {action.occurrence_end.isoformat()}"
        urgency = f" ({action.priority})" if action.priority and action.priority != "routine" else ""
        return {"type": "create", "description": f"Order {text}{when}{urgency}", "resource": resource}
    if isinstance(action, DeleteDraft):
        return {"type": "delete", "description": f"Remove the draft order: {record_text(action.label)}",
                "resourceId": action.resource_id}
    if isinstance(action, UpdateDraftOccurrence):
        # The update carries the whole draft back (the EHR replaces it): as long as the draft itself.
        return {
            "type": "update",
            "description": f"Schedule {record_text(action.label)} between {action.start.isoformat()} and "
                           f"{action.end.isoformat()}",
            "resource": _updated_draft(action, facts),
        }
    raise TypeError(f"unknown suggestion action {action!r}")
