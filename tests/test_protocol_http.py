"""HTTP-level behaviour: body size limit, CORS, feedback shape, method errors."""

from __future__ import annotations

import json

import pytest

from tests.support.protocol_requests import hook_request

PV = "/cds-services/foot-calcification-patient-view"


def test_body_over_the_limit_is_413(make_client):
    client = make_client(max_body_bytes=2048)
    body = hook_request("patient-view", padding="x" * 4096)
    response = client.post(PV, json=body)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_chunked_body_over_the_limit_is_413(make_client):
    client = make_client(max_body_bytes=2048)
    payload = json.dumps(hook_request("patient-view", padding="x" * 4096)).encode()

    def chunks():
        for start in range(0, len(payload), 512):
            yield payload[start : start + 512]

    response = client.post(PV, content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_body_under_the_limit_passes(make_client):
    client = make_client(max_body_bytes=1_000_000)
    assert client.post(PV, json=hook_request("patient-view")).status_code == 200


def test_cors_preflight_allows_authorization_and_content_type(make_client):
    client = make_client(cors_origins=["https://ehr.example.org"])
    response = client.options(
        PV,
        headers={
            "Origin": "https://ehr.example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://ehr.example.org"
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "POST" in response.headers["access-control-allow-methods"]


def test_cors_actual_request_carries_the_origin(make_client):
    client = make_client(cors_origins=["https://ehr.example.org"])
    response = client.get("/cds-services", headers={"Origin": "https://ehr.example.org"})
    assert response.headers["access-control-allow-origin"] == "https://ehr.example.org"


def test_cors_refuses_other_origins(make_client):
    client = make_client(cors_origins=["https://ehr.example.org"])
    response = client.options(
        PV, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_cors_wildcard_from_environment(monkeypatch, make_client):
    from cds_service.settings import Settings

    monkeypatch.setenv("CDS_CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]
    client = make_client(cors_origins=["*"])
    response = client.get("/cds-services", headers={"Origin": "https://sandbox.cds-hooks.org"})
    assert response.headers["access-control-allow-origin"] == "*"


def test_wrong_method_is_a_json_405(client):
    response = client.get(PV)
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


FEEDBACK = "/cds-services/foot-calcification-patient-view/feedback"
CARD = "4f8e7b2a-3c1d-4e5f-8a9b-0c1d2e3f4a5b"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "feedback"),
        ({"feedback": []}, "feedback"),
        ({"feedback": [{"outcome": "accepted", "outcomeTimestamp": "2026-11-21T10:00:00Z"}]}, "feedback[0].card"),
        ({"feedback": [{"card": CARD, "outcomeTimestamp": "2026-11-21T10:00:00Z"}]}, "feedback[0].outcome"),
        ({"feedback": [{"card": CARD, "outcome": "maybe", "outcomeTimestamp": "2026-11-21T10:00:00Z"}]}, "feedback[0].outcome"),
        ({"feedback": [{"card": CARD, "outcome": "accepted", "outcomeTimestamp": "2026-11-21T10:00:00Z"}]}, "feedback[0]"),
        ({"feedback": [{"card": CARD, "outcome": "overridden"}]}, "feedback[0].outcomeTimestamp"),
        ({"feedback": [{"card": CARD, "outcome": "overridden", "outcomeTimestamp": "2026-11-21T10:00:00"}]}, "feedback[0].outcomeTimestamp"),
        ({"feedback": [{"card": CARD, "outcome": "overridden", "outcomeTimestamp": "yesterday"}]}, "feedback[0].outcomeTimestamp"),
    ],
)
def test_malformed_feedback_is_400_naming_the_field(client, body, field):
    response = client.post(FEEDBACK, json=body)
    assert response.status_code == 400, response.text
    assert field in [issue["field"] for issue in response.json()["issues"]]


def test_feedback_for_an_unknown_service_is_404(client):
    response = client.post("/cds-services/nope/feedback", json={"feedback": []})
    assert response.status_code == 404
