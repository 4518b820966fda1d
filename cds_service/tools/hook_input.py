"""CDS Hooks requests for the testers' tools, from what a tester has at hand: a FHIR Bundle of one patient's
record (collection, searchset or transaction), or a FHIR server URL and a patient id.

From a Bundle, every prefetch key of the service is answered the way a FHIR server would answer its query
(`tools/bundle_search.py`, the same code that answers the fixtures' prefetch), so the service reads exactly
what it would read from a real server holding that record: code filters included. Date tokens of the
fixtures (`{{today-30d}}`) are rendered for the chosen day. For the order hooks, the draft orders are the
ones given, or else the Bundle's ServiceRequests with status `draft`.
"""

from __future__ import annotations

import copy
import uuid
from datetime import date
from typing import Any

from cds_service.guideline.nodes import HOOKS
from cds_service.tools.bundle_search import FHIR_BASE, search
from cds_service.tools.date_tokens import TOKEN, render_date

__all__ = [
    "BUNDLE_TYPES",
    "HOOKS",
    "USER_ID",
    "InputError",
    "draft_orders_from",
    "render_tokens",
    "request_for_fhir_server",
    "request_from_bundle",
]

JSON = dict[str, Any]

BUNDLE_TYPES = ("collection", "searchset", "transaction")
USER_ID = "Practitioner/cds-service-tester"


class InputError(ValueError):
    """What the tester gave cannot become a request (one line: the problem, never a patient value)."""


def render_tokens(value: Any, today: date) -> Any:
    """A copy of `value` with the fixtures' date tokens rendered for `today`; anything else (real records)
    unchanged. Unlike `materialize`, braces that are not a token (free text can hold anything) stay as they are."""
    if isinstance(value, str):
        return TOKEN.sub(lambda m: render_date(m.group(0), today), value) if "{{" in value else value
    if isinstance(value, dict):
        return {key: render_tokens(item, today) for key, item in value.items()}
    if isinstance(value, list):
        return [render_tokens(item, today) for item in value]
    return value


def _resources(bundle: JSON) -> list[JSON]:
    """The Bundle's resources, each with an id, and `urn:uuid:` references (transactions) made `Type/id`."""
    if bundle.get("resourceType") != "Bundle":
        raise InputError("is not a FHIR Bundle (resourceType 'Bundle')")
    if bundle.get("type") not in BUNDLE_TYPES:
        raise InputError(f"is a Bundle of type {bundle.get('type')!r}; use a {', '.join(BUNDLE_TYPES)} Bundle")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise InputError("Bundle.entry is not an array")
    resources: list[JSON] = []
    local_refs: dict[str, str] = {}
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise InputError(f"Bundle.entry[{index}] has no resource with a resourceType")
        resource = copy.deepcopy(resource)
        full_url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else ""
        if not resource.get("id") and full_url.startswith("urn:uuid:"):
            resource["id"] = full_url.removeprefix("urn:uuid:")
        if not isinstance(resource.get("id"), str) or not resource["id"]:
            raise InputError(f"Bundle.entry[{index}] ({resource['resourceType']}) has no id and no urn:uuid fullUrl")
        if full_url:
            local_refs[full_url] = f"{resource['resourceType']}/{resource['id']}"
        resources.append(resource)
    return [_resolve(resource, local_refs) for resource in resources] if local_refs else resources


def _resolve(value: Any, local_refs: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            key: (local_refs.get(item, item) if key == "reference" and isinstance(item, str) else _resolve(item, local_refs))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_resolve(item, local_refs) for item in value]
    return value


def _patient_id(resources: list[JSON], wanted: str | None) -> str:
    patients = [r["id"] for r in resources if r["resourceType"] == "Patient"]
    if wanted is not None:
        if wanted not in patients:
            raise InputError("has no Patient with the id given by --patient")
        return wanted
    if not patients:
        raise InputError("has no Patient resource: the record must include its patient")
    if len(patients) > 1:
        raise InputError(f"has {len(patients)} Patient resources: choose one with --patient")
    return patients[0]


def draft_orders_from(value: Any) -> list[JSON]:
    """Draft orders given by a tester: a Bundle of them, a JSON array, or one resource."""
    if isinstance(value, dict) and value.get("resourceType") == "Bundle":
        items = [entry.get("resource") for entry in value.get("entry") or [] if isinstance(entry, dict)]
    elif isinstance(value, list):
        items = value
    elif isinstance(value, dict):
        items = [value]
    else:
        raise InputError("draft orders must be a Bundle, an array of resources or one resource")
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("resourceType"), str) or not item.get("id"):
            raise InputError(f"draft order {index} is not a FHIR resource with a resourceType and an id")
    return [copy.deepcopy(item) for item in items]


def _context(hook: str, patient_id: str, drafts: list[JSON], selections: list[str] | None) -> JSON:
    if hook not in HOOKS:
        raise InputError(f"hook {hook!r} is not one of {', '.join(HOOKS)}")
    context: JSON = {"userId": USER_ID, "patientId": patient_id}
    if hook == "patient-view":
        return context
    if not drafts:
        raise InputError(f"{hook} needs draft orders: none were given and the record has no draft ServiceRequest")
    context["draftOrders"] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"{FHIR_BASE}/{d['resourceType']}/{d['id']}", "resource": d} for d in drafts],
    }
    if hook == "order-select":
        references = [f"{d['resourceType']}/{d['id']}" for d in drafts]
        chosen = references if selections is None else list(selections)
        unknown = [s for s in chosen if s not in references]
        if unknown or not chosen:
            raise InputError("order-select needs selections among the draft orders")
        context["selections"] = chosen
    return context


def _request(hook: str, context: JSON) -> JSON:
    return {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}


def request_from_bundle(
    bundle: JSON,
    *,
    hook: str = "patient-view",
    patient_id: str | None = None,
    today: date | None = None,
    drafts: list[JSON] | None = None,
    selections: list[str] | None = None,
) -> JSON:
    """A request for `hook` about the Bundle's patient, with every prefetch key answered from the Bundle."""
    from cds_service.services import prefetch_templates

    today = today or date.today()
    resources = render_tokens(_resources(bundle), today)
    patient = _patient_id(resources, patient_id)
    if drafts is None:
        drafts = [
            r for r in resources
            if r["resourceType"] == "ServiceRequest" and r.get("status") == "draft"
            and (r.get("subject") or {}).get("reference") == f"Patient/{patient}"
        ]
    else:
        drafts = render_tokens(drafts, today)
    prefetch: JSON = {}
    for key, template in prefetch_templates():
        query = template.replace("{{context.patientId}}", patient).replace("{{context.userId}}", USER_ID)
        answer = search(query, resources, patient)
        if answer is not None:  # a read of a resource the Bundle lacks: the service asks for it and answers 412
            prefetch[key] = answer
    body = _request(hook, _context(hook, patient, drafts, selections))
    body["prefetch"] = prefetch
    return body


def request_for_fhir_server(
    fhir_server: str,
    patient_id: str,
    *,
    hook: str = "patient-view",
    drafts: list[JSON] | None = None,
    selections: list[str] | None = None,
    today: date | None = None,
) -> JSON:
    """A request with no prefetch: the service fetches the record from `fhir_server` itself."""
    if not fhir_server.startswith(("http://", "https://")):
        raise InputError("the FHIR server must be an http:// or https:// URL")
    if not patient_id:
        raise InputError("a patient id is needed with a FHIR server")
    drafts = render_tokens(drafts or [], today or date.today())
    body = _request(hook, _context(hook, patient_id, drafts, selections))
    body["fhirServer"] = fhir_server.rstrip("/")
    return body
