"""When the FHIR server fails: 412 naming every missing key with a short reason, and never the token."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from cds_service.errors import DataUnavailable
from cds_service.gathering import limits
from cds_service.gathering.fhir_client import FhirClient
from cds_service.gathering.gather import NO_FHIR_SERVER, gather
from cds_service.protocol.parse import parse_hook_request
from cds_service.services import prefetch_keys, prefetch_templates
from tests.support.gathering_stub_server import Answer, patient_then, refused_url, stub_fhir_server

TOKEN = "tok-faults-8c1e55d2b7"
PATIENT_ID = "pt-faults-42"
HOOK_INSTANCE = "6c9e3a51-8d2f-4b7a-a0e4-1f3b5c7d9e20"
PV = "/cds-services/foot-calcification-patient-view"
KEYS = sorted(key for key, _ in prefetch_templates())
# Queries of a full fetch: one per key, and a second (`<date>:missing=true`) for each windowed key.
QUERIES = len(KEYS) + sum(1 for spec in prefetch_keys() if spec.window is not None)
PATIENT = {"resourceType": "Patient", "id": PATIENT_ID}


def _body(fhir_server: str | None, *, prefetch: dict[str, Any] | None = None, token: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": HOOK_INSTANCE,
        "context": {"userId": "Practitioner/doc-1", "patientId": PATIENT_ID},
    }
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
        if token:
            body["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer", "scope": "user/*.read"}
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


@pytest.fixture
def client() -> Iterator[FhirClient]:
    # Generous timeouts: a loaded CI machine must not turn "answered 500" into "timed out".
    fhir = FhirClient(connect_timeout=5, read_timeout=5, max_pages=3, max_parallel=4)
    yield fhir
    fhir.close()


@pytest.fixture
def impatient_client() -> Iterator[FhirClient]:
    fhir = FhirClient(connect_timeout=5, read_timeout=0.3, max_pages=3, max_parallel=4)
    yield fhir
    fhir.close()


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def _missing(body: dict[str, Any], client: FhirClient) -> dict[str, str]:
    request, context = parse_hook_request(body, "patient-view")
    with pytest.raises(DataUnavailable) as raised:
        asyncio.run(gather(request, context, client))
    return raised.value.extra["missing"]


def _assert_clean(caplog: pytest.LogCaptureFixture, *texts: str) -> None:
    """Neither the token nor the patient id reaches any log line, the HTTP libraries' included."""
    for record in caplog.records:
        message = record.getMessage()
        assert TOKEN not in message
        assert PATIENT_ID not in message
    for text in texts:
        assert TOKEN not in text and PATIENT_ID not in text


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Answer(status=500, body={"resourceType": "OperationOutcome", "issue": []}), "FHIR server answered 500"),
        (Answer(status=503, body="busy", content_type="text/plain"), "FHIR server answered 503"),
        (Answer(status=401, body={"resourceType": "OperationOutcome", "issue": []}), "FHIR server answered 401"),
        (Answer(status=403, body={"resourceType": "OperationOutcome", "issue": []}), "FHIR server answered 403"),
        (Answer(status=200, body="{not json"), "FHIR server answered invalid JSON"),
        (Answer(status=200, body=b"<html>login</html>", content_type="text/html"), "FHIR server answered invalid JSON"),
        (Answer(status=200, body={"resourceType": "OperationOutcome", "issue": []}),
         "FHIR server answered an OperationOutcome"),
        (Answer(status=200, body='["a list"]'), "FHIR server answered JSON that is not a FHIR resource"),
        (Answer(status=302, body=""), "FHIR server answered 302"),
    ],
)
def test_server_failures_name_every_search_key(answer, reason, client, caplog):
    with stub_fhir_server(patient_then(PATIENT_ID, answer)) as stub:
        missing = _missing(_body(stub.base_url), client)
    assert missing == {key: reason for key in KEYS if key != "patient"}
    _assert_clean(caplog, str(missing))


def test_timeout_is_412(impatient_client, caplog):
    with stub_fhir_server(lambda path, base: Answer(body=PATIENT, delay=1.5)) as stub:
        missing = _missing(_body(stub.base_url), impatient_client)
    assert missing == {key: "FHIR server timed out" for key in KEYS}
    _assert_clean(caplog, str(missing))


def test_connection_refused_is_412(client, caplog):
    missing = _missing(_body(refused_url()), client)
    assert missing == {key: "FHIR server could not be reached" for key in KEYS}
    _assert_clean(caplog, str(missing))


def test_no_fhir_server_is_412_for_every_key_not_prefetched(client):
    given = {KEYS[0]: None}
    missing = _missing(_body(None, prefetch=given), client)
    assert missing == {key: NO_FHIR_SERVER for key in KEYS[1:]}


def test_endless_next_chain_is_bounded_by_max_pages(client, caplog):
    def endless(path: str, base: str) -> Answer:
        if path.startswith("/fhir/Patient/"):
            return Answer(body=PATIENT)
        page = {"resourceType": "Bundle", "type": "searchset",
                "link": [{"relation": "next", "url": f"{base}{path.split('&page=')[0]}&page=more"}]}
        return Answer(body=page)

    with stub_fhir_server(endless) as stub:
        missing = _missing(_body(stub.base_url), client)
        per_key = len(stub.seen) - 1  # minus the Patient read
    assert missing == {key: "FHIR server answered more than 3 pages" for key in KEYS if key != "patient"}
    assert per_key == 3 * (QUERIES - 1)
    _assert_clean(caplog, str(missing))


def test_next_link_to_another_server_is_not_followed(client):
    def elsewhere(path: str, base: str) -> Answer:
        if path.startswith("/fhir/Patient/"):
            return Answer(body=PATIENT)
        return Answer(body={"resourceType": "Bundle", "type": "searchset",
                            "link": [{"relation": "next", "url": "http://127.0.0.2:9/fhir/Condition?page=2"}]})

    with stub_fhir_server(elsewhere) as stub:
        missing = _missing(_body(stub.base_url), client)
        hosts = {entry["path"] for entry in stub.seen}
    assert set(missing.values()) == {"FHIR server's next link points to another server"}
    assert len(hosts) == QUERIES  # each query once, no second page anywhere


def test_prefetch_next_link_to_another_server_is_not_followed(client):
    prefetch: dict[str, Any] = {key: None for key in KEYS}
    prefetch[KEYS[0]] = {"resourceType": "Bundle", "type": "searchset",
                         "link": [{"relation": "next", "url": "http://127.0.0.2:9/fhir/Condition?page=2"}]}
    with stub_fhir_server() as stub:
        missing = _missing(_body(stub.base_url, prefetch=prefetch), client)
        assert stub.seen == []
    assert missing == {KEYS[0]: "prefetch Bundle's next link points to another server than fhirServer"}


@pytest.mark.parametrize("close_delimited", [False, True], ids=["content-length", "no-content-length"])
def test_a_page_over_the_size_cap_is_refused(client, monkeypatch, close_delimited):
    monkeypatch.setattr(limits, "MAX_PAGE_BYTES", 4096)
    big = {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"resource": {"resourceType": "Condition", "id": f"c{i}", "code": {"text": "x" * 100}}} for i in range(60)]}
    with stub_fhir_server(patient_then(PATIENT_ID, Answer(body=big, close_delimited=close_delimited))) as stub:
        missing = _missing(_body(stub.base_url), client)
    assert missing == {key: "FHIR server answered a page over the size limit (4096 bytes)"
                       for key in KEYS if key != "patient"}


def test_one_failing_key_names_only_that_key(client):
    failing_key, failing_template = next((k, t) for k, t in prefetch_templates() if k != "patient")
    failing_path = "/fhir/" + failing_template.split("?")[0].replace("{{context.patientId}}", PATIENT_ID)
    failing_query = failing_template.split("?")[1].replace("{{context.patientId}}", PATIENT_ID)

    def one_fails(path: str, base: str) -> Answer:
        if path.startswith("/fhir/Patient/"):
            return Answer(body=PATIENT)
        if path == f"{failing_path}?{failing_query}":
            return Answer(status=500, body="")
        return Answer()

    with stub_fhir_server(one_fails) as stub:
        missing = _missing(_body(stub.base_url), client)
    assert missing == {failing_key: "FHIR server answered 500"}


def test_a_missing_patient_is_no_data(client):
    def no_patient(path: str, base: str) -> Answer:
        if path.startswith("/fhir/Patient/"):
            return Answer(status=404, body={"resourceType": "OperationOutcome", "issue": []})
        return Answer()

    with stub_fhir_server(no_patient) as stub:
        request, context = parse_hook_request(_body(stub.base_url), "patient-view")
        record = asyncio.run(gather(request, context, client))
        assert all(entry["authorization"] == f"Bearer {TOKEN}" for entry in stub.seen)
        assert all(entry["accept"].startswith("application/fhir+json") for entry in stub.seen)
    assert record.patient is None and record.resources == {}


def test_a_404_on_a_search_is_a_failure(client):
    def search_404(path: str, base: str) -> Answer:
        if path.startswith("/fhir/Patient/"):
            return Answer(body=PATIENT)
        return Answer(status=404, body="")

    with stub_fhir_server(search_404) as stub:
        missing = _missing(_body(stub.base_url), client)
    assert set(missing) == set(KEYS) - {"patient"}


def test_412_over_http_names_keys_and_hides_token_and_patient(make_client, caplog):
    app = make_client(fhir_read_timeout_seconds=5, fhir_connect_timeout_seconds=5)
    with stub_fhir_server(lambda path, base: Answer(status=500, body="Traceback: boom")) as stub:
        response = app.post(PV, json=_body(stub.base_url))
    assert response.status_code == 412
    body = response.json()
    assert body["error"] == "prefetch_unavailable"
    assert sorted(body["missing"]) == KEYS
    assert set(body["missing"].values()) == {"FHIR server answered 500"}
    assert "Traceback" not in response.text
    _assert_clean(caplog, response.text)


def test_412_over_http_without_fhir_server(make_client, caplog):
    response = make_client().post(PV, json=_body(None))
    assert response.status_code == 412
    assert response.json()["missing"] == {key: NO_FHIR_SERVER for key in KEYS}
    _assert_clean(caplog, response.text)


def test_timeout_over_http_is_412(make_client, caplog):
    app = make_client(fhir_read_timeout_seconds=0.3, fhir_connect_timeout_seconds=5)
    with stub_fhir_server(lambda path, base: Answer(body=PATIENT, delay=1.5)) as stub:
        response = app.post(PV, json=_body(stub.base_url))
    assert response.status_code == 412
    assert set(response.json()["missing"].values()) == {"FHIR server timed out"}
    _assert_clean(caplog, response.text)
