"""Issue 20: the artifact loads into the tests' real FHIR server (tests/fhir_server, @medplum/fhir-router) as one
transaction Bundle and reads back through search by canonical url; `$apply` reads a patient from a FHIR
server the caller names (`dataEndpoint`) and answers what the hook answers for the same server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import requests

from cds_service.publication.artifact import PATHWAY_ID, build_artifact
from fhir_fixtures.catalog import bundle
from fhir_fixtures.hook_requests import build_request
from fhir_fixtures.materialize import materialize
from tests.support.gathering_fhir_server import FhirTestServer, fhir_server  # noqa: F401 (fixture)
from tests.test_publication_http import _card_view, _plan_view

pytestmark = pytest.mark.fhir_server
JSON = dict[str, Any]
TODAY = date.today()
PATIENT = "fc-diabetic-ulcer"


@pytest.fixture
def server(fhir_server: FhirTestServer) -> Iterator[FhirTestServer]:  # noqa: F811
    fhir_server.reset()
    yield fhir_server
    fhir_server.reset()


def _without_server_meta(resource: JSON) -> JSON:
    out = dict(resource)
    meta = {k: v for k, v in out.get("meta", {}).items() if k in ("profile",)}
    out["meta"] = meta
    return out


def test_the_artifact_loads_as_one_transaction_and_reads_back_by_url(server: FhirTestServer) -> None:
    artifact = build_artifact()
    transaction = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"fullUrl": r["url"], "resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
                  for r in artifact.resources],
    }
    answer = requests.post(server.base_url, json=transaction, headers={"Content-Type": "application/fhir+json"}, timeout=60)
    assert answer.status_code == 200, answer.text[:2000]
    statuses = [e["response"]["status"] for e in answer.json()["entry"]]
    assert len(statuses) == len(artifact.resources) and all(s.startswith("2") for s in statuses), statuses
    for resource in artifact.resources:
        found = requests.get(f"{server.base_url}/{resource['resourceType']}", params={"url": resource["url"]}, timeout=30)
        assert found.status_code == 200
        entries = found.json().get("entry", [])
        assert [e["resource"]["id"] for e in entries] == [resource["id"]], resource["url"]
        assert _without_server_meta(entries[0]["resource"]) == resource
    # The canonical links resolve on the server too: a definitionCanonical names a resource found by url.
    node = artifact.find("PlanDefinition", "initial-radiograph")
    target = node["action"][0]["action"][0]["definitionCanonical"].split("|")[0]
    found = requests.get(f"{server.base_url}/ActivityDefinition", params={"url": target}, timeout=30).json()
    assert found["entry"][0]["resource"]["id"] == "xr-foot-3-views"


def test_apply_reads_the_patient_from_a_named_fhir_server(server: FhirTestServer, client: Any) -> None:
    server.load(materialize(bundle(PATIENT), TODAY))
    hook = client.post("/cds-services/foot-calcification-patient-view",
                       json=build_request(PATIENT, "patient-view", TODAY, with_prefetch=False, fhir_server=server.base_url))
    assert hook.status_code == 200 and hook.json()["cards"]
    parameters = {"resourceType": "Parameters", "parameter": [
        {"name": "subject", "valueString": f"Patient/{PATIENT}"},
        {"name": "dataEndpoint", "resource": {"resourceType": "Endpoint", "status": "active", "address": server.base_url,
                                              "connectionType": {"code": "hl7-fhir-rest"},
                                              "payloadType": [{"text": "FHIR R4"}]}},
    ]}
    server.clear_requests()
    applied = client.post(f"/fhir/PlanDefinition/{PATHWAY_ID}/$apply", json=parameters)
    assert applied.status_code == 200, applied.text
    assert _plan_view(applied.json()) == _card_view(hook.json()["cards"])
    assert any(r["path"].endswith("/Condition") for r in server.requests())  # it did read the server


def test_apply_says_when_the_named_server_cannot_give_the_record(client: Any) -> None:
    parameters = {"resourceType": "Parameters", "parameter": [
        {"name": "subject", "valueString": f"Patient/{PATIENT}"},
        {"name": "dataEndpoint", "valueUrl": "http://127.0.0.1:9/fhir"},
    ]}
    response = client.post(f"/fhir/PlanDefinition/{PATHWAY_ID}/$apply", json=parameters)
    assert response.status_code == 412  # as the hooks answer when required data cannot be had
    assert response.json()["resourceType"] == "OperationOutcome"
