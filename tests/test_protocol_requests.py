"""Invocation: validation of every request field, per hook, and the error answers."""

from __future__ import annotations

import pytest

from tests.support.protocol_requests import PATIENT_ID, SERVICE_IDS, draft_xr, hook_request


def post(client, hook, body):
    return client.post(f"/cds-services/{SERVICE_IDS[hook]}", json=body)


@pytest.mark.parametrize("hook", ["patient-view", "order-select", "order-sign"])
def test_a_valid_request_for_each_hook_answers_cards(client, hook):
    response = post(client, hook, hook_request(hook))
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["cards"], list)


def test_unknown_fields_and_extensions_are_ignored(client):
    body = hook_request("patient-view", extension={"com.example.flag": {"x": 1}}, somethingNew=True)
    body["context"]["futureField"] = "x"
    assert post(client, "patient-view", body).status_code == 200


def test_unknown_service_is_404(client):
    response = client.post("/cds-services/no-such-service", json=hook_request("patient-view"))
    assert response.status_code == 404
    assert "no-such-service" in response.json()["message"]


def _problem(response, field):
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_request"
    fields = [issue["field"] for issue in body["issues"]]
    assert field in fields, fields
    return body


@pytest.mark.parametrize(
    ("hook", "mutate", "field"),
    [
        ("patient-view", lambda b: b.pop("hook"), "hook"),
        ("patient-view", lambda b: b.update(hook="order-sign"), "hook"),
        ("patient-view", lambda b: b.pop("hookInstance"), "hookInstance"),
        ("patient-view", lambda b: b.update(hookInstance="not-a-uuid"), "hookInstance"),
        ("patient-view", lambda b: b.pop("context"), "context"),
        ("patient-view", lambda b: b["context"].pop("userId"), "context.userId"),
        ("patient-view", lambda b: b["context"].update(userId="doc-1"), "context.userId"),
        ("patient-view", lambda b: b["context"].update(userId="Device/1"), "context.userId"),
        ("patient-view", lambda b: b["context"].pop("patientId"), "context.patientId"),
        ("patient-view", lambda b: b["context"].update(patientId=f"Patient/{PATIENT_ID}"), "context.patientId"),
        ("patient-view", lambda b: b["context"].update(patientId="has spaces"), "context.patientId"),
        ("patient-view", lambda b: b["context"].update(encounterId="Encounter/9"), "context.encounterId"),
        ("patient-view", lambda b: b.update(fhirServer="ftp://x"), "fhirServer"),
        ("patient-view", lambda b: b.update(fhirAuthorization={"access_token": "t", "token_type": "Bearer"}), "fhirServer"),
        (
            "patient-view",
            lambda b: b.update(fhirServer="http://127.0.0.1:9", fhirAuthorization={"access_token": "t", "token_type": "MAC"}),
            "fhirAuthorization.token_type",
        ),
        ("patient-view", lambda b: b.update(prefetch=["not", "an", "object"]), "prefetch"),
        ("order-select", lambda b: b["context"].pop("draftOrders"), "context.draftOrders"),
        ("order-select", lambda b: b["context"].pop("selections"), "context.selections"),
        ("order-select", lambda b: b["context"].update(selections=[]), "context.selections"),
        ("order-select", lambda b: b["context"].update(selections=["draft-xr-1"]), "context.selections"),
        ("order-select", lambda b: b["context"].update(selections=["ServiceRequest/other"]), "context.selections"),
        ("order-sign", lambda b: b["context"].pop("draftOrders"), "context.draftOrders"),
        ("order-sign", lambda b: b["context"].update(draftOrders=draft_xr()), "context.draftOrders"),
        ("order-sign", lambda b: b["context"]["draftOrders"].update(entry=[{"resource": {"status": "draft"}}]), "context.draftOrders"),
        ("order-sign", lambda b: b["context"]["draftOrders"]["entry"][0]["resource"].pop("id"), "context.draftOrders"),
    ],
)
def test_malformed_requests_get_400_naming_the_field(client, hook, mutate, field):
    body = hook_request(hook)
    mutate(body)
    _problem(post(client, hook, body), field)


def test_error_bodies_never_echo_the_patient_id(client):
    body = hook_request("patient-view")
    body["context"]["patientId"] = "Patient/secret-patient-4711"
    response = post(client, "patient-view", body)
    assert response.status_code == 400
    assert "secret-patient-4711" not in response.text


def test_several_problems_are_reported_together(client):
    body = hook_request("order-select")
    body["hookInstance"] = "x"
    body["context"]["patientId"] = "Patient/1"
    body["context"]["selections"] = ["nope"]
    fields = {i["field"] for i in _problem(post(client, "order-select", body), "hookInstance")["issues"]}
    assert {"hookInstance", "context.patientId", "context.selections"} <= fields


@pytest.mark.parametrize(
    "raw",
    [b"", b"   ", b"{", b"[]", b"null", b"42", b'"text"', b"\xff\xfe", b'{"hook": ', b"{}"],
)
def test_garbage_bodies_get_400_never_500(client, raw):
    response = client.post(
        "/cds-services/foot-calcification-patient-view", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert "Traceback" not in response.text


def test_missing_data_without_fhir_server_is_412_naming_the_keys(client):
    body = hook_request("patient-view")
    body["prefetch"].pop("patient")
    response = post(client, "patient-view", body)
    assert response.status_code == 412, response.text
    payload = response.json()
    assert "patient" in payload["missing"]
    assert PATIENT_ID not in response.text
