"""Builders of CDS Hooks requests for protocol tests."""

from __future__ import annotations

import copy
from typing import Any

from cds_service.services import prefetch_templates

HOOK_INSTANCE = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
PATIENT_ID = "pt-protocol-7"
SERVICE_IDS = {
    "patient-view": "foot-calcification-patient-view",
    "order-select": "foot-calcification-order-select",
    "order-sign": "foot-calcification-order-sign",
}


def null_prefetch() -> dict[str, None]:
    """Every prefetch key present and null: "no data exists", so nothing needs fetching."""
    return {key: None for key, _ in prefetch_templates()}


def draft_xr(order_id: str = "draft-xr-1") -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": order_id,
        "status": "draft",
        "intent": "order",
        "code": {"coding": [{"system": "http://loinc.org", "code": "36305-1", "display": "XR Foot 3 Views"}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }


def hook_request(hook: str, **overrides: Any) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/doc-1", "patientId": PATIENT_ID}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": draft_xr()}],
        }
    if hook == "order-select":
        context["selections"] = ["ServiceRequest/draft-xr-1"]
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": HOOK_INSTANCE,
        "context": context,
        "prefetch": null_prefetch(),
    }
    body.update(copy.deepcopy(overrides))
    return body
