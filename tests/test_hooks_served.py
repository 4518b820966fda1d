"""The hook route under a real uvicorn server: the deadline over HTTP, isolation between calls to a slow and
a healthy FHIR server, and calls dropped (their FHIR requests closed) when their client goes away."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cds_service.app import create_app
from cds_service.services import prefetch_keys, prefetch_templates
from cds_service.settings import Settings
from tests.support.gathering_stub_server import NEVER, Answer, StubFhirServer, stub_fhir_server
from tests.support.served_app import served_app

PV = "/cds-services/foot-calcification-patient-view"
KEYS = sorted(key for key, _ in prefetch_templates())
# Searches of a full fetch: one per key, and `<date>:missing=true` for each windowed key.
QUERIES = len(KEYS) + sum(1 for spec in prefetch_keys() if spec.window is not None)
MARGIN = 0.75  # beyond the deadline: HTTP on a loaded 2-core machine


def _app(tmp_path: Path, **overrides: Any):
    values: dict[str, Any] = {"auth_mode": "disabled", "database_url": f"sqlite:///{tmp_path}/served.db",
                              "public_base_url": "http://testserver"}
    values.update(overrides)
    return create_app(Settings(**values))


def _body(patient_id: str, fhir_server: str) -> dict[str, Any]:
    return {"hook": "patient-view", "hookInstance": "7e2d9c4b-1a3f-4b5e-8c6d-9f0a1b2c3d4e",
            "context": {"userId": "Practitioner/doc-1", "patientId": patient_id}, "fhirServer": fhir_server,
            "fhirAuthorization": {"access_token": "tok-served-1c9e", "token_type": "Bearer"}}


def _healthy(path: str, base: str) -> Answer:
    if "/Patient/" in path:
        return Answer(body={"resourceType": "Patient", "id": path.rsplit("/", 1)[1].split("?")[0]})
    return Answer()


def _trickle(path: str, base: str) -> Answer:
    return Answer(trickle=0.5)


def test_a_call_to_a_trickling_server_ends_at_the_deadline_over_http(tmp_path):
    with stub_fhir_server(_trickle) as slow, served_app(_app(tmp_path, call_deadline_seconds=1.0)) as url:
        started = time.monotonic()
        response = httpx.post(url + PV, json=_body("pt-slow", slow.base_url), timeout=30)
        elapsed = time.monotonic() - started
    assert response.status_code == 412
    assert sorted(response.json()["missing"]) == KEYS
    assert all("deadline exceeded" in reason for reason in response.json()["missing"].values())
    assert elapsed < 1.0 + MARGIN, f"the call took {elapsed:.2f} s"


async def _post(http: httpx.AsyncClient, url: str, body: dict[str, Any]) -> tuple[int, float]:
    started = time.monotonic()
    response = await http.post(url, json=body)
    return response.status_code, time.monotonic() - started


def test_a_slow_fhir_server_does_not_slow_other_patients_calls(tmp_path):
    """Ten calls held by a trickling server (150 FHIR requests in flight: the old shared pool had 8 threads)
    and, meanwhile, one call to a healthy server: it answers at once."""
    deadline = 4.0

    async def scenario(url: str, slow: StubFhirServer, healthy: StubFhirServer) -> tuple[list, tuple]:
        async with httpx.AsyncClient(timeout=30) as http:
            held = [asyncio.create_task(_post(http, url + PV, _body(f"pt-slow-{i}", slow.base_url)))
                    for i in range(10)]
            while len(slow.seen) < 10 * QUERIES:  # every slow call is waiting on the trickling server
                await asyncio.sleep(0.02)
            quick = await _post(http, url + PV, _body("pt-healthy", healthy.base_url))
            still_held = sum(not task.done() for task in held)
            return [await task for task in held], (*quick, still_held)

    with stub_fhir_server(_trickle) as slow, stub_fhir_server(_healthy) as healthy, \
            served_app(_app(tmp_path, call_deadline_seconds=deadline)) as url:
        slow_calls, (status, seconds, still_held) = asyncio.run(scenario(url, slow, healthy))
    assert status == 200
    assert still_held == 10, "the healthy call must have answered while every slow call was still held"
    assert seconds < 1.0, f"the healthy call took {seconds:.2f} s"
    assert all(code == 412 and took < deadline + MARGIN for code, took in slow_calls), slow_calls


def _send_and_leave(url: str, raw: bytes, leave_when: Any) -> None:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(raw)
        waited = time.monotonic()
        while not leave_when() and time.monotonic() - waited < 5:
            time.sleep(0.02)
    # leaving the block closes the connection before any answer was read


def _request_bytes(body: bytes, *, declared: int | None = None) -> bytes:
    head = (f"POST {PV} HTTP/1.1\r\nHost: testserver\r\nContent-Type: application/json\r\n"
            f"Content-Length: {declared if declared is not None else len(body)}\r\n\r\n")
    return head.encode() + body


def _wait_for(condition: Any, seconds: float = 3.0) -> bool:
    waited = time.monotonic()
    while not condition():
        if time.monotonic() - waited > seconds:
            return False
        time.sleep(0.02)
    return True


def _read_fails_searches_hang(path: str, base: str) -> Answer:
    # A key that has failed already when the client leaves: its error must not be logged as never retrieved.
    return Answer(status=500, body="") if "/Patient/" in path else Answer(delay=NEVER)


def test_a_call_whose_client_left_is_dropped_and_its_fhir_requests_closed(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    app = _app(tmp_path, call_deadline_seconds=30.0)
    with stub_fhir_server(_read_fails_searches_hang) as fhir, served_app(app) as url:
        body = json.dumps(_body("pt-gone", fhir.base_url)).encode()
        _send_and_leave(url, _request_bytes(body), lambda: len(fhir.seen) == QUERIES)
        assert len(fhir.seen) == QUERIES
        # Within moments, not at the 30 s deadline: the service closed every FHIR request of the call.
        hanging = QUERIES - 1
        assert _wait_for(lambda: fhir.abandoned == hanging), f"{fhir.abandoned} of {hanging} closed"
        assert _wait_for(lambda: any("closed the connection" in r.getMessage() for r in caplog.records))
        gc.collect()  # a task dropped with an unretrieved error is reported when it is collected
    dropped = [r for r in caplog.records if "closed the connection" in r.getMessage()]
    assert len(dropped) == 1 and dropped[0].levelno == logging.INFO and dropped[0].exc_info is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text


def test_a_client_that_leaves_while_sending_its_body_is_logged_quietly(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    with served_app(_app(tmp_path)) as url:
        _send_and_leave(url, _request_bytes(b'{"hook": "patient-view"', declared=5000), lambda: False)
        assert _wait_for(lambda: any("closed the connection" in r.getMessage() for r in caplog.records))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text


def test_a_call_with_everything_in_prefetch_answers_over_uvicorn(tmp_path):
    from datetime import date

    from fhir_fixtures.hook_requests import build_request

    with served_app(_app(tmp_path)) as url:
        response = httpx.post(url + PV, json=build_request("fc-tendinitis-no-xr", "patient-view", date.today()),
                              timeout=30)
    assert response.status_code == 200
    assert response.json()["cards"]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # The test's own HTTP client talks to 127.0.0.1 directly, whatever the environment says.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
