"""The FHIR validator's CDS Hooks request fixtures (shared/conformance) against the service and the real
in-memory FHIR server: good ones answer 200, bad ones 400 naming the field, none 500.

Their prefetch keys (item1, patientToGreet...) belong to an opioid service, not ours, so every one of our
keys is fetched from the FHIR server the test points `fhirServer` at.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from cds_service.services import prefetch_keys, prefetch_templates
from tests.support.gathering_fhir_server import FhirTestServer, fhir_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.fhir_server

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "fhir-test-cases-cdshooks"
SERVICE_BY_HOOK = {
    "patient-view": "foot-calcification-patient-view",
    "order-select": "foot-calcification-order-select",
    "order-sign": "foot-calcification-order-sign",
}
KEYS = [key for key, _ in prefetch_templates()]
# Searches of a full fetch: one per key, and `<date>:missing=true` for each windowed key.
QUERIES = len(KEYS) + sum(1 for spec in prefetch_keys() if spec.window is not None)


def _fixtures(pattern: str) -> list[Path]:
    return sorted(FIXTURES.glob(pattern)) if FIXTURES.is_dir() else []


GOOD = _fixtures("cdshooks-request-*-good.json")
BAD = _fixtures("cdshooks-request-*-bad*.json")
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"conformance fixtures absent: {FIXTURES}")


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _own_patient(body: dict[str, Any]) -> dict[str, Any]:
    """The request's own Patient from its prefetch, or a minimal one with the context's id."""
    patient_id = body["context"]["patientId"]
    for value in (body.get("prefetch") or {}).values():
        if isinstance(value, dict) and value.get("resourceType") == "Patient" and value.get("id") == patient_id:
            return copy.deepcopy(value)
    return {"resourceType": "Patient", "id": patient_id}


def _post(make_client, body: dict[str, Any]):
    return make_client().post(f"/cds-services/{SERVICE_BY_HOOK[body['hook']]}", json=body)


def _assert_never_500(response) -> None:
    assert response.status_code != 500, response.text
    assert "Traceback" not in response.text and 'File "' not in response.text


@needs_fixtures
def test_fixtures_are_there():
    assert len(GOOD) >= 4 and len(BAD) >= 4
    assert (FIXTURES / "cdshooks-request-pv-good.json") in GOOD


@needs_fixtures
@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_request_answers_200(path, fhir_server, make_client):  # noqa: F811
    body = _load(path)
    fhir_server.reset()
    fhir_server.load(_own_patient(body))
    body["fhirServer"] = fhir_server.base_url
    fhir_server.clear_requests()

    response = _post(make_client, body)

    _assert_never_500(response)
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["cards"], list)
    fetched = fhir_server.requests()
    # None of our keys is in their prefetch, so each is fetched (a windowed key also for its undated
    # records): the Patient read finds the patient.
    assert len(fetched) == QUERIES
    token = (body.get("fhirAuthorization") or {}).get("access_token")
    expected_header = f"Bearer {token}" if token else None
    assert all(entry["authorization"] == expected_header for entry in fetched)
    if token:
        assert token not in response.text


@needs_fixtures
@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_request_answers_400_naming_the_field(path, fhir_server, make_client):  # noqa: F811
    body = _load(path)
    body["fhirServer"] = fhir_server.base_url
    response = _post(make_client, body)
    _assert_never_500(response)
    assert response.status_code == 400, response.text
    answer = response.json()
    fields = {issue["field"] for issue in answer["issues"]}
    # Every one of these gives patientId as `Patient/x`; the message names the field, never the value.
    assert "context.patientId" in fields
    assert body["context"]["patientId"] not in response.text


@needs_fixtures
@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_request_with_ids_repaired_is_handled_safely(path, fhir_server, make_client):  # noqa: F811
    """With the ids repaired, what is left (wrapped prefetch values, a bad status inside a draft order,
    selections that are not Type/id) is either refused with 400 or handled; never a 500."""
    body = _load(path)
    context = body["context"]
    for field in ("patientId", "encounterId"):
        if isinstance(context.get(field), str):
            context[field] = context[field].split("/")[-1]
    fhir_server.reset()
    fhir_server.load(_own_patient(body))
    body["fhirServer"] = fhir_server.base_url
    response = _post(make_client, body)
    _assert_never_500(response)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert "context.patientId" not in {issue["field"] for issue in response.json()["issues"]}


@needs_fixtures
def test_order_select_without_draft_orders_is_400_naming_draft_orders(fhir_server, make_client):  # noqa: F811
    body = _load(FIXTURES / "cdshooks-request-order-select-extensions.json")
    body["fhirServer"] = fhir_server.base_url
    response = _post(make_client, body)
    _assert_never_500(response)
    assert response.status_code == 400
    assert "context.draftOrders" in {issue["field"] for issue in response.json()["issues"]}
