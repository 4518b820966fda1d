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


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
     "application/xml", "application/jsonp", "json", "application/json; charset=utf-16", "", None],
)
def test_a_post_that_is_not_json_is_415(client, content_type):
    """A browser sends text/plain and forms cross-origin without a preflight: they must not be read."""
    headers = {} if content_type is None else {"content-type": content_type}
    response = client.post(PV, content=json.dumps(hook_request("patient-view")), headers=headers)
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "Application/JSON; charset=UTF-8", "application/fhir+json", "application/json;charset=utf8",
     "application/cds-hooks+json; version=2"],
)
def test_json_types_with_parameters_are_accepted(client, content_type):
    response = client.post(PV, content=json.dumps(hook_request("patient-view")), headers={"content-type": content_type})
    assert response.status_code == 200, response.text


def test_two_content_types_are_415(client):
    headers = [("content-type", "application/json"), ("content-type", "text/plain")]
    assert client.post(PV, content=json.dumps(hook_request("patient-view")), headers=headers).status_code == 415


def test_feedback_too_must_be_json(client):
    response = client.post(FEEDBACK, content='{"feedback": []}', headers={"content-type": "text/plain"})
    assert response.status_code == 415


def test_the_415_carries_cors_headers(make_client):
    client = make_client(cors_origins=["https://ehr.example.org"])
    response = client.post(PV, content="{}", headers={"content-type": "text/plain", "Origin": "https://ehr.example.org"})
    assert response.status_code == 415
    assert response.headers["access-control-allow-origin"] == "https://ehr.example.org"


def _asgi_post(app, messages):
    """Run one POST through the ASGI app with the given receive messages; return what it sent."""
    import asyncio

    sent, pending = [], list(messages)

    async def receive():
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": PV, "raw_path": PV.encode(), "query_string": b"", "root_path": "", "server": ("testserver", 80),
             "client": ("127.0.0.1", 1), "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")]}
    asyncio.run(app(scope, receive, send))
    return sent


def test_a_client_gone_while_sending_its_body_is_not_an_error(client, caplog):
    caplog.set_level("INFO")
    sent = _asgi_post(client.app, [{"type": "http.request", "body": b'{"hook": "pat', "more_body": True},
                                   {"type": "http.disconnect"}])
    assert sent == []  # nobody to answer
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert "Traceback" not in caplog.text and "unhandled" not in caplog.text


def test_a_disconnect_seen_by_a_route_is_logged_quietly(caplog):
    from starlette.requests import ClientDisconnect

    from cds_service.errors import UnhandledErrorMiddleware

    async def route(scope, receive, send):
        raise ClientDisconnect()

    caplog.set_level("INFO")
    assert _asgi_post(UnhandledErrorMiddleware(route), []) == []
    assert "client disconnected before its request was read: POST" in caplog.text
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
