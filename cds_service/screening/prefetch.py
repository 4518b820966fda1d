"""One patient's resources -> the patient-view request a hook call would get, with every prefetch key answered
as a FHIR server answers the service's query over that record (whole result sets, in record order).

The queries are the service's own (`services.prefetch_templates()`); the search parameters they use are
`patient`, `code`, `category` and `status` (token lists, with or without a system), `_sort`, `_count` and
`_elements` (which shape pages, not the result set). A template with any other parameter is refused by
name: the screen must never read more, or less, than a hook call. The same semantics as the fixtures'
search (cds_service/tools/bundle_search.py, which `cds-service evaluate` and the hook tests use); tests/test_screening_equality.py checks that
both give the same judgement for every fixture patient.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
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


def _wanted(raw: str) -> frozenset[tuple[str | None, str]]:
    """A token list as (system, code) pairs, None for a token without a system."""
    wanted = set()
    for token in (unquote(t) for t in raw.split(",")):
        system, sep, code = token.partition("|")
        wanted.add((system, code) if sep else (None, token))
    return frozenset(wanted)


def _token_match(codings: Iterable[JSON], wanted: frozenset[tuple[str | None, str]]) -> bool:
    return any(
        (coding.get("system"), coding.get("code")) in wanted or (None, coding.get("code")) in wanted
        for coding in codings
    )


@dataclass(frozen=True, slots=True)
class _Query:
    """One prefetch template, parsed once (its search parameters as sets, not re-read per resource)."""

    key: str
    template: str
    resource_type: str
    read: bool  # Patient/<id>, else a search
    filters: tuple[tuple[str, Any], ...]  # ("patient", None) | ("code"/"category", pairs) | ("status", values)


@cache
def _queries() -> tuple[_Query, ...]:
    queries = []
    for key, template in prefetch_templates():
        path, _, querystring = template.partition("?")
        if "/" in path:
            queries.append(_Query(key, template, path.partition("/")[0], True, ()))
            continue
        filters: list[tuple[str, Any]] = []
        for name, raw in parse_qsl(querystring, keep_blank_values=True):
            if name in _SHAPING:
                continue
            if name in ("patient", "subject"):
                filters.append(("patient", None))
            elif name in ("code", "category"):
                filters.append((name, _wanted(raw)))
            elif name == "status":
                filters.append((name, frozenset(unquote(t) for t in raw.split(","))))
            else:
                raise ValueError(f"prefetch search parameter {name!r} is not supported by the screen")
        queries.append(_Query(key, template, path, False, tuple(filters)))
    return tuple(queries)


def _matches(resource: JSON, filters: tuple[tuple[str, Any], ...], patient_id: str, whose: str | None) -> bool:
    for name, wanted in filters:
        if name == "patient":
            if whose != patient_id:
                return False
        elif name == "status":
            if resource.get("status") not in wanted:
                return False
        elif not _token_match(_codings(resource.get(name)), wanted):  # code, category
            return False
    return True


def _answer(query: _Query, by_type: dict[str, list[tuple[JSON, str | None]]], patient_id: str) -> JSON | None:
    if query.read:  # Patient/<id>
        rid = query.template.partition("?")[0].partition("/")[2].replace("{{context.patientId}}", patient_id)
        return next((r for r, _ in by_type.get(query.resource_type, ()) if r.get("id") == rid), None)
    hits = [r for r, whose in by_type.get(query.resource_type, ()) if _matches(r, query.filters, patient_id, whose)]
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
    by_type: dict[str, list[tuple[JSON, str | None]]] = {}
    for resource in resources:  # whose each resource is: read once, not once per query
        by_type.setdefault(resource["resourceType"], []).append((resource, patient_reference_id(resource)))
    prefetch: JSON = {}
    for query in _queries():
        answer = _answer(query, by_type, patient_id)
        if answer is not None:
            prefetch[query.key] = answer
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cds-service-screen:{patient_id}")),
        "context": {"userId": SCREEN_USER, "patientId": patient_id},
        "prefetch": prefetch,
    }
