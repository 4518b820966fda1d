"""The byte prefilter is a superset of what puts a patient in the pathway: its value sets are the facts step's
entry sets, it finds codes and terms however JSON writes them (spacing, case, escapes, separators), and it
keeps every line a prefetch query could return."""

from __future__ import annotations

import json

import orjson

from cds_service.facts import conditions
from cds_service.guideline.valuesets import load_valuesets
from cds_service.screening.prefetch import patient_view_request
from cds_service.screening.prefilter import ENTRY_SETS, entry_marker, fast_path
from tests.test_screening_support import fixture_records


def test_entry_sets_are_the_facts_steps() -> None:
    assert set(ENTRY_SETS) == {name for name, _ in conditions._ENTRY_SETS} | {"imaging-calcification-finding"}


def test_every_entry_code_and_term_is_found_however_written() -> None:
    marker = entry_marker()
    valuesets = load_valuesets()
    for name in ENTRY_SETS:
        for code in valuesets[name].codes:
            assert marker.matches(json.dumps({"code": {"coding": [{"code": code}]}}).encode()), code
            assert marker.matches(orjson.dumps({"code": code})), code
        for term in valuesets[name].text_terms:
            shouted = term.upper().replace(" ", "-\n ")
            assert marker.matches(json.dumps({"conclusion": f"Report: {shouted}."}).encode()), term
    assert marker.matches(json.dumps({"text": "calcification"}, ensure_ascii=True).replace("a", "\\u0061").encode())
    assert marker.matches("{\"text\": \"cal\u212aification\"}".encode())  # no entry code is hidden by escapes
    assert not marker.matches(orjson.dumps({"code": {"text": "Body weight"}, "valueQuantity": {"value": 70}}))


def test_lines_a_query_returns_are_always_candidates() -> None:
    """For every fixture resource a prefetch query returns, the file fast path keeps its line."""
    for patient, resources in fixture_records().items():
        returned = set()
        for value in patient_view_request(patient, resources)["prefetch"].values():
            for entry in (value.get("entry") or []) if value.get("resourceType") == "Bundle" else []:
                returned.add((entry["resource"]["resourceType"], entry["resource"]["id"]))
        for resource in resources:
            if (resource["resourceType"], resource["id"]) not in returned:
                continue
            chunk = orjson.dumps(resource) + b"\n"
            fast = fast_path(resource["resourceType"])
            assert fast is not None and fast.uniform(chunk, 1)
            assert fast.candidates(chunk) == [0], (patient, resource["id"])
