"""One patient's resources -> the patient-view request a hook call would get, with every prefetch key answered
as a FHIR server answers the service's query over that record (whole result sets, in record order).

The queries are the service's own (`services.prefetch_templates()`); the search parameters they use are
`patient`, `code`, `category` and `status` (token lists, with or without a system), `_sort`, `_count` and
`_elements` (which shape pages, not the result set). A template with any other parameter is refused by
name: the screen must never read more, or less, than a hook call. The same semantics as the fixtures'
search (fhir_fixtures/search.py, which the hook tests use); tests/test_screening_equality.py checks that
both give the same judgement for every fixture patient.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote

from cds_service.services import prefetch_templates

__all__ = ["SCREEN_USER", "patient_reference_id", "patient_view_request"]

JSON = dict[str, Any]

SCREEN_USER = "Practitioner/cds-service-screen"  # context.userId: the screen, not a clinician
FULL_URL_BASE = "urn:screen"  # fullUrl must be absolute; the export names no server
_SHAPING = {"_count", "_sort", "_elements"}


def patient_reference_id(resource: JSON) -> str | None:
    """The patient a resource is about (`subject` or `patient`, relative or absolute reference)."""
    for key in ("subject", "patient"):
        value = resource.get(key)
        if isinstance(value, dict):
            reference = value.get("reference")
            if isinstance(reference, str) and "Patient/" in reference:
                head, _, rid = reference.rpartition("Patient/")
                if (not head or head.endswith("/")) and rid and "/" not in rid:
                    return rid
            return None
    return None


def _codings(value: Any) -> Iterable[JSON]:
    if isinstance(value, dict):
        coding = value.get("coding")
        if isinstance(coding, list):
            yield from (c for c in coding if isinstance(c, dict))
    elif isinstance(value, list):
        for item in value:
            yield from _codings(item)


def _token_match(codings: Iterable[JSON], tokens: list[str]) -> bool:
    wanted = set()
    for token in tokens:
        system, sep, code = token.partition("|")
        wanted.add((system, code) if sep else (None, token))
    return any(
        (coding.get("system"), coding.get("code")) in wanted or (None, coding.get("code")) in wanted
        for coding in codings
    )


def _matches(resource: JSON, params: list[tuple[str, str]], patient_id: str) -> bool:
    for name, raw in params:
        if name in _SHAPING:
            continue
        tokens = [unquote(t) for t in raw.split(",")]
        if name in ("patient", "subject"):
            if patient_reference_id(resource) != patient_id:
                return False
        elif name == "code":
            if not _token_match(_codings(resource.get("code")), tokens):
                return False
        elif name == "category":
            if not _token_match(_codings(resource.get("category")), tokens):
                return False
        elif name == "status":
            if resource.get("status") not in tokens:
                return False
        else:
            raise ValueError(f"prefetch search parameter {name!r} is not supported by the screen")
    return True


def _answer(query: str, by_type: dict[str, list[JSON]], patient_id: str) -> JSON | None:
    path, _, querystring = query.partition("?")
    if "/" in path:  # a read: Patient/<id>
        resource_type, _, rid = path.partition("/")
        return next((r for r in by_type.get(resource_type, ()) if r.get("id") == rid), None)
    params = parse_qsl(querystring, keep_blank_values=True)
    hits = [r for r in by_type.get(path, ()) if _matches(r, params, patient_id)]
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(hits),
        "entry": [
            {"fullUrl": f"{FULL_URL_BASE}:{r['resourceType']}/{r.get('id')}", "resource": r, "search": {"mode": "match"}}
            for r in hits
        ],
    }


def patient_view_request(patient_id: str, resources: list[JSON]) -> JSON:
    """The patient-view request for `patient_id` whose record is `resources` (in record order). A key with no
    answer (a read of a Patient the export lacks) is left out, as an EHR leaves out what it cannot fill."""
    by_type: dict[str, list[JSON]] = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(resource)
    prefetch: JSON = {}
    for key, template in prefetch_templates():
        query = template.replace("{{context.patientId}}", patient_id).replace("{{context.userId}}", SCREEN_USER)
        answer = _answer(query, by_type, patient_id)
        if answer is not None:
            prefetch[key] = answer
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cds-service-screen:{patient_id}")),
        "context": {"userId": SCREEN_USER, "patientId": patient_id},
        "prefetch": prefetch,
    }
