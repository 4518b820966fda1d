"""What a hostile prefetch or draft order gets over HTTP: a bounded answer, never a 500."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from cds_service.gathering import limits
from cds_service.invocation import DATA_ISSUES_EXTENSION, DATA_ISSUES_NOT_LISTED_EXTENSION
from fhir_fixtures.hook_requests import build_request
from tests.support.gathering_data import nested_extensions

TODAY = date(2026, 11, 21)
URL = "/cds-services/foot-calcification-{hook}"


def _with_junk(body: dict[str, Any], entries: int) -> dict[str, Any]:
    key = next(k for k, v in body["prefetch"].items() if isinstance(v, dict) and v.get("resourceType") == "Bundle")
    body["prefetch"][key]["entry"] += ["junk"] * entries
    return body


def test_data_issues_are_listed_up_to_the_cap_and_counted_in_the_response(client):
    body = _with_junk(build_request("fc-tendinitis-no-xr", "patient-view", TODAY), 5000)
    response = client.post(URL.format(hook="patient-view"), json=body)
    assert response.status_code == 200
    answer = response.json()
    assert answer["cards"]  # the usable data still gives its cards
    assert len(answer["extension"][DATA_ISSUES_EXTENSION]) == limits.MAX_LISTED_ISSUES
    assert answer["extension"][DATA_ISSUES_NOT_LISTED_EXTENSION] == 5000 - limits.MAX_LISTED_ISSUES
    assert len(response.content) < 50_000  # it was 234 MB for 4.9 MB of such entries


def test_few_data_issues_are_all_listed_and_nothing_is_counted(client):
    body = _with_junk(build_request("fc-tendinitis-no-xr", "patient-view", TODAY), 3)
    answer = client.post(URL.format(hook="patient-view"), json=body).json()
    assert len(answer["extension"][DATA_ISSUES_EXTENSION]) == 3
    assert DATA_ISSUES_NOT_LISTED_EXTENSION not in answer["extension"]


def test_a_prefetch_resource_nested_too_deep_is_a_data_issue_not_a_500(client):
    body = build_request("fc-tendinitis-no-xr", "order-select", TODAY)
    key = next(k for k, v in body["prefetch"].items() if isinstance(v, dict) and v.get("entry"))
    deep = body["prefetch"][key]["entry"][0]["resource"]
    deep["extension"] = nested_extensions(20)  # 40 levels: over the resource limit, under the body's
    response = client.post(URL.format(hook="order-select"), json=body)
    assert response.status_code == 200
    problems = [issue["problem"] for issue in response.json()["extension"][DATA_ISSUES_EXTENSION]]
    assert f"nests deeper than {limits.MAX_RESOURCE_DEPTH} levels; left out" in problems


def test_a_prefetch_resource_with_150_nested_extensions_is_a_400_naming_it_not_a_500(client):
    body = build_request("fc-tendinitis-no-xr", "order-select", TODAY)
    key = next(k for k, v in body["prefetch"].items() if isinstance(v, dict) and v.get("entry"))
    body["prefetch"][key]["entry"][0]["resource"]["extension"] = nested_extensions(150)
    response = client.post(URL.format(hook="order-select"), json=body)
    assert response.status_code == 400
    (issue,) = response.json()["issues"]
    assert issue["field"].startswith(f"prefetch.{key}.entry[0].resource.extension[0]")


def test_a_draft_order_nested_too_deep_is_a_400_naming_it_not_a_500(client):
    body = build_request("fc-tendinitis-no-xr", "order-select", TODAY)
    draft = body["context"]["draftOrders"]["entry"][0]["resource"]
    draft["extension"] = nested_extensions(20)  # 40 levels: over the resource limit, under the body's
    response = client.post(URL.format(hook="order-select"), json=body)
    assert response.status_code == 400, response.text
    (issue,) = response.json()["issues"]
    assert issue == {"field": "context.draftOrders",
                     "problem": f"entry[0].resource nests deeper than {limits.MAX_RESOURCE_DEPTH} levels"}


def test_a_long_resource_id_is_cut_in_a_data_issue(client):
    body = _with_junk(build_request("fc-tendinitis-no-xr", "patient-view", TODAY), 0)
    key = next(k for k, v in body["prefetch"].items() if isinstance(v, dict) and v.get("resourceType") == "Bundle")
    body["prefetch"][key]["entry"].append({"resource": {"resourceType": "Condition", "id": "x" * 100_000}})
    response = client.post(URL.format(hook="patient-view"), json=body)
    assert response.status_code == 200
    labels = [i.get("resource") for i in response.json()["extension"][DATA_ISSUES_EXTENSION]]
    assert "Condition/" + "x" * limits.MAX_LABEL_ID_CHARS + "..." in labels
    assert len(json.dumps(response.json())) < 50_000
