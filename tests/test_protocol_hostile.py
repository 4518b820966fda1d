"""Requests an attacker (or a broken EHR) sends: each is a 400 naming the field, never a 500.

The cases issue 8 reports (deep nesting, a 4,300-digit number, duplicate keys, a lone surrogate, a NUL,
an out-of-range timestamp, JSON types FHIR forbids in the envelope and the draft orders), through HTTP.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.protocol_requests import hook_request

PV = "/cds-services/foot-calcification-patient-view"
SIGN = "/cds-services/foot-calcification-order-sign"
FEEDBACK = f"{PV}/feedback"


def post_raw(client: Any, path: str, raw: bytes) -> Any:
    return client.post(path, content=raw, headers={"content-type": "application/json"})


def fields(response: Any) -> list[str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_request"
    return [issue["field"] for issue in body["issues"]]


def overridden(**changes: Any) -> dict[str, Any]:
    entry = {"card": "4f8e7b2a-3c1d-4e5f-8a9b-0c1d2e3f4a5b", "outcome": "overridden",
             "outcomeTimestamp": "2026-11-21T10:00:00Z"}
    return {"feedback": [{**entry, **changes}]}


@pytest.mark.parametrize("path", [PV, FEEDBACK])
def test_a_body_nested_a_thousand_levels_deep(client: Any, path: str) -> None:
    response = post_raw(client, path, b'{"a":' * 1000 + b"1" + b"}" * 1000)
    assert fields(response)[0].startswith("a.a.a")
    assert "nested more than" in response.text


@pytest.mark.parametrize("path", [PV, FEEDBACK])
def test_a_number_of_more_than_4300_digits(client: Any, path: str) -> None:
    response = post_raw(client, path, b'{"hook": ' + b"9" * 4301 + b"}")
    assert fields(response) == ["(body)"]


def test_duplicate_keys(client: Any) -> None:
    raw = json.dumps(hook_request("patient-view")).encode()
    raw = raw.replace(b'"patientId": ', b'"patientId": "someone-else", "patientId": ', 1)
    assert fields(post_raw(client, PV, raw)) == ["context.patientId"]


def test_a_lone_surrogate_in_a_feedback_string(client: Any) -> None:
    raw = json.dumps(overridden(overrideReason={"userComment": "\ud800"})).encode()  # written as \ud800
    assert fields(post_raw(client, FEEDBACK, raw)) == ["(body)"]


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_an_outcome_timestamp_out_of_range(client: Any, stamp: str) -> None:
    response = client.post(FEEDBACK, json=overridden(outcomeTimestamp=stamp))
    assert fields(response) == ["feedback[0].outcomeTimestamp"]
    assert "out of range" in response.text


@pytest.mark.parametrize("stamp", [1763719200, 1.5, True, None, ["2026-11-21T10:00:00Z"]])
def test_an_outcome_timestamp_that_is_not_a_string(client: Any, stamp: Any) -> None:
    assert fields(client.post(FEEDBACK, json=overridden(outcomeTimestamp=stamp))) == ["feedback[0].outcomeTimestamp"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"overrideReason": {"userComment": "before\x00after"}}, "feedback[0].overrideReason.userComment"),
        ({"overrideReason": {"reason": {"system": "s", "code": "a\x00"}}}, "feedback[0].overrideReason.reason.code"),
        ({"card": "x\x00"}, "feedback[0].card"),
        ({"card": "c" * 129}, "feedback[0].card"),
        ({"card": 7}, "feedback[0].card"),
        ({"overrideReason": {"reason": {"system": [], "code": {}}}}, "feedback[0].overrideReason.reason.system"),
        ({"acceptedSuggestions": {"id": "x"}, "outcome": "accepted"}, "feedback[0].acceptedSuggestions"),
    ],
)
def test_feedback_values_the_store_could_not_hold(client: Any, change: dict[str, Any], field: str) -> None:
    assert field in fields(client.post(FEEDBACK, json=overridden(**change)))


def test_too_many_feedback_entries_in_one_request(client: Any) -> None:
    body = {"feedback": overridden()["feedback"] * 1001}
    assert fields(client.post(FEEDBACK, json=body)) == ["feedback"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hookInstance": 1}, "hookInstance"),
        ({"hook": ["patient-view"]}, "hook"),
        ({"context": []}, "context"),
        ({"prefetch": []}, "prefetch"),
        ({"fhirServer": "https://[::1"}, "fhirServer"),
        ({"fhirServer": "http://fhir.example.org:99999"}, "fhirServer"),
        ({"fhirServer": {"url": "http://x"}}, "fhirServer"),
        ({"fhirServer": "http://x", "fhirAuthorization": {"access_token": "t", "token_type": "Bearer",
                                                          "expires_in": "3600"}}, "fhirAuthorization.expires_in"),
        ({"fhirServer": "http://x", "fhirAuthorization": {"access_token": "t", "token_type": "Bearer",
                                                          "expires_in": True}}, "fhirAuthorization.expires_in"),
        ({"fhirServer": "http://x", "fhirAuthorization": {"access_token": [], "token_type": "Bearer"}},
         "fhirAuthorization.access_token"),
    ],
)
def test_json_types_the_envelope_forbids(client: Any, change: dict[str, Any], field: str) -> None:
    assert field in fields(client.post(PV, json={**hook_request("patient-view"), **change}))


@pytest.mark.parametrize(
    "resource_change",
    [{"resourceType": []}, {"resourceType": {}}, {"resourceType": "not a type"}, {"id": {}}, {"id": ["x"]},
     {"id": 12}],
)
def test_json_types_the_draft_orders_forbid(client: Any, resource_change: dict[str, Any]) -> None:
    body = hook_request("order-sign")
    body["context"]["draftOrders"]["entry"][0]["resource"].update(resource_change)
    response = client.post(SIGN, json=body)
    assert fields(response) == ["context.draftOrders"]
    assert "entry[0]" in response.json()["issues"][0]["problem"]


@pytest.mark.parametrize("entries", [{"x": 1}, "entries", [1], [[]], [{"resource": []}]])
def test_draft_order_bundles_of_the_wrong_shape(client: Any, entries: Any) -> None:
    body = hook_request("order-sign")
    body["context"]["draftOrders"]["entry"] = entries
    assert fields(client.post(SIGN, json=body)) == ["context.draftOrders"]


def test_a_draft_order_nested_150_extensions_deep(client: Any) -> None:
    body = hook_request("order-sign")
    extension: dict[str, Any] = {"url": "http://example.org/x", "valueString": "y"}
    for _ in range(150):
        extension = {"url": "http://example.org/x", "extension": [extension]}
    body["context"]["draftOrders"]["entry"][0]["resource"]["extension"] = [extension]
    (field,) = fields(client.post(SIGN, json=body))
    assert field.startswith("context.draftOrders.entry[0].resource.extension[0].extension")
