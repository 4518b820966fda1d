"""No log record, of any logger at any level, carries the patient id or the FHIR token.

Real fetches (answers, failures, timeouts, the deadline, a refused connection, a client that leaves) run
with the root logger and every HTTP library logger at DEBUG, and every record is scanned: its message, its
arguments and its exception text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cds_service.app import create_app
from cds_service.errors import DataUnavailable
from cds_service.gathering.deadline import Deadline
from cds_service.gathering.fhir_client import HTTP_LIBRARY_LOGGERS, FhirClient, quiet_http_library_logs
from cds_service.gathering.gather import gather
from cds_service.protocol.parse import parse_hook_request
from cds_service.settings import Settings
from tests.support.gathering_stub_server import NEVER, Answer, patient_then, refused_url, stub_fhir_server
from tests.support.served_app import served_app

PATIENT_ID = "pt-logscan-88d1f3"
TOKEN = "tok-logscan-5b07e2a9"
PV = "/cds-services/foot-calcification-patient-view"
SECRETS = (PATIENT_ID, TOKEN)


def _body(fhir_server: str) -> dict[str, Any]:
    return {"hook": "patient-view", "hookInstance": "2c4e6a8b-0d1f-4a3c-9e5b-7d9f1b3d5f7a",
            "context": {"userId": "Practitioner/doc-1", "patientId": PATIENT_ID}, "fhirServer": fhir_server,
            "fhirAuthorization": {"access_token": TOKEN, "token_type": "Bearer"}}


@pytest.fixture
def everything_at_debug(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Root and library loggers at DEBUG, as a deployment running `--log-level debug` (or a careless
    logging config that names httpx) would have them."""
    quiet_http_library_logs()  # what every FhirClient does; the levels below override its levels
    names = (*HTTP_LIBRARY_LOGGERS, "cds_service", "uvicorn", "uvicorn.error", "asyncio")
    saved = {name: logging.getLogger(name).level for name in names}
    caplog.set_level(logging.DEBUG)
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield caplog
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def _leaks(records: list[logging.LogRecord]) -> list[str]:
    found = []
    for record in records:
        texts = [record.getMessage(), repr(record.args), record.exc_text or "", str(record.exc_info or "")]
        if record.exc_info and record.exc_info[1] is not None:
            texts.append(str(record.exc_info[1]))
        for text in texts:
            if any(secret in text for secret in SECRETS):
                found.append(f"{record.name} {record.levelname}: {text[:200]}")
    return found


def _gather(fhir_server: str, *, read_timeout: float = 5.0, deadline: float = 2.0) -> None:
    request, context = parse_hook_request(_body(fhir_server), "patient-view")
    client = FhirClient(connect_timeout=2, read_timeout=read_timeout)
    logging.getLogger("httpx").setLevel(logging.DEBUG)  # the client set WARNING: undo it, as a deployment could
    logging.getLogger("httpcore").setLevel(logging.DEBUG)
    try:
        asyncio.run(gather(request, context, client, deadline=Deadline.after(deadline)))
    except DataUnavailable:
        pass
    finally:
        client.close()


BEHAVIOURS = {
    "answers": patient_then(PATIENT_ID, Answer()),
    "500": lambda path, base: Answer(status=500, body="Internal error for " + path),
    "redirect": lambda path, base: Answer(status=302, body=""),
    "not json": lambda path, base: Answer(body="<html>" + path + "</html>", content_type="text/html"),
    "read timeout": lambda path, base: Answer(delay=1.0),
    "deadline": lambda path, base: Answer(trickle=0.3),
    "never": lambda path, base: Answer(delay=NEVER),
    "next link elsewhere": patient_then(PATIENT_ID, Answer(body={
        "resourceType": "Bundle", "type": "searchset",
        "link": [{"relation": "next", "url": f"http://127.0.0.2:9/fhir/Condition?patient={PATIENT_ID}"}]})),
}


def test_no_record_carries_the_patient_id_or_the_token(everything_at_debug: pytest.LogCaptureFixture) -> None:
    for name, behaviour in BEHAVIOURS.items():
        with stub_fhir_server(behaviour) as stub:
            _gather(stub.base_url, read_timeout=0.3 if name == "read timeout" else 5.0,
                    deadline=1.0 if name in ("deadline", "never") else 5.0)
    _gather(refused_url())
    assert everything_at_debug.records, "the scan must have records to read"
    assert _leaks(everything_at_debug.records) == []


def test_no_record_carries_them_over_http_either(
    tmp_path: Path, everything_at_debug: pytest.LogCaptureFixture
) -> None:
    app = create_app(Settings(auth_mode="disabled", database_url=f"sqlite:///{tmp_path}/scan.db",
                              public_base_url="http://testserver", call_deadline_seconds=1.0))
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    with stub_fhir_server(BEHAVIOURS["answers"]) as ok, stub_fhir_server(BEHAVIOURS["never"]) as stuck, \
            served_app(app) as url:
        assert httpx.post(url + PV, json=_body(ok.base_url), timeout=30).status_code == 200
        assert httpx.post(url + PV, json=_body(stuck.base_url), timeout=30).status_code == 412
        # A client that leaves mid-call.
        host, port = url.removeprefix("http://").split(":")
        raw = json.dumps(_body(stuck.base_url)).encode()
        with socket.create_connection((host, int(port))) as connection:
            connection.sendall(f"POST {PV} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                               f"Content-Length: {len(raw)}\r\n\r\n".encode() + raw)
            time.sleep(0.3)
        time.sleep(0.3)
    assert _leaks(everything_at_debug.records) == []


def test_the_scan_finds_a_leak_when_the_library_logs_are_not_withheld(
    everything_at_debug: pytest.LogCaptureFixture,
) -> None:
    """The test above can fail: without the filter, httpx logs every FHIR URL, patient id included."""
    httpx_logger = logging.getLogger("httpx")
    withheld = list(httpx_logger.filters)
    for log_filter in withheld:
        httpx_logger.removeFilter(log_filter)
    try:
        with stub_fhir_server(BEHAVIOURS["answers"]) as stub:
            request, context = parse_hook_request(_body(stub.base_url), "patient-view")
            client = FhirClient(connect_timeout=2, read_timeout=5)
            for log_filter in list(httpx_logger.filters):  # the client re-installed it: take it off again
                httpx_logger.removeFilter(log_filter)
            httpx_logger.setLevel(logging.DEBUG)
            try:
                asyncio.run(gather(request, context, client))
            finally:
                client.close()
    finally:
        quiet_http_library_logs()
    assert any(PATIENT_ID in leak for leak in _leaks(everything_at_debug.records))
