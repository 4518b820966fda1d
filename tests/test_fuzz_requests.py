"""Property-based fuzzing of hook and feedback requests against the app: never a 5xx, and every 4xx is a JSON
body naming the problem (a 400 names each field).

Mutations (tests/support/fuzz_requests.py) hit the request envelope, the hook context with its draft orders
(the parts the protocol step reads), whole prefetch values, and feedback; plus byte-level damage to the JSON
text. The resources inside prefetch and inside each draft order are the facts step's to read safely and are
not mutated here. Bounded for CI: `CDS_FUZZ_EXAMPLES` examples per test (default 800, about 15 s in all);
set it higher for a longer run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cds_service.app import create_app
from cds_service.settings import Settings
from fhir_fixtures import build_request
from tests.support.fuzz_requests import Path as JsonPath
from tests.support.fuzz_requests import mutated

EXAMPLES = int(os.environ.get("CDS_FUZZ_EXAMPLES", "800"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SERVICES = {"patient-view": "foot-calcification-patient-view", "order-select": "foot-calcification-order-select",
            "order-sign": "foot-calcification-order-sign"}
TODAY = date.today()
BASES = {
    "patient-view": build_request("fc-dfi-osteomyelitis", "patient-view", TODAY),
    "order-select": build_request("fc-tendinitis-no-xr", "order-select", TODAY),
    "order-sign": build_request("fc-ckd-metastatic", "order-sign", TODAY),
}
ALLOWED = {200, 400, 404, 412, 413, 415}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    database = Path(tmp_path_factory.mktemp("fuzz")) / "cds.db"
    app = create_app(Settings(auth_mode="disabled", database_url=f"sqlite:///{database}",
                              public_base_url="http://testserver"))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def check(response: Any) -> None:
    event(f"HTTP {response.status_code}")  # the spread of answers, in --hypothesis-show-statistics
    assert response.status_code in ALLOWED, (response.status_code, response.text[:500])
    if response.status_code == 200:
        return
    body = response.json()
    assert isinstance(body.get("error"), str) and body.get("message"), body
    if response.status_code == 400:
        assert body["issues"], body
        for issue in body["issues"]:
            assert isinstance(issue["field"], str) and issue["field"], issue
            assert isinstance(issue["problem"], str) and issue["problem"], issue


def post(client: TestClient, path: str, body: Any) -> Any:
    # json.dumps writes lone surrogates as \ud800 escapes and refuses nothing: what a buggy EHR could send.
    return client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})


def anywhere(path: JsonPath) -> bool:
    """Every part of the request: the envelope, the context, and inside every prefetch and draft resource
    (the facts step reads those with type-checked reads: a forbidden type is a data issue or a 400)."""
    return True


@FUZZ
@given(data=st.data(), hook=st.sampled_from(sorted(BASES)))
def test_hook_requests_never_answer_5xx(client: TestClient, data: st.DataObject, hook: str) -> None:
    body = data.draw(mutated(BASES[hook], anywhere))
    service = data.draw(st.sampled_from([SERVICES[hook], *SERVICES.values()]))  # sometimes the wrong hook
    check(post(client, f"/cds-services/{service}", body))


FEEDBACK = f"/cds-services/{SERVICES['order-select']}/feedback"


@pytest.fixture(scope="module")
def feedback_base(client: TestClient) -> dict[str, Any]:
    """Feedback on cards the app just issued: one accepted suggestion, one override with a reason."""
    cards = client.post(f"/cds-services/{SERVICES['order-select']}", json=BASES["order-select"]).json()["cards"]
    with_suggestion = next(card for card in cards if card.get("suggestions"))
    overridable = next(card for card in cards if card.get("overrideReasons"))
    return {"feedback": [
        {"card": with_suggestion["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-11-21T10:00:00Z",
         "acceptedSuggestions": [{"id": with_suggestion["suggestions"][0]["uuid"]}]},
        {"card": overridable["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-21T10:00:00+01:00",
         "overrideReason": {"reason": overridable["overrideReasons"][0], "userComment": "seen elsewhere"}},
    ]}


def test_the_feedback_base_is_accepted(client: TestClient, feedback_base: dict[str, Any]) -> None:
    response = post(client, FEEDBACK, feedback_base)
    assert response.status_code == 200, response.text


@FUZZ
@given(data=st.data())
def test_feedback_requests_never_answer_5xx(client: TestClient, feedback_base: dict[str, Any],
                                            data: st.DataObject) -> None:
    check(post(client, FEEDBACK, data.draw(mutated(feedback_base))))


def _damaged(text: bytes, where: int, damage: str, insert: bytes) -> bytes:
    where %= len(text) + 1
    if damage == "cut":
        return text[:where]
    if damage == "insert":
        return text[:where] + insert + text[where:]
    if damage == "delete":
        return text[:where] + text[where + len(insert):]
    # Repeat the first key/value pair of the object that starts nearest before `where`: a duplicate key.
    start = text.rfind(b"{", 0, where)
    comma = text.find(b",", start)
    return text if start < 0 or comma < 0 else text[: start + 1] + text[start + 1 : comma + 1] + text[start + 1 :]


@FUZZ
@given(hook=st.sampled_from(["patient-view", "feedback"]), where=st.integers(min_value=0),
       damage=st.sampled_from(["cut", "insert", "delete", "duplicate"]),
       insert=st.sampled_from([b"{", b"}", b"[", b"]", b'"', b"\\", b",", b":", b"\x00", b"\xff", b"\\ud800",
                               b"1" * 5000, b"[" * 2000, b"\xef\xbb\xbf", b'"a":1,']))
def test_damaged_json_never_answers_5xx(client: TestClient, feedback_base: dict[str, Any], hook: str, where: int,
                                        damage: str, insert: bytes) -> None:
    if hook == "feedback":
        path, text = FEEDBACK, json.dumps(feedback_base).encode()
    else:
        path, text = f"/cds-services/{SERVICES[hook]}", json.dumps(BASES[hook]).encode()
    check(client.post(path, content=_damaged(text, where, damage, insert), headers={"content-type": "application/json"}))
