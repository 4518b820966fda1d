"""Benchmark patients: many different patients with a long lab history, as CDS Hooks requests with prefetch.

Each patient starts from one of the fixture patients that are in the pathway, gets its own patient id, and
gets a lab history (older copies of its results, a week apart, values varied per patient) up to `labs`
lab results; the prefetch is then answered the way the fixtures answer it (`cds_service.tools.bundle_search`, the
service's own templates), so every body is what an EHR would send. Nothing can win by caching one body.
"""

from __future__ import annotations

import copy
import json
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from fhir_fixtures.catalog import resources  # noqa: E402
from fhir_fixtures.hook_requests import USER_ID, prefetch_from  # noqa: E402
from fhir_fixtures.materialize import materialize  # noqa: E402

__all__ = ["BASE_PATIENTS", "NOT_READ", "bench_request", "bench_requests", "padded_request"]

JSON = dict[str, Any]

# Fixture patients in the pathway with lab results to grow a history from (a spread of cards and classes).
BASE_PATIENTS = (
    "fc-ckd-metastatic",
    "fc-diabetic-ulcer",
    "fc-lab-flags",
    "fc-hypervitaminosis",
    "fc-mass-undetermined",
    "fc-dfi-osteomyelitis",
    "fc-chondrocalcinosis",
    "fc-all-done",
)
LOINC = "http://loinc.org"


def _is_lab(resource: JSON) -> bool:
    if resource.get("resourceType") != "Observation":
        return False
    return any(
        coding.get("code") == "laboratory"
        for category in resource.get("category", [])
        for coding in category.get("coding", [])
    )


def _rename_patient(pool: list[JSON], old: str, new: str) -> list[JSON]:
    text = json.dumps(pool).replace(f'"Patient/{old}"', f'"Patient/{new}"')
    renamed = json.loads(text)
    for resource in renamed:
        if resource["resourceType"] == "Patient" and resource["id"] == old:
            resource["id"] = new
    return renamed


def _history(labs: list[JSON], wanted: int, seed: int) -> list[JSON]:
    """Older copies of `labs`, a week apart going back, until there are `wanted` lab results in all."""
    extra: list[JSON] = []
    n = 0
    while len(labs) + len(extra) < wanted:
        original = labs[n % len(labs)]
        step = n // len(labs) + 1
        old = copy.deepcopy(original)
        old["id"] = f"{original['id']}-h{step}"
        when = date.fromisoformat(str(original.get("effectiveDateTime", "2026-01-01"))[:10])
        old["effectiveDateTime"] = f"{(when - timedelta(days=7 * step)).isoformat()}T08:00:00Z"
        quantity = old.get("valueQuantity")
        if isinstance(quantity, dict) and isinstance(quantity.get("value"), int | float):
            quantity["value"] = round(quantity["value"] * (1 + ((seed + step) % 7 - 3) / 100), 2)
        extra.append(old)
        n += 1
    return extra


def _request(pool: list[JSON], patient_id: str, seed: int) -> JSON:
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench:{patient_id}:{seed}")),
        "context": {"userId": USER_ID, "patientId": patient_id},
        "prefetch": prefetch_from(patient_id, pool),
    }


def bench_request(index: int, today: date, labs: int = 150) -> JSON:
    """Patient number `index`: a fixture patient under its own id, with `labs` lab results in all."""
    base = BASE_PATIENTS[index % len(BASE_PATIENTS)]
    patient_id = f"bench-{index:03d}"
    pool = _rename_patient(materialize(resources(base), today), base, patient_id)
    found = [r for r in pool if _is_lab(r)]
    pool += _history(found, labs, index)
    return _request(pool, patient_id, index)


def bench_requests(count: int, today: date, labs: int = 150) -> list[JSON]:
    return [bench_request(i, today, labs) for i in range(count)]


def _unread_observation(
    resource_id: str, patient_id: str, category: str, code: str, display: str, when: str, value: float, unit: str
) -> JSON:
    return {
        "resourceType": "Observation",
        "id": resource_id,
        "status": "final",
        "subject": {"reference": f"Patient/{patient_id}"},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": category}]}],
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }


# Resources the pathway does not read: vital signs and a lab test outside the pathway (real LOINC codes
# already used by benchmarks/facts_bench.py).
NOT_READ = (
    lambda i, p: _unread_observation(f"nr-bp-{i}", p, "vital-signs", "8480-6", "Systolic blood pressure",
                                     f"2026-01-{1 + i % 28:02d}T08:00:00Z", 120 + i % 30, "mm[Hg]"),
    lambda i, p: _unread_observation(f"nr-hb-{i}", p, "laboratory", "718-7", "Hemoglobin [Mass/volume] in Blood",
                                     f"2026-02-{1 + i % 28:02d}T08:00:00Z", 12 + (i % 30) / 10, "g/dL"),
)


def padded_request(total: int, read: bool, today: date, index: int = 0) -> JSON:
    """A request of about `total` resources: the base patient, padded with lab history the pathway reads
    (`read`) or with resources it does not read. The padding goes straight into one prefetch key, as a
    client that over-answers would send it."""
    base = BASE_PATIENTS[index % len(BASE_PATIENTS)]
    patient_id = f"scale-{index:03d}"
    pool = _rename_patient(materialize(resources(base), today), base, patient_id)
    body = _request(pool, patient_id, index)
    have = len(pool)
    if total <= have:
        return body
    if read:
        labs = [r for r in pool if _is_lab(r)]
        padding = _history(labs, total - have + len(labs), index)
    else:
        padding = [NOT_READ[i % len(NOT_READ)](i, patient_id) for i in range(total - have)]
    key = next(k for k, v in body["prefetch"].items() if isinstance(v, dict) and v.get("resourceType") == "Bundle")
    body["prefetch"][key]["entry"] += [
        {"fullUrl": f"http://bench.example.org/fhir/{r['resourceType']}/{r['id']}", "resource": r} for r in padding
    ]
    return body


def count_resources(body: JSON) -> int:
    total = 0
    for value in (body.get("prefetch") or {}).values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            total += len(value.get("entry", []))
        elif isinstance(value, dict):
            total += 1
    return total
