"""The Bulk Data client (cds_service/screening/bulk.py) against the tests' real Bulk Data server
(tests/fhir_server/bulk_export.mjs) in each of its quirk modes. Waits are recorded, not slept: the server's
jobs advance per poll, so no test needs wall-clock time, and the recorded waits show what the client obeyed."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from cds_service.screening.bulk import BulkClient, BulkError, pathway_types
from tests.support.gathering_fhir_server import FhirTestServer, fhir_server  # noqa: F401 - fixture

TOKEN = "tok-9f8e7d6c5b4a"


def _records() -> list[dict]:
    found: list[dict] = [{"resourceType": "Group", "id": "g1", "type": "person", "actual": True,
                          "member": [{"entity": {"reference": "Patient/p1"}}, {"entity": {"reference": "Patient/gone"}}]},
                         {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "AMB"},
                          "subject": {"reference": "Patient/p1"}}]
    for n in (1, 2, 3):
        found.append({"resourceType": "Patient", "id": f"p{n}"})
        found.append({"resourceType": "Condition", "id": f"c{n}", "subject": {"reference": f"Patient/p{n}"},
                      "code": {"text": "soft tissue calcification"}})
    return found


@pytest.fixture()
def server(fhir_server: FhirTestServer) -> Iterator[FhirTestServer]:  # noqa: F811
    fhir_server.reset()
    fhir_server.load(_records())
    yield fhir_server
    fhir_server.reset()


def _config(server: FhirTestServer, **switches: object) -> None:
    requests.put(f"{server.root_url}/_bulk/config", json=switches, timeout=10).raise_for_status()


def _bulk_log(server: FhirTestServer) -> list[dict]:
    return requests.get(f"{server.root_url}/_bulk/requests", timeout=10).json()


def _client(server: FhirTestServer, waits: list[float], **kwargs: object) -> BulkClient:
    return BulkClient(server.base_url, sleep=waits.append, first_wait=0.5, **kwargs)


def _lines(source) -> dict[str, int]:  # noqa: ANN001
    counts: dict[str, int] = {}
    for file in source.files():
        with source.open(file) as handle:
            key = ("error:" if file.error_file else "") + str(file.resource_type)
            counts[key] = counts.get(key, 0) + len(handle.read().splitlines())
    return counts


def test_pathway_types_are_what_the_prefetch_reads() -> None:
    assert pathway_types() == ("Condition", "DiagnosticReport", "ImagingStudy", "Observation", "Patient",
                               "Procedure", "ServiceRequest")


def test_patient_export_kick_off_poll_download_delete(server: FhirTestServer, tmp_path: Path) -> None:
    waits: list[float] = []
    client = _client(server, waits)
    status_url = client.kick_off()
    source, manifest = client.export_to(tmp_path / "export", status_url)
    assert waits == [1.0, 1.0]  # the server's Retry-After, twice
    assert client.progress.server == "67% done" and client.progress.files_done == client.progress.files_total == 2
    assert _lines(source) == {"Patient": 3, "Condition": 3}  # no Encounter: not a type the pathway reads
    kick = _bulk_log(server)[0]
    assert kick["path"] == "/fhir/Patient/$export"
    assert kick["query"] == "_type=" + ",".join(pathway_types())
    files = [r for r in _bulk_log(server) if "/bulk/file/" in r["path"]]
    assert len(files) == 2 and all("gzip" in r["acceptEncoding"] for r in files)
    assert _bulk_log(server)[-1]["method"] == "DELETE"
    assert requests.get(status_url, timeout=10).status_code == 404
    written = json.loads((tmp_path / "export" / "manifest.json").read_text())
    assert written["transactionTime"] == manifest["transactionTime"]


def test_since_and_group_with_error_file(server: FhirTestServer, tmp_path: Path) -> None:
    waits: list[float] = []
    client = _client(server, waits)
    source, _ = client.export_to(tmp_path / "g", client.kick_off(group="g1", since="2000-01-01T00:00:00Z"))
    assert _lines(source) == {"Patient": 1, "Condition": 1, "error:OperationOutcome": 1}
    assert "_since=2000-01-01T00:00:00Z" in _bulk_log(server)[0]["query"]


def test_no_retry_after_backs_off_exponentially(server: FhirTestServer, tmp_path: Path) -> None:
    _config(server, noProgress=True, polls=4)
    waits: list[float] = []
    client = _client(server, waits)
    client.export_to(tmp_path / "e", client.kick_off())
    assert waits == [0.5, 1.0, 2.0, 4.0]


def test_many_small_files_download_in_parallel(server: FhirTestServer, tmp_path: Path) -> None:
    _config(server, perFile=1)
    client = _client(server, [], parallel=3)
    source, manifest = client.export_to(tmp_path / "e", client.kick_off())
    assert len(manifest["output"]) == 6 and len(source.files()) == 6
    assert _lines(source) == {"Patient": 3, "Condition": 3}


def test_429_while_another_export_runs_is_retried(server: FhirTestServer, tmp_path: Path) -> None:
    _config(server, busy=True, polls=2)
    other = _client(server, []).kick_off()
    waits: list[float] = []

    def wait_while_the_other_advances(seconds: float) -> None:
        waits.append(seconds)
        requests.get(other, timeout=10)  # the other export moves on while this one waits

    client = BulkClient(server.base_url, sleep=wait_while_the_other_advances, first_wait=0.5)
    status_url = client.kick_off()
    assert waits[:2] == [1.0, 1.0]  # the 429's Retry-After
    client.export_to(tmp_path / "e", status_url)


def test_transient_errors_are_retried_and_bounded(server: FhirTestServer, tmp_path: Path) -> None:
    _config(server, transient=2, polls=0)
    waits: list[float] = []
    client = _client(server, waits)
    client.export_to(tmp_path / "e", client.kick_off())
    assert waits == [0.5, 1.0]
    _config(server, transient=50)
    client = _client(server, [], max_retries=2, token=TOKEN)
    status_url = client.kick_off()
    with pytest.raises(BulkError) as failed:
        client.wait(status_url)
    assert "HTTP 503 after 3 attempts" in str(failed.value) and TOKEN not in str(failed.value)


def test_token_goes_to_the_server_only_and_to_files_only_when_required(server: FhirTestServer, tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    _config(server, requireToken=TOKEN, transient=1)
    client = _client(server, [], token=TOKEN)
    source, _ = client.export_to(tmp_path / "a", client.kick_off())
    assert _lines(source) == {"Patient": 3, "Condition": 3}
    assert all(r["authorization"] == f"Bearer {TOKEN}" for r in _bulk_log(server))
    server.reset()
    server.load(_records())
    _config(server, requiresAccessToken=False)  # capability URLs: the files get no token
    client = _client(server, [], token=TOKEN)
    client.export_to(tmp_path / "b", client.kick_off())
    for request in _bulk_log(server):
        expected = None if "/bulk/file/" in request["path"] else f"Bearer {TOKEN}"
        assert request["authorization"] == expected, request["path"]
    _config(server, requiresAccessToken=True, fileOrigin="http://files.invalid")
    client = _client(server, [], token=TOKEN)
    with pytest.raises(BulkError) as refused:
        client.export_to(tmp_path / "c", client.kick_off())
    assert "files.invalid needs the access token" in str(refused.value)
    assert TOKEN not in caplog.text and TOKEN not in str(refused.value) and TOKEN not in repr(client)
    assert "retry" in caplog.text  # the transient retry was logged, without the token


def test_resume_from_a_status_url(server: FhirTestServer, tmp_path: Path) -> None:
    status_url = _client(server, []).kick_off()
    requests.get(status_url, timeout=10)  # an earlier run polled once, then died
    source, _ = _client(server, []).export_to(tmp_path / "e", status_url)
    assert _lines(source) == {"Patient": 3, "Condition": 3}


def test_a_refused_kick_off_names_the_problem(server: FhirTestServer) -> None:
    with pytest.raises(BulkError) as failed:
        _client(server, []).kick_off(group="nope")
    assert "HTTP 404" in str(failed.value) and "Group/nope not found" in str(failed.value)


def test_expired_file_links_are_replaced_from_a_fresh_manifest(server: FhirTestServer, tmp_path: Path) -> None:
    _config(server, expireFiles=1, perFile=1)
    client = _client(server, [], parallel=3)
    source, _ = client.export_to(tmp_path / "e", client.kick_off())
    assert _lines(source) == {"Patient": 3, "Condition": 3}
    log = _bulk_log(server)
    files = [r for r in log if "/bulk/file/" in r["path"]]
    assert {r["query"] for r in files} == {"sig=1", "sig=2"}  # the first links expired, the fresh ones worked
    assert len([r for r in files if r["query"] == "sig=2"]) == 6
    status_gets = [r for r in log if "/bulk/status/" in r["path"] and r["method"] == "GET"]
    assert len(status_gets) == 2 + 1 + 1  # two 202s, the manifest, ONE more poll for all six expired links
    _config(server, expireFiles=5)
    client = _client(server, [])
    with pytest.raises(BulkError, match="the link has expired"):
        client.export_to(tmp_path / "f", client.kick_off())


def test_files_on_another_origin_without_the_token(server: FhirTestServer, tmp_path: Path) -> None:
    # localhost and 127.0.0.1 are two origins of the same test server: files on "another" origin that serves.
    other = server.root_url.replace("127.0.0.1", "localhost") + "/fhir"
    _config(server, fileOrigin=other, requiresAccessToken=False)
    client = _client(server, [], token=TOKEN)
    source, manifest = client.export_to(tmp_path / "e", client.kick_off())
    assert all(e["url"].startswith("http://localhost:") for e in manifest["output"])
    assert _lines(source) == {"Patient": 3, "Condition": 3}
    files = [r for r in _bulk_log(server) if "/bulk/file/" in r["path"]]
    assert len(files) == 2 and all(r["authorization"] is None for r in files)
