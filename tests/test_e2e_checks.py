"""The e2e checks must be able to fail: each mutation of a correct answer is reported."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from tests.support.e2e_checks import check_response
from tests.support.e2e_run import run_fixture

TODAY = date(2028, 3, 1)
JSON = dict[str, Any]


@pytest.fixture(scope="module")
def ulcer_sign() -> tuple[JSON, JSON]:
    request, response = run_fixture("fc-diabetic-ulcer", "order-sign", TODAY)
    assert check_response("fc-diabetic-ulcer", "order-sign", request, response, TODAY) == []
    return request, response


def _card(response: JSON, node: str) -> JSON:
    return next(c for c in response["cards"] if c["source"]["topic"]["code"] == node)


def _problems(request: JSON, response: JSON) -> str:
    return "\n".join(check_response("fc-diabetic-ulcer", "order-sign", request, response, TODAY))


def test_a_missing_card_is_reported(ulcer_sign: tuple[JSON, JSON]) -> None:
    request, response = copy.deepcopy(ulcer_sign)
    response["cards"] = [c for c in response["cards"] if c["source"]["topic"]["code"] != "osteomyelitis-rule-out"]
    assert "missing ['osteomyelitis-rule-out']" in _problems(request, response)


def test_a_duplicate_card_and_uuid_are_reported(ulcer_sign: tuple[JSON, JSON]) -> None:
    request, response = copy.deepcopy(ulcer_sign)
    response["cards"].append(copy.deepcopy(response["cards"][0]))
    problems = _problems(request, response)
    assert "duplicate cards" in problems and "uuids are not unique" in problems


def test_a_wrong_indicator_is_reported(ulcer_sign: tuple[JSON, JSON]) -> None:
    request, response = copy.deepcopy(ulcer_sign)
    _card(response, "repeat-radiograph")["indicator"] = "warning"
    assert "indicator expected 'info'; got 'warning'" in _problems(request, response)


def test_a_wrong_update_window_is_reported(ulcer_sign: tuple[JSON, JSON]) -> None:
    request, response = copy.deepcopy(ulcer_sign)
    action = _card(response, "repeat-radiograph")["suggestions"][0]["actions"][0]
    action["resource"]["occurrencePeriod"]["start"] = TODAY.isoformat()
    assert "updated occurrencePeriod should be today+9d..today+23d; got (0, 23)" in _problems(request, response)


def test_an_update_of_another_resource_is_reported(ulcer_sign: tuple[JSON, JSON]) -> None:
    request, response = copy.deepcopy(ulcer_sign)
    _card(response, "repeat-radiograph")["suggestions"][0]["actions"][0]["resource"]["id"] = "someone-else"
    problems = _problems(request, response)
    assert "expected an update of ServiceRequest/fc-diabetic-ulcer-draft-xr" in problems
    assert "which is not a draft order of the request" in problems


def test_a_detail_without_the_seed_quote_is_reported(ulcer_sign: tuple[JSON, JSON]) -> None:
    request, response = copy.deepcopy(ulcer_sign)
    _card(response, "repeat-radiograph")["detail"] = "Repeat it."
    assert "does not quote the seed" in _problems(request, response)


def test_suggesting_what_is_done_or_drafted_is_reported(ulcer_sign: tuple[JSON, JSON]) -> None:
    request, response = copy.deepcopy(ulcer_sign)
    create = next(
        s
        for s in _card(response, "osteomyelitis-rule-out")["suggestions"]
        if any("1988-5" in str(a.get("resource")) for a in s["actions"])
    )
    resource = create["actions"][0]["resource"]
    resource["code"]["coding"][0]["code"] = "4537-7"  # ESR: resulted 10 days ago
    problems = _problems(request, response)
    assert "must not suggest ['4537-7']" in problems
    resource["code"]["coding"][0]["code"] = "37699-6"  # the drafted radiograph
    assert "already in the draft orders" in _problems(request, response)


def test_an_invalid_suggested_resource_is_reported(ulcer_sign: tuple[JSON, JSON]) -> None:
    request, response = copy.deepcopy(ulcer_sign)
    resource = _card(response, "osteomyelitis-rule-out")["suggestions"][0]["actions"][0]["resource"]
    resource["status"] = "active"
    resource["subject"] = {"reference": "Patient/other"}
    problems = _problems(request, response)
    assert "should be status draft" in problems and "wrong subject" in problems


def test_cards_for_a_quiet_patient_are_reported(ulcer_sign: tuple[JSON, JSON]) -> None:
    _, response = ulcer_sign
    request, quiet = run_fixture("fc-outside", "patient-view", TODAY)
    assert check_response("fc-outside", "patient-view", request, quiet, TODAY) == []
    problems = check_response("fc-outside", "patient-view", request, {"cards": response["cards"]}, TODAY)
    assert problems and "expected exactly" in problems[0]


def test_unreadable_evidence_is_reported(ulcer_sign: tuple[JSON, JSON]) -> None:
    request, response = copy.deepcopy(ulcer_sign)
    card = _card(response, "osteomyelitis-rule-out")
    card["detail"] += "\n- Calcium 9.2585 mg/dL (normal), 2026-11-11 (2026-11-11)"
    problems = _problems(request, response)
    assert "spurious precision: ['9.2585']" in problems and "repeats its date" in problems
