"""The "as EHRs send it" patients: their records and draft orders (date tokens kept), and ready requests.

    from fhir_fixtures.ehr.catalog import PATIENTS, build_request, resources
    build_request("ehr-big-dialysis", "order-sign", date.today())                # full prefetch
    build_request("ehr-big-dialysis", "patient-view", today, with_prefetch=False, fhir_server=URL)
"""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from typing import Any

from fhir_fixtures.ehr.big_charts import big_dialysis, big_history
from fhir_fixtures.ehr.stories import STORIES
from fhir_fixtures.hook_requests import request_from

__all__ = ["PATIENTS", "build_request", "bundle", "drafts", "resources"]

JSON = dict[str, Any]

_AUTHORS = {**STORIES, "ehr-big-dialysis": big_dialysis, "ehr-big-history": big_history}
PATIENTS = tuple(_AUTHORS)


@cache
def _story(patient: str) -> str:
    if patient not in _AUTHORS:
        raise KeyError(f"no EHR fixture patient {patient!r}; known: {', '.join(PATIENTS)}")
    record, orders = _AUTHORS[patient]()
    return json.dumps({"resources": record, "drafts": orders})


def resources(patient: str) -> list[JSON]:
    """The patient's record, Patient first (a fresh copy; date tokens not rendered)."""
    return json.loads(_story(patient))["resources"]


def drafts(patient: str) -> JSON:
    return json.loads(_story(patient))["drafts"]


def bundle(patient: str) -> JSON:
    """The record as a transaction Bundle (PUT by id), as `fhir_fixtures.load` posts it."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
            for r in resources(patient)
        ],
    }


def build_request(
    patient: str, hook: str, today: date | None = None, with_prefetch: bool = True, *, fhir_server: str | None = None
) -> JSON:
    story = json.loads(_story(patient))  # one parse for both the record and the drafts
    orders = story["drafts"][hook] if hook != "patient-view" else None
    return request_from(patient, hook, story["resources"], orders, today, with_prefetch, fhir_server=fhir_server)
