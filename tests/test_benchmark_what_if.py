"""benchmarks/what_if_serve.py measures the service with parts switched off: each switch must switch off
exactly what it names, or the what-if figures of issue 9 would be of something else."""

from __future__ import annotations

import json
from datetime import date

import pytest
from fastapi.testclient import TestClient

from benchmarks.bench_patients import bench_requests
from benchmarks.what_if_serve import PARTS, switch_off
from cds_service.facts import parse
from cds_service.protocol import json_body
from cds_service.routes import hooks
from cds_service.snooze import SnoozeGate
from cds_service.store.writer import IssuedCardWriter

PV = "/cds-services/foot-calcification-patient-view"


def _post(client: TestClient, body: bytes) -> tuple[int, dict]:
    answer = client.post(PV, content=body, headers={"content-type": "application/json"})
    return answer.status_code, answer.json()


@pytest.fixture
def bench_body() -> bytes:
    return json.dumps(bench_requests(1, date.today())[0]).encode()


def test_the_service_as_it_is_answers_cards_and_refuses_duplicate_keys(
    client: TestClient, bench_body: bytes
) -> None:
    status, answer = _post(client, bench_body)
    assert status == 200 and answer["cards"]
    assert _post(client, b'{"hook": "patient-view", "hook": "order-sign"}')[0] == 400


def test_without_the_pathway_the_call_answers_no_cards(
    client: TestClient, bench_body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    switch_off({"pathway"}, monkeypatch.setattr)
    assert _post(client, bench_body) == (200, {"cards": []})
    # The protocol models still run: a request that is not a hook request is still a 400.
    assert _post(client, b'{"hook": "patient-view"}')[0] == 400


def test_without_duplicate_key_refusal_a_duplicated_key_passes_the_parse(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    switch_off({"duplicate-keys"}, monkeypatch.setattr)
    status, answer = _post(client, b'{"hook": "patient-view", "hook": "order-sign"}')
    assert status == 400 and "duplicate" not in json.dumps(answer)


def test_without_validation_an_invalid_resource_counts_as_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    invalid = {"resourceType": "Observation", "id": "o1", "status": 42}
    assert parse.validate(invalid, "record.Observation", "p1", []) is False
    switch_off({"validation"}, monkeypatch.setattr)
    issues: list[object] = []
    assert parse.validate(invalid, "record.Observation", "p1", issues) is True and issues == []


# Where each part's function lives.
FUNCTIONS: dict[str, tuple[object, str]] = {
    "validation": (parse, "validate"),
    "duplicate-keys": (json_body, "_has_duplicate_keys"),
    "snooze": (SnoozeGate, "apply"),
    "issued-cards": (IssuedCardWriter, "record_issued_cards"),
    "pathway": (hooks, "invoke"),
}


@pytest.mark.parametrize("part", PARTS)
def test_each_part_replaces_its_own_function_and_no_other(part: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(FUNCTIONS) == set(PARTS)
    before = {name: getattr(*where) for name, where in FUNCTIONS.items()}
    switch_off({part}, monkeypatch.setattr)
    after = {name: getattr(*where) for name, where in FUNCTIONS.items()}
    assert {name for name in FUNCTIONS if after[name] is not before[name]} == {part}


def test_the_stand_ins_keep_the_call_going(monkeypatch: pytest.MonkeyPatch) -> None:
    switch_off({"snooze", "issued-cards"}, monkeypatch.setattr)
    results = [object()]
    assert SnoozeGate.apply(None, results, None, service_id="s", hook_instance="h") is results  # type: ignore[arg-type]
    assert IssuedCardWriter.record_issued_cards(  # type: ignore[func-returns-value]
        None, service_id="s", hook_instance="h", patient_id="p", cards=[]  # type: ignore[arg-type]
    ) is None
