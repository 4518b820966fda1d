"""The tests' Bulk Data server (tests/fhir_server/bulk_export.mjs) answers as the Bulk Data IG 2.0.0 says:
kick-off rules, polling, the complete-status manifest, NDJSON files (gzip when asked), DELETE, and each quirk
switch. The client's tests rely on this server, so its behaviour is checked on its own first."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator

import pytest
import requests

from tests.support.gathering_fhir_server import FhirTestServer, fhir_server  # noqa: F401 - fixture

KICK = {"Accept": "application/fhir+json", "Prefer": "respond-async"}


def _patient(pid: str) -> dict:
    return {"resourceType": "Patient", "id": pid}


def _condition(cid: str, pid: str) -> dict:
    return {"resourceType": "Condition", "id": cid, "subject": {"reference": f"Patient/{pid}"},
            "code": {"text": "calcification"}}


@pytest.fixture()
def server(fhir_server: FhirTestServer) -> Iterator[FhirTestServer]:  # noqa: F811
    fhir_server.reset()
    fhir_server.load([_patient("p1"), _patient("p2"), _condition("c1", "p1"), _condition("c2", "p2"),
                      {"resourceType": "Organization", "id": "o1", "name": "not in a compartment"},
                      {"resourceType": "Group", "id": "g1", "type": "person", "actual": True,
                       "member": [{"entity": {"reference": "Patient/p1"}}, {"entity": {"reference": "Patient/gone"}}]}])
    yield fhir_server
    fhir_server.reset()


def _config(server: FhirTestServer, **switches: object) -> None:
    requests.put(f"{server.root_url}/_bulk/config", json=switches, timeout=10).raise_for_status()


def _complete(status_url: str, headers: dict | None = None) -> requests.Response:
    for _ in range(20):
        answer = requests.get(status_url, headers=headers or {}, timeout=10)
        if answer.status_code != 202:
            return answer
        time.sleep(0.01)
    raise AssertionError("the export never completed")


def _lines(url: str, **kwargs: object) -> list[dict]:
    return [json.loads(line) for line in requests.get(url, timeout=10, **kwargs).text.splitlines()]


def test_kick_off_needs_prefer_and_accept(server: FhirTestServer) -> None:
    assert requests.get(f"{server.base_url}/Patient/$export", headers={"Accept": "application/fhir+json"},
                        timeout=10).status_code == 400
    assert requests.get(f"{server.base_url}/Patient/$export", headers={"Prefer": "respond-async"},
                        timeout=10).status_code == 400
    refused = requests.get(f"{server.base_url}/$export?_typeFilter=Condition%3Fcode%3Dx", headers=KICK, timeout=10)
    assert refused.status_code == 400 and refused.json()["resourceType"] == "OperationOutcome"
    lenient = {**KICK, "Prefer": "respond-async, handling=lenient"}
    assert requests.get(f"{server.base_url}/$export?_typeFilter=x", headers=lenient, timeout=10).status_code == 202


def test_patient_export_polls_then_gives_the_manifest_and_files(server: FhirTestServer) -> None:
    kick = requests.get(f"{server.base_url}/Patient/$export", headers=KICK, timeout=10)
    assert kick.status_code == 202
    status_url = kick.headers["Content-Location"]
    assert status_url.startswith(server.base_url + "/")
    first = requests.get(status_url, timeout=10)
    assert first.status_code == 202 and first.headers["Retry-After"] == "1" and "%" in first.headers["X-Progress"]
    done = _complete(status_url)
    assert done.status_code == 200 and done.headers.get("Expires")
    manifest = done.json()
    assert set(manifest) >= {"transactionTime", "request", "requiresAccessToken", "output", "error", "deleted"}
    assert manifest["requiresAccessToken"] is False and manifest["request"].endswith("/Patient/$export")
    types = {entry["type"]: entry for entry in manifest["output"]}
    assert set(types) == {"Patient", "Condition"}  # the Organization and Group are in no patient's compartment
    assert types["Condition"]["count"] == 2
    plain = requests.get(types["Condition"]["url"], headers={"Accept-Encoding": "identity"}, timeout=10)
    assert "Content-Encoding" not in plain.headers and len(plain.text.splitlines()) == 2
    raw = requests.get(types["Condition"]["url"], headers={"Accept-Encoding": "gzip"}, timeout=10, stream=True)
    assert raw.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(raw.raw.read()) == plain.content
    assert requests.delete(status_url, timeout=10).status_code == 202
    assert requests.get(status_url, timeout=10).status_code == 404


def test_type_since_system_and_group(server: FhirTestServer) -> None:
    system = _complete(requests.get(f"{server.base_url}/$export?_type=Organization,Patient", headers=KICK,
                                    timeout=10).headers["Content-Location"]).json()
    assert sorted(e["type"] for e in system["output"]) == ["Organization", "Patient"]
    since = system["transactionTime"]
    time.sleep(0.01)
    server.load(_condition("c1", "p1"))  # updated after the first export
    later = _complete(requests.get(f"{server.base_url}/Patient/$export?_since={since}", headers=KICK,
                                   timeout=10).headers["Content-Location"]).json()
    assert [(e["type"], e["count"]) for e in later["output"]] == [("Condition", 1)]
    group = _complete(requests.get(f"{server.base_url}/Group/g1/$export", headers=KICK,
                                   timeout=10).headers["Content-Location"]).json()
    assert {e["type"]: e["count"] for e in group["output"]} == {"Condition": 1, "Patient": 1}
    errors = _lines(group["error"][0]["url"])
    assert errors[0]["resourceType"] == "OperationOutcome" and "Patient/gone" in json.dumps(errors)
    assert requests.get(f"{server.base_url}/Group/nope/$export", headers=KICK, timeout=10).status_code == 404
    assert requests.get(f"{server.base_url}/$export?_since=yesterday", headers=KICK, timeout=10).status_code == 400


def test_quirk_switches(server: FhirTestServer) -> None:
    _config(server, noProgress=True, perFile=1, busy=True, transient=1, polls=1)
    status_url = requests.get(f"{server.base_url}/Patient/$export", headers=KICK, timeout=10).headers["Content-Location"]
    busy = requests.get(f"{server.base_url}/Patient/$export", headers=KICK, timeout=10)
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
    transient = requests.get(status_url, timeout=10)
    assert transient.status_code == 503 and transient.json()["issue"][0]["code"] == "transient"
    bare = requests.get(status_url, timeout=10)
    assert bare.status_code == 202 and "Retry-After" not in bare.headers and "X-Progress" not in bare.headers
    manifest = _complete(status_url).json()
    assert [e["count"] for e in manifest["output"]] == [1, 1, 1, 1]  # 2 Conditions, 2 Patients: one a file
    _config(server, requireToken="s3cret", fileOrigin="http://files.invalid")
    assert requests.get(f"{server.base_url}/Patient/$export", headers=KICK, timeout=10).status_code == 401
    status_url = requests.get(f"{server.base_url}/Patient/$export", headers={**KICK, "Authorization": "Bearer s3cret"},
                              timeout=10).headers["Content-Location"]
    manifest = _complete(status_url, {"Authorization": "Bearer s3cret"}).json()
    assert manifest["requiresAccessToken"] is True
    assert all(e["url"].startswith("http://files.invalid/bulk/file/") for e in manifest["output"])
    with pytest.raises(requests.HTTPError):
        _config(server, noSuchSwitch=True)


def test_deleted_lists_what_was_deleted_since(server: FhirTestServer) -> None:
    first = _complete(requests.get(f"{server.base_url}/Patient/$export", headers=KICK,
                                   timeout=10).headers["Content-Location"]).json()
    assert first["deleted"] == []
    time.sleep(0.01)
    assert requests.delete(f"{server.base_url}/Condition/c2", timeout=10).status_code == 200
    later = _complete(requests.get(f"{server.base_url}/Patient/$export?_since={first['transactionTime']}",
                                   headers=KICK, timeout=10).headers["Content-Location"]).json()
    assert later["output"] == []
    (bundle,) = _lines(later["deleted"][0]["url"])
    assert bundle["type"] == "transaction"
    assert bundle["entry"] == [{"request": {"method": "DELETE", "url": "Condition/c2"}}]
    full = _complete(requests.get(f"{server.base_url}/Patient/$export", headers=KICK,
                                  timeout=10).headers["Content-Location"]).json()
    assert full["deleted"] == []  # deleted[] is for _since exports only
