"""A hostile FHIR server: slow in every way (one deadline ends the call), and huge in every way (bounded).

Real sockets against the stub server (tests/support/gathering_stub_server.py); nothing of httpx is mocked.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest

from cds_service.errors import DataUnavailable
from cds_service.facts.parse import to_clinical_data
from cds_service.gathering import limits
from cds_service.gathering.deadline import Deadline
from cds_service.gathering.fhir_client import FhirClient
from cds_service.gathering.gather import gather
from cds_service.gathering.records import RawRecord
from cds_service.protocol.parse import parse_hook_request
from cds_service.services import prefetch_keys, prefetch_templates
from tests.support.gathering_data import nested_extensions
from tests.support.gathering_stub_server import NEVER, Answer, patient_then, stub_fhir_server

PATIENT_ID = "pt-hostile-31"
TOKEN = "tok-hostile-e4a9c07d"
HOOK_INSTANCE = "3b1f6c2e-9d4a-4e8b-a7c5-0f2e4d6b8a1c"
KEYS = sorted(key for key, _ in prefetch_templates())
# Queries of a full fetch: one per key, and a second (`<date>:missing=true`) for each windowed key.
QUERIES = len(KEYS) + sum(1 for spec in prefetch_keys() if spec.window is not None)
SEARCH_KEYS = [key for key in KEYS if key != "patient"]
PATIENT = {"resourceType": "Patient", "id": PATIENT_ID}
DEADLINE = 1.0
# What a call may take beyond its deadline: cancelling what runs, and a loaded CI machine.
MARGIN = 0.5


def _body(fhir_server: str, prefetch: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": HOOK_INSTANCE,
        "context": {"userId": "Practitioner/doc-1", "patientId": PATIENT_ID},
        "fhirServer": fhir_server,
        "fhirAuthorization": {"access_token": TOKEN, "token_type": "Bearer", "scope": "user/*.read"},
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


@pytest.fixture
def client() -> Iterator[FhirClient]:
    # The default per-request timeouts (3.05 s connect, 10 s read): only the deadline can end these calls.
    fhir = FhirClient()
    yield fhir
    fhir.close()


def _gather(body: dict[str, Any], client: FhirClient, deadline: float | None = DEADLINE) -> RawRecord:
    request, context = parse_hook_request(body, "patient-view")
    return asyncio.run(gather(request, context, client, deadline=None if deadline is None else Deadline.after(deadline)))


def _missing(body: dict[str, Any], client: FhirClient, deadline: float | None = DEADLINE) -> dict[str, str]:
    with pytest.raises(DataUnavailable) as raised:
        _gather(body, client, deadline)
    return raised.value.extra["missing"]


def _searchset(*resources: dict[str, Any], next_url: str | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset",
                              "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources]}
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def _condition(resource_id: str) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": resource_id, "subject": {"reference": f"Patient/{PATIENT_ID}"},
            "code": {"text": "calcific tendinitis of the foot"}}


def _second_page_trickles(path: str, base: str) -> Answer:
    if path.startswith("/fhir/Patient/"):
        return Answer(body=PATIENT)
    if "page=2" in path:
        return Answer(body=_searchset(_condition("c2")), trickle=0.5)
    return Answer(body=_searchset(_condition("c1"), next_url=f"{base}{path}&page=2"))


HOSTILE = {
    # One byte every half second: every read succeeds long before the 10 s read timeout.
    "trickle": lambda path, base: Answer(body=PATIENT if "/Patient/" in path else _searchset(), trickle=0.5),
    # The first byte after 3 s: under the read timeout, over the deadline.
    "slow-first-byte": lambda path, base: Answer(body=PATIENT, delay=3.0),
    "never-answers": lambda path, base: Answer(body=PATIENT, delay=NEVER),
    "second-page-trickles": _second_page_trickles,
}


@pytest.mark.parametrize("behaviour", list(HOSTILE), ids=list(HOSTILE))
def test_each_call_ends_within_the_deadline_and_names_every_key(behaviour, client):
    with stub_fhir_server(HOSTILE[behaviour]) as stub:
        started = time.monotonic()
        missing = _missing(_body(stub.base_url), client)
        elapsed = time.monotonic() - started
    assert elapsed < DEADLINE + MARGIN, f"{behaviour}: the call took {elapsed:.2f} s"
    expected_keys = SEARCH_KEYS if behaviour == "second-page-trickles" else KEYS
    assert sorted(missing) == expected_keys
    assert set(missing.values()) == {Deadline.after(DEADLINE).reason}
    assert "deadline exceeded" in next(iter(missing.values()))


def test_requests_still_running_at_the_deadline_are_closed(client):
    """Cancelled, not abandoned in the background: the server sees each connection closed."""
    with stub_fhir_server(HOSTILE["never-answers"]) as stub:
        _missing(_body(stub.base_url), client)
        waited = time.monotonic()
        while stub.abandoned < QUERIES and time.monotonic() - waited < 2:
            time.sleep(0.02)
        assert stub.abandoned == QUERIES
        assert stub.in_flight == 0


def test_the_deadline_is_reported_to_the_request_observer():
    seen: list[str] = []
    fhir = FhirClient(on_request=lambda label, seconds: seen.append(label))
    try:
        with stub_fhir_server(HOSTILE["slow-first-byte"]) as stub:
            _missing(_body(stub.base_url), fhir)
    finally:
        fhir.close()
    assert seen == ["deadline"] * QUERIES


def test_a_read_timeout_shorter_than_what_is_left_still_applies():
    fhir = FhirClient(read_timeout=0.3)
    try:
        with stub_fhir_server(HOSTILE["slow-first-byte"]) as stub:
            started = time.monotonic()
            missing = _missing(_body(stub.base_url), fhir, deadline=5.0)
            elapsed = time.monotonic() - started
    finally:
        fhir.close()
    assert set(missing.values()) == {"FHIR server timed out"}
    assert elapsed < 0.3 + MARGIN


def test_keys_answered_before_the_deadline_are_not_named(client):
    slow_key = SEARCH_KEYS[0]
    slow_path = unquote("/fhir/" + dict(prefetch_templates())[slow_key].replace("{{context.patientId}}", PATIENT_ID))

    def one_slow(path: str, base: str) -> Answer:
        if path.startswith("/fhir/Patient/"):
            return Answer(body=PATIENT)
        return Answer(delay=NEVER) if unquote(path) == slow_path else Answer()

    with stub_fhir_server(one_slow) as stub:
        missing = _missing(_body(stub.base_url), client)
    assert list(missing) == [slow_key]


# --- bounds -------------------------------------------------------------------------------------------------

def _million_empty_entries() -> bytes:
    return b'{"resourceType":"Bundle","type":"searchset","entry":[' + b",".join([b"{}"] * 1_000_000) + b"]}"


def test_a_page_of_a_million_non_resources_is_refused_before_it_is_parsed(client):
    page = _million_empty_entries()  # 3 MB, under the page cap; 24x that once parsed
    with stub_fhir_server(patient_then(PATIENT_ID, Answer(body=page))) as stub:
        tracemalloc.start()
        try:
            missing = _missing(_body(stub.base_url), client, deadline=30)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert sorted(missing) == SEARCH_KEYS
    assert all("exceed" in reason for reason in missing.values()), missing
    # What was read, not what parsing it would have cost (about 50 MB per page). Beyond the call's bound, each
    # request in flight may hold what it has read so far (and its joined copy): 23 requests a call since the undated second searches (was 15),
    # hence 12 MiB of slack (8 before); one parsed page alone would be about 50 MB.
    assert peak < limits.MAX_CALL_BYTES + 12 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"


def test_the_answers_of_one_call_are_bounded_in_bytes_together(client, monkeypatch):
    monkeypatch.setattr(limits, "MAX_CALL_BYTES", 20_000)
    page = _searchset(*(_condition(f"c{i}") for i in range(30)))  # about 5 kB each
    with stub_fhir_server(patient_then(PATIENT_ID, Answer(body=page))) as stub:
        missing = _missing(_body(stub.base_url), client)
    assert missing and set(missing.values()) == {"the FHIR server's answers to this call exceed 20000 bytes"}
    assert len(missing) < len(SEARCH_KEYS)  # the first few pages fitted


def test_more_entries_than_the_cap_fail_the_key_across_pages(client, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ENTRIES_PER_KEY", 5)

    def paged(path: str, base: str) -> Answer:
        if path.startswith("/fhir/Patient/"):
            return Answer(body=PATIENT)
        if "page=2" in path:
            return Answer(body=_searchset(*(_condition(f"b{i}") for i in range(3))))
        return Answer(body=_searchset(*(_condition(f"a{i}") for i in range(3)), next_url=f"{base}{path}&page=2"))

    with stub_fhir_server(paged) as stub:
        missing = _missing(_body(stub.base_url), client)
    assert missing == {key: "FHIR server answered more than 5 entries" for key in SEARCH_KEYS}


def test_a_prefetch_bundle_over_the_entry_cap_is_missing(client, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ENTRIES_PER_KEY", 5)
    prefetch: dict[str, Any] = {key: None for key in KEYS}
    prefetch[SEARCH_KEYS[0]] = _searchset(*(_condition(f"c{i}") for i in range(6)))
    with stub_fhir_server() as stub:
        missing = _missing(_body(stub.base_url, prefetch), client)
        assert stub.seen == []
    assert missing == {SEARCH_KEYS[0]: "prefetch value: Bundle has more than 5 entries"}


def test_json_nested_too_deep_to_parse_fails_the_key_not_the_service(client):
    with stub_fhir_server(patient_then(PATIENT_ID, Answer(body=b"[" * 5000 + b"]" * 5000))) as stub:
        missing = _missing(_body(stub.base_url), client, deadline=30)
    assert set(missing.values()) == {"FHIR server answered JSON nested too deeply to read"}


def test_a_resource_nested_too_deep_is_a_data_issue(client):
    deep = {**_condition("c-deep"), "extension": nested_extensions(150)}
    with stub_fhir_server(patient_then(PATIENT_ID, Answer(body=_searchset(deep, _condition("c-ok"))))) as stub:
        record = _gather(_body(stub.base_url), client)
    # Gathering does not walk every resource; the facts step checks the depth of what it selects (both
    # Conditions are calcifications of the foot) before validation recurses through it.
    data = to_clinical_data(record, PATIENT_ID)
    assert [c["id"] for c in data.conditions] == ["c-ok"]
    problems = {(issue.resource, issue.problem) for issue in data.issues}
    assert ("Condition/c-deep", f"nests deeper than {limits.MAX_RESOURCE_DEPTH} levels; left out") in problems


def test_data_issues_are_listed_up_to_the_cap_and_counted_beyond(client):
    junk = {"resourceType": "Bundle", "type": "searchset", "entry": ["junk"] * 5000}
    with stub_fhir_server(patient_then(PATIENT_ID, Answer(body=junk))) as stub:
        record = _gather(_body(stub.base_url), client)
    assert len(record.issues) == limits.MAX_LISTED_ISSUES
    # every search answers the junk page, the undated queries of the windowed keys too
    assert record.issues_not_listed == 5000 * (QUERIES - 1) - limits.MAX_LISTED_ISSUES
