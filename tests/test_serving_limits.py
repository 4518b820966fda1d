"""Connection limits of a real `cds-service serve` (serving.py): slow clients, header floods, bursts of
half-sent requests and saturation. In each, a legitimate client sending a real hook call still gets its
answer (or, past a limit, a fast 503), and the hostile connections are closed within the read timeout."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from cds_service.serving import raise_open_files_limit
from fhir_fixtures import build_request
from tests.support.gathering_stub_server import Answer, stub_fhir_server
from tests.support.serve_process import Served, raw_connection, served

PV = "/cds-services/foot-calcification-patient-view"
READ_TIMEOUT = 2.5  # seconds: small, so the tests are quick; not a whole second, so the 408 never
# crosses the slow client's next byte (a byte sent to a closed socket resets it, losing the 408)
LIMITS = {"CDS_REQUEST_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT), "CDS_MAX_HEADER_BYTES": "16384"}


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    with served(**LIMITS) as running:
        yield running


def hook_body() -> dict[str, Any]:
    return build_request("fc-diabetic-ulcer", "patient-view", date.today())


def legitimate_call(server: Served, timeout: float = 10) -> tuple[int, float]:
    """A real patient-view call: (status, seconds it took)."""
    started = time.monotonic()
    response = httpx.post(server.base + PV, json=hook_body(), timeout=timeout)
    if response.status_code == 200:
        assert response.json()["cards"]
    return response.status_code, time.monotonic() - started


def closed_within(sock: Any, seconds: float) -> bytes | None:
    """What the server sent before closing the connection, or None if it stayed open `seconds`."""
    sock.settimeout(seconds)
    received = b""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            chunk = sock.recv(4096)
            if not chunk:
                return received
            received += chunk
    except TimeoutError:
        return None
    except OSError:
        return received
    return None


HEAD = (b"POST " + PV.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 5000\r\n\r\n")


@pytest.mark.parametrize("stage", ["headers", "body"])
def test_a_client_sending_one_byte_a_second_is_cut_off(server: Served, stage: str) -> None:
    sock = raw_connection(server)
    if stage == "body":
        sock.sendall(HEAD)  # headers at once, then the body trickles
    trickle = HEAD if stage == "headers" else b"{" + b" " * 4999
    outcome: dict[str, Any] = {}

    def send_slowly() -> None:
        started = time.monotonic()
        for byte in trickle:
            try:
                sock.send(bytes([byte]))
            except OSError:
                break
            answer = closed_within(sock, 1.0)  # one byte a second
            if answer is not None:
                outcome["answer"], outcome["after"] = answer, time.monotonic() - started
                return
        outcome["after"] = time.monotonic() - started

    slow = threading.Thread(target=send_slowly)
    slow.start()
    time.sleep(0.5)
    status, seconds = legitimate_call(server)  # while the slow client is connected
    slow.join(timeout=30)
    sock.close()
    assert status == 200 and seconds < 3
    assert outcome.get("answer", b"").startswith(b"HTTP/1.1 408"), outcome
    assert outcome["after"] < READ_TIMEOUT + 2.5


def test_a_64_mb_header_is_refused_early_and_the_loop_stays_free(server: Served) -> None:
    sent: list[int] = [0]
    outcome: dict[str, Any] = {}

    def flood() -> None:
        sock = raw_connection(server)
        sock.sendall(b"GET /cds-services HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Flood: ")
        chunk = b"a" * 65536
        try:
            for _ in range(1024):  # 64 MB
                sock.sendall(chunk)
                sent[0] += len(chunk)
        except OSError as exc:
            outcome["stopped"] = type(exc).__name__
        sock.close()

    flooder = threading.Thread(target=flood)
    flooder.start()
    latencies = [legitimate_call(server)[1]]  # at least one, even when the flood is cut off at once
    while flooder.is_alive() and len(latencies) < 20:
        latencies.append(legitimate_call(server)[1])
    flooder.join(timeout=60)
    assert "stopped" in outcome, "the server read the whole 64 MB header"
    assert sent[0] < 8 * 1024 * 1024  # cut off after a few hundred kB at most (socket buffers), not 64 MB
    assert max(latencies) < 3
    assert "request refused (431): headers over 16384 bytes" in server.log()


def test_a_burst_of_half_sent_requests_does_not_lock_out_a_legitimate_client(server: Served) -> None:
    assert raise_open_files_limit(1200) >= 1200, "this test process cannot open 1,100 sockets"
    sockets = []
    for i in range(1100):
        sock = raw_connection(server)
        # Half stop inside their headers, half inside their body.
        sock.sendall(HEAD[: len(HEAD) // 2] if i % 2 else HEAD + b'{"hook": "pat')
        sockets.append(sock)
    try:
        status, seconds = legitimate_call(server)
        assert status == 200 and seconds < 5, (status, seconds)
        time.sleep(READ_TIMEOUT + 1.0)
        answers = [closed_within(sock, 5.0) for sock in sockets]
        assert all(answer is not None for answer in answers), "some half-sent requests were never closed"
        assert sum(1 for answer in answers if answer.startswith(b"HTTP/1.1 408")) > 1000
        assert legitimate_call(server)[0] == 200
    finally:
        for sock in sockets:
            sock.close()


def test_past_the_connection_limit_clients_get_a_fast_503_then_service_resumes() -> None:
    with served(**LIMITS, CDS_MAX_CONNECTIONS="20") as server:
        idle = [raw_connection(server) for _ in range(20)]  # connected, sending nothing
        time.sleep(0.3)
        try:
            started = time.monotonic()
            response = httpx.post(server.base + PV, json=hook_body(), timeout=5)
            assert response.status_code == 503 and time.monotonic() - started < 1.5
            assert response.headers["retry-after"] == "1"
            time.sleep(READ_TIMEOUT + 1.0)  # the idle connections are closed by the read timeout
            assert legitimate_call(server)[0] == 200
        finally:
            for sock in idle:
                sock.close()


def test_past_the_in_flight_limit_requests_get_a_fast_503_and_half_sent_ones_do_not_count() -> None:
    with stub_fhir_server(lambda path, base: Answer(delay=3.0)) as fhir, \
            served(**{**LIMITS, "CDS_MAX_REQUESTS_IN_FLIGHT": "1", "CDS_REQUEST_READ_TIMEOUT_SECONDS": "30"}) as server:
        half_sent = [raw_connection(server) for _ in range(5)]
        for sock in half_sent:
            sock.sendall(HEAD + b"{")
        try:
            assert legitimate_call(server)[0] == 200  # five requests still arriving: none is in flight

            slow_body = {**hook_body(), "fhirServer": fhir.base_url, "prefetch": {}}
            slow: dict[str, int] = {}
            caller = threading.Thread(target=lambda: slow.setdefault(
                "status", httpx.post(server.base + PV, json=slow_body, timeout=30).status_code))
            caller.start()
            time.sleep(1.0)  # the slow call is now waiting on the FHIR server
            status, seconds = legitimate_call(server)
            assert status == 503 and seconds < 1.5
            caller.join(timeout=30)
            assert slow["status"] in (200, 412)
            assert legitimate_call(server)[0] == 200
        finally:
            for sock in half_sent:
                sock.close()


def test_clients_that_go_away_are_not_logged_as_errors(server: Served) -> None:
    body = json.dumps(hook_body()).encode()
    head = (f"POST {PV} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    for payload in (head + body[:100], head + body):  # gone mid-body; gone before the answer
        for _ in range(20):
            sock = raw_connection(server)
            sock.sendall(payload)
            sock.close()
    time.sleep(1.5)
    log = server.log()
    assert "Traceback" not in log and "unhandled" not in log and "Exception in ASGI" not in log
    assert hook_body()["context"]["patientId"] not in log
