"""What a card echoes from the record is bounded (issue 8): a megabyte condition text or a chart with
dozens of matching problems gives cards of the usual size, with an ellipsis and "and N more"."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

from cds_service.render.text import MAX_EVIDENCE_LINES, MAX_TEXT_CHARS
from fhir_fixtures.hook_requests import build_request
from tests.support.e2e_run import run_request

TODAY = date(2026, 11, 21)
PATIENT = "fc-tendinitis-no-xr"
# 400 KB: echoed into three cards it would be over a megabyte. (The 3.8 MB text is capped the same way;
# test_facts_text_cap.py sends that one, for what the facts step reads of it.)
HUGE = "Calcific tendinitis of the right foot " + "with a very long free-text note, " * 13_000 + "painful"
JSON = dict[str, Any]


def _resources(request: JSON, resource_type: str) -> list[JSON]:
    found = []
    for value in request["prefetch"].values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            found += [e["resource"] for e in value.get("entry", []) if e["resource"]["resourceType"] == resource_type]
    return found


def _with_huge_texts(hook: str) -> JSON:
    request = build_request(PATIENT, hook, TODAY)
    for condition in _resources(request, "Condition"):
        if condition["id"].endswith("-calc"):
            condition["code"]["text"] = HUGE
            condition["code"]["coding"][0]["display"] = HUGE
    for entry in (request["context"].get("draftOrders") or {}).get("entry", []):
        entry["resource"]["code"]["text"] = HUGE
        entry["resource"]["reasonCode"] = [{"text": HUGE}]
    return request


def test_a_huge_condition_text_is_not_echoed_into_the_response() -> None:
    for hook in ("patient-view", "order-select", "order-sign"):
        request = _with_huge_texts(hook)
        assert len(json.dumps(request)) > 800_000
        response = run_request(request, TODAY)
        body = json.dumps(response, ensure_ascii=False)
        assert response["cards"], hook
        assert len(body) < 40_000, (hook, len(body))
        assert "\u2026" in body  # cut, and says so
        for card in response["cards"]:
            for suggestion in card.get("suggestions", []):
                assert len(suggestion["label"]) <= MAX_TEXT_CHARS + 40
                for action in suggestion.get("actions", []):
                    assert len(action["description"]) <= MAX_TEXT_CHARS + 60
                    assert len(json.dumps(action.get("resource", {}))) < 5_000


def test_many_matching_problems_show_ten_lines_and_a_count() -> None:
    request = build_request(PATIENT, "patient-view", TODAY)
    bundle = request["prefetch"]["conditions"]
    (calc,) = [e["resource"] for e in bundle["entry"] if e["resource"]["id"].endswith("-calc")]
    for i in range(40):
        twin = copy.deepcopy(calc)
        twin["id"] = f"{calc['id']}-{i}"
        twin["code"]["text"] = f"Calcific tendinitis of the right foot, entry {i}"
        bundle["entry"].append({"fullUrl": f"http://fixtures.example.org/fhir/Condition/{twin['id']}", "resource": twin})
    response = run_request(request, TODAY)
    for card in response["cards"]:
        lines = card["detail"].split("**What in the record led to this**", 1)[1].split("**", 1)[0]
        items = [line for line in lines.splitlines() if line.startswith("- ")]
        assert len(items) <= MAX_EVIDENCE_LINES + 1, card["source"]["topic"]["code"]
        if len(items) == MAX_EVIDENCE_LINES + 1:
            assert items[-1].startswith("- and ") and items[-1].endswith(" more")
    assert any("- and 3" in c["detail"] for c in response["cards"])  # 41 problems: 10 shown, 31 more
