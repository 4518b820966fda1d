"""Just enough FHIR search to answer this service's prefetch templates from a list of resources: a tester's
Bundle (`tools/hook_input.py`: the sandbox, `cds-service evaluate`) and the fixture patients (`fhir_fixtures`
uses it; it lives here because the service's own tools need it, and cds_service never imports fhir_fixtures).

The templates (`cds_service.services.prefetch_templates()`) use `patient`, `code` and `category` (token
lists, with or without a system), `status`, and `_sort` / `_count` (which shape pages, not the result set);
`clinical-status` and `modality` are understood too. A ready request fills each key with the whole result
set a FHIR server would return for that query, so the fixtures also test that the prefetch asks for
everything the pathway reads (tests/test_retrieval_reachability.py checks this subset against the real FHIR
server). Anything else in a template is refused by name rather than silently ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote

__all__ = ["FHIR_BASE", "matches", "search"]

JSON = dict[str, Any]

IGNORED = {"_count", "_sort", "_elements"}  # shape the page, not the result set
FHIR_BASE = "http://fixtures.example.org/fhir"  # fullUrl must be absolute; no server sits behind it


def _codings(value: Any) -> Iterable[JSON]:
    if isinstance(value, dict):
        yield from value.get("coding", [])
    elif isinstance(value, list):
        for item in value:
            yield from _codings(item)


def _token_match(codings: Iterable[JSON], tokens: list[str]) -> bool:
    wanted = set()
    for token in tokens:
        system, sep, code = token.partition("|")
        wanted.add((system, code) if sep else (None, token))
    for coding in codings:
        if (coding.get("system"), coding.get("code")) in wanted or (None, coding.get("code")) in wanted:
            return True
    return False


def _patient_of(resource: JSON) -> str | None:
    reference = (resource.get("subject") or resource.get("patient") or {}).get("reference", "")
    return reference.split("/", 1)[1] if reference.startswith("Patient/") else None


def matches(resource: JSON, params: list[tuple[str, str]], patient_id: str) -> bool:
    for name, raw in params:
        tokens = [unquote(t) for t in raw.split(",")]
        if name in IGNORED:
            continue
        if name in ("patient", "subject"):
            if _patient_of(resource) != patient_id:
                return False
        elif name == "code":
            if not _token_match(_codings(resource.get("code")), tokens):
                return False
        elif name == "category":
            if not _token_match(_codings(resource.get("category")), tokens):
                return False
        elif name == "clinical-status":
            if not _token_match(_codings(resource.get("clinicalStatus")), tokens):
                return False
        elif name == "status":
            if resource.get("status") not in tokens:
                return False
        elif name == "modality":
            mods = list(resource.get("modality", [])) + [s.get("modality", {}) for s in resource.get("series", [])]
            if not _token_match(mods, tokens):
                return False
        else:
            raise ValueError(f"prefetch search parameter {name!r} is not supported by cds_service.tools.bundle_search")
    return True


def search(query: str, resources: list[JSON], patient_id: str) -> JSON | None:
    """The result of a prefetch query (tokens already filled): a resource for `Type/id`, else a searchset."""
    path, _, querystring = query.partition("?")
    if "/" in path:  # a read, e.g. Patient/123
        resource_type, _, rid = path.partition("/")
        found = [r for r in resources if r["resourceType"] == resource_type and r["id"] == rid]
        return found[0] if found else None
    params = parse_qsl(querystring, keep_blank_values=True)
    hits = [r for r in resources if r["resourceType"] == path and matches(r, params, patient_id)]
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(hits),
        "entry": [
            {"fullUrl": f"{FHIR_BASE}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in hits
        ],
    }
