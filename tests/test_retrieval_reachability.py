"""Every resource shape the facts step accepts is reachable by some prefetch template (issue 7, "Retrieval").

1. Property-based: random resources of every shape (tests/support/shapes.py); whenever the facts step's
   selection would read one, at least one of the service's templates must return it. The templates are
   evaluated by `cds_service.tools.bundle_search`, the FHIR search subset the fixtures and the testers'
   tools use.
2. That subset is checked against the real FHIR server (tests/fhir_server): for a few hundred such
   resources, every template returns the same resources from both.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urljoin

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service.facts.access import json_type_problem
from cds_service.facts.select import is_relevant, skip_reason
from cds_service.services import prefetch_templates
from cds_service.tools.bundle_search import matches, search
from tests.support.gathering_fhir_server import FhirTestServer, fhir_server  # noqa: F401 (fixture)
from tests.support.shapes import random_resource

PATIENT = "pt-shapes"
JSON = dict[str, Any]


def _searches(resource_type: str) -> list[list[tuple[str, str]]]:
    found = []
    for _, template in prefetch_templates():
        path, _, query = template.replace("{{context.patientId}}", PATIENT).partition("?")
        if path == resource_type:
            found.append(parse_qsl(query, keep_blank_values=True))
    return found


def _accepted(resource: JSON) -> bool:
    """What the facts step reads: its selection, as `to_clinical_data` applies it."""
    resource_type = resource["resourceType"]
    return (
        json_type_problem(resource, resource_type) is None
        and skip_reason(resource, resource_type, PATIENT) is None
        and is_relevant(resource, resource_type)
    )


@settings(max_examples=600, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(0, 10_000))
def test_every_shape_the_facts_step_reads_is_reachable_by_a_template(rng: random.Random, index: int) -> None:
    resource = random_resource(rng, PATIENT, index)
    if _accepted(resource):
        searches = _searches(resource["resourceType"])
        assert any(matches(resource, params, PATIENT) for params in searches), resource


def test_the_generator_reaches_every_accepted_type_and_some_are_refused() -> None:
    """So the property above cannot pass vacuously."""
    rng = random.Random(11)
    shapes = [random_resource(rng, PATIENT, i) for i in range(3000)]
    accepted = [s for s in shapes if _accepted(s)]
    assert {s["resourceType"] for s in accepted} == {
        "Condition", "Observation", "DiagnosticReport", "ImagingStudy", "ServiceRequest", "Procedure"
    }
    assert 0.05 < len(accepted) / len(shapes) < 0.95


def _all_pages(server: FhirTestServer, query: str) -> set[str]:
    url: str | None = f"{server.base_url}/{query}"
    ids: set[str] = set()
    while url:
        page = requests.get(url, timeout=30).json()
        ids |= {entry["resource"]["id"] for entry in page.get("entry", [])}
        url = next((urljoin(url, link["url"]) for link in page.get("link", []) if link["relation"] == "next"), None)
    return ids


@pytest.fixture
def server(fhir_server: FhirTestServer) -> Iterator[FhirTestServer]:  # noqa: F811
    fhir_server.reset()
    yield fhir_server
    fhir_server.reset()


@pytest.mark.fhir_server
def test_the_search_subset_agrees_with_the_real_fhir_server(server: FhirTestServer) -> None:
    rng = random.Random(2024)
    pool = [{"resourceType": "Patient", "id": PATIENT}] + [random_resource(rng, PATIENT, i) for i in range(400)]
    server.load(pool)
    for key, template in prefetch_templates():
        query = template.replace("{{context.patientId}}", PATIENT)
        if "?" not in query:
            continue
        expected = {entry["resource"]["id"] for entry in search(query, pool, PATIENT)["entry"]}
        assert _all_pages(server, query) == expected, key
