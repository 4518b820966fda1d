"""Property-based: JSON types FHIR forbids, anywhere in a resource the facts step reads (`"status": []`,
`"code": {}` as a list, `"system": []`, objects where strings belong...), never make a hook call raise.
The resource is left out and named in a data issue, or the field reads as absent."""

from __future__ import annotations

import asyncio
import copy
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cds_service.errors import DataUnavailable, ServiceError
from cds_service.facts.access import json_type_problem
from cds_service.facts.parse import to_clinical_data
from cds_service.gathering.fhir_client import FhirClient
from cds_service.gathering.gather import gather
from cds_service.gathering.records import ClinicalData
from cds_service.protocol.parse import parse_hook_request
from fhir_fixtures.catalog import PATIENTS
from fhir_fixtures.hook_requests import build_request
from tests.support.e2e_run import run_request

JSON = dict[str, Any]
TODAY = date(2028, 3, 1)
HOOKS = ("patient-view", "order-sign")

# JSON values of every type; a mutation keeps only those whose type differs from the value it replaces.
WRONG_VALUES = st.one_of(
    st.just([]),
    st.just({}),
    st.text(max_size=4),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.just([{}]),
    st.just([[]]),
    st.just({"coding": {}}),
    st.just([{"system": []}]),
    st.lists(st.text(max_size=3), min_size=1, max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), min_size=1, max_size=2),
)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, int | float) else type(value).__name__


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every field and array element under `value`, except the resource's own resourceType."""
    found = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            if path or key != "resourceType":
                found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        if not isinstance(value, dict | list):
            raise KeyError(part)  # an earlier mutation replaced a parent by a scalar
        value = value[part]
    return value


def _set(value: Any, path: tuple[Any, ...], new: Any) -> None:
    for part in path[:-1]:
        value = value[part]
    value[path[-1]] = new


def _resources(request: JSON) -> list[JSON]:
    """The prefetch resources, in place: mutating one mutates the request."""
    found = []
    for value in request["prefetch"].values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            found += [entry["resource"] for entry in value.get("entry", [])]
        elif isinstance(value, dict):
            found.append(value)
    return found


def _clinical(request: JSON) -> ClinicalData:
    parsed, context = parse_hook_request(copy.deepcopy(request), request["hook"])
    client = FhirClient()  # full prefetch: never called
    raw = asyncio.run(gather(parsed, context, client))
    return to_clinical_data(raw, context.patientId)


def _selected(data: ClinicalData) -> set[str]:
    models = (*data.conditions, *data.observations, *data.diagnostic_reports, *data.imaging_studies,
              *data.service_requests, *data.procedures)
    found = {f"{m['resourceType']}/{m['id']}" for m in models}
    if data.patient is not None:
        found.add("Patient")
    return found


@st.composite
def mutated_requests(draw: st.DrawFn) -> tuple[JSON, JSON, str, int]:
    """(original request, mutated request, `Type/id` of the mutated resource, its place in `_resources`)."""
    patient = draw(st.sampled_from(PATIENTS))
    hook = draw(st.sampled_from(HOOKS))
    original = build_request(patient, hook, TODAY)
    mutated = copy.deepcopy(original)
    resources = _resources(mutated)
    index = draw(st.integers(0, len(resources) - 1))
    target = resources[index]
    label = "Patient" if target["resourceType"] == "Patient" else f"{target['resourceType']}/{target['id']}"
    for path in draw(st.lists(st.sampled_from(_paths(target)), min_size=1, max_size=3, unique=True)):
        try:
            current = _at(target, path)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation replaced a parent
        new = draw(WRONG_VALUES.filter(lambda value, current=current: _kind(value) != _kind(current)))
        _set(target, path, new)
    return original, mutated, label, index


def _id_and_subject_replaced() -> tuple[JSON, JSON, str, int]:
    """A case CI once found: a Condition whose id and subject are both replaced is left out as another
    patient's data, and named by its place in the prefetch (it has no id left to name it by)."""
    original = build_request(PATIENTS[0], "patient-view", TODAY)
    mutated = copy.deepcopy(original)
    resources = _resources(mutated)
    index = next(i for i, r in enumerate(resources) if r["resourceType"] == "Condition")
    label = f"Condition/{resources[index]['id']}"
    resources[index]["id"], resources[index]["subject"] = [], {}
    return original, mutated, label, index


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_requests())
@example(_id_and_subject_replaced())
def test_forbidden_json_types_never_raise_and_are_reported(case: tuple[JSON, JSON, str, int]) -> None:
    original, mutated, label, index = case
    # By place, not by id: the mutation may have replaced the id itself.
    target = _resources(mutated)[index]
    try:
        response = run_request(mutated, TODAY)
    except ServiceError as error:
        # A prefetch value that is no longer FHIR at all (the Patient read's resourceType replaced, say) is
        # fetched instead, and without a fhirServer the key is missing: a 412 naming it, never a 500.
        assert isinstance(error, DataUnavailable), error.body()
        return
    assert isinstance(response.get("cards"), list)

    before, after = _selected(_clinical(original)), _clinical(mutated)
    if label in before and label not in _selected(after):
        # A resource the pathway read before is gone: a data issue must say so (by its id, or by its type
        # when the id itself was replaced, or by its place in the prefetch when gathering left it out).
        resource_type = label.split("/")[0]
        places = _places(mutated, target)
        assert any(
            issue.resource == label or issue.where.startswith(f"record.{resource_type}") or issue.where in places
            or resource_type == "Patient"
            for issue in after.issues
        ), (label, target, [issue.to_json() for issue in after.issues])


def _places(request: JSON, resource: JSON) -> set[str]:
    """Where `resource` is in the request's prefetch, as gathering names it in a data issue."""
    found = set()
    for key, value in request["prefetch"].items():
        if value is resource:
            found.add(f"prefetch.{key}")
        elif isinstance(value, dict) and isinstance(value.get("entry"), list):
            found |= {f"prefetch.{key}.entry[{index}]" for index, entry in enumerate(value["entry"])
                      if isinstance(entry, dict) and entry.get("resource") is resource}
    return found


@pytest.mark.parametrize(
    ("resource", "problem"),
    [
        ({"status": []}, "Observation.status is a JSON array, not a string"),
        ({"code": []}, "Observation.code is a JSON array, not a CodeableConcept object"),
        ({"code": {"coding": [{"system": [], "code": "x"}]}}, "Observation.code.coding[0].system is a JSON array, not a string"),
        ({"code": {"text": {"a": 1}}}, "Observation.code.text is a JSON object, not a string"),
        ({"category": "laboratory"}, "Observation.category is a JSON string, not an array"),
        ({"code": {"coding": {"system": "http://loinc.org"}}}, "Observation.code.coding is a JSON object, not an array"),
        ({"subject": {"reference": ["Patient/1"]}}, "Observation.subject.reference is a JSON array, not a string"),
        ({"effectivePeriod": {"start": 20260101}}, "Observation.effectivePeriod.start is a JSON number, not a string"),
    ],
)
def test_json_type_problem_names_the_field(resource: JSON, problem: str) -> None:
    assert json_type_problem({"resourceType": "Observation", **resource}, "Observation") == problem


def test_forbidden_json_types_from_a_fhir_server_are_data_issues() -> None:
    """The same holds when the FHIR server, not the prefetch, sends the bad types."""
    from tests.support.gathering_stub_server import Answer, stub_fhir_server

    patient = "pt-types"
    good = {
        "resourceType": "Condition", "id": "good", "subject": {"reference": f"Patient/{patient}"},
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M65.271"}]},
    }
    bad = [
        {**good, "id": "bad-status", "verificationStatus": {"coding": [{"code": []}]}},
        {**good, "id": "bad-code", "code": [{"text": "calcification of the heel"}]},
        {**good, "id": "bad-system", "code": {"coding": [{"system": ["x"], "code": "M65.272"}]}},
        {"resourceType": "Observation", "id": "bad-obs", "status": [], "subject": {"reference": f"Patient/{patient}"}},
    ]

    def behaviour(path: str, base: str) -> Answer:
        if path.startswith(f"/fhir/Patient/{patient}"):
            return Answer(body={"resourceType": "Patient", "id": patient})
        if path.startswith("/fhir/Condition") or path.startswith("/fhir/Observation"):
            kind = path.split("?")[0].rsplit("/", 1)[-1]
            return Answer(body={"resourceType": "Bundle", "type": "searchset", "entry": [
                {"resource": r} for r in (good, *bad) if r["resourceType"] == kind]})
        return Answer()

    with stub_fhir_server(behaviour) as server:
        request = {
            "hook": "patient-view",
            "hookInstance": "5a0c4e7e-8d3c-4bb2-9a4e-2f1d6c3b8a71",
            "fhirServer": server.base_url,
            "context": {"userId": "Practitioner/1", "patientId": patient},
        }
        client = FhirClient()
        try:
            response = run_request(request, TODAY, fhir_client=client)
        finally:
            client.close()
    assert response["cards"], "the valid calcification still reaches the pathway"
    issues = response["extension"]["org.foot-calcification-cds.data-issues"]
    named = {issue.get("resource") for issue in issues}
    assert {"Condition/bad-status", "Condition/bad-code", "Condition/bad-system", "Observation/bad-obs"} <= named
    assert all("left out" in issue["problem"] for issue in issues)
