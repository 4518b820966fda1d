"""Ready CDS Hooks requests made from the fixtures: patient-view with full prefetch, order-select and
order-sign with the patient's draft orders.

    build_request("fc-diabetic-ulcer", "order-sign", date(2026, 11, 21))

Prefetch keys and queries come from the service itself (`cds_service.services.prefetch_templates()`);
each key holds what a FHIR server would answer to that query (see `search.py`). With `today=None` the
request keeps its date tokens: that is what `requests/<patient>-<hook>.json` hold
(`python -m fhir_fixtures.hook_requests` rewrites them).
"""

from __future__ import annotations

import argparse
import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from cds_service.tools.bundle_search import FHIR_BASE, search
from fhir_fixtures.catalog import FIXTURES_DIR, HOOKS, PATIENTS, drafts, resources
from fhir_fixtures.materialize import materialize

__all__ = ["USER_ID", "build_prefetch", "build_request", "main", "prefetch_from", "request_from", "request_path"]

JSON = dict[str, Any]

USER_ID = "Practitioner/fc-clinician-1"
REQUESTS_DIR = FIXTURES_DIR / "requests"


def build_prefetch(patient: str) -> JSON:
    """Every prefetch key of the service, answered from the patient's resources (tokens not rendered)."""
    return prefetch_from(patient, resources(patient))


def prefetch_from(patient: str, pool: list[JSON]) -> JSON:
    """Every prefetch key of the service, answered from `pool` as a FHIR server would (whole result sets)."""
    from cds_service.services import prefetch_templates

    prefetch: JSON = {}
    for key, template in prefetch_templates():
        query = template.replace("{{context.patientId}}", patient).replace("{{context.userId}}", USER_ID)
        prefetch[key] = search(query, pool, patient)
    return prefetch


def build_request(
    patient: str,
    hook: str,
    today: date | None = None,
    with_prefetch: bool = True,
    *,
    fhir_server: str | None = None,
) -> JSON:
    """A CDS Hooks request for `hook` about a fixture patient; dates rendered for `today` (None keeps tokens)."""
    return request_from(
        patient, hook, resources(patient), drafts(patient)[hook] if hook != "patient-view" else None,
        today, with_prefetch, fhir_server=fhir_server,
    )


def request_from(
    patient: str,
    hook: str,
    pool: list[JSON],
    orders: JSON | None,
    today: date | None = None,
    with_prefetch: bool = True,
    *,
    fhir_server: str | None = None,
) -> JSON:
    """A CDS Hooks request about `patient` whose record is `pool` and whose draft orders (order hooks) are
    `orders` = {"draftOrders": [...], "selections": [...]}."""
    if hook not in HOOKS:
        raise ValueError(f"hook {hook!r} is not one of {', '.join(HOOKS)}")
    context: JSON = {"userId": USER_ID, "patientId": patient}
    if hook != "patient-view":
        assert orders is not None, "the order hooks need draft orders"
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {"fullUrl": f"{FHIR_BASE}/{r['resourceType']}/{r['id']}", "resource": r} for r in orders["draftOrders"]
            ],
        }
        if hook == "order-select":
            context["selections"] = list(orders["selections"])
    body: JSON = {
        "hook": hook,
        "hookInstance": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fixture-request:{patient}:{hook}")),
        "context": context,
    }
    if fhir_server:
        body["fhirServer"] = fhir_server
    if with_prefetch:
        body["prefetch"] = prefetch_from(patient, pool)
    return body if today is None else materialize(body, today)


def request_path(patient: str, hook: str) -> Path:
    return REQUESTS_DIR / f"{patient}-{hook}.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write requests/<patient>-<hook>.json (with date tokens).")
    parser.parse_args(argv)
    REQUESTS_DIR.mkdir(exist_ok=True)
    for patient in PATIENTS:
        for hook in HOOKS:
            request_path(patient, hook).write_text(
                json.dumps(build_request(patient, hook), indent=2, ensure_ascii=False) + "\n"
            )
    print(f"wrote {len(PATIENTS) * len(HOOKS)} requests under {REQUESTS_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
