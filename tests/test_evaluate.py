"""`cds-service evaluate`: a request file, a Bundle of one patient (collection, searchset, transaction), or a
FHIR server, through the hooks' code path; `--json` is exactly the service's body; input problems are one
line on stderr naming the file, exit status 2."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cds_service.cli import main
from fhir_fixtures.catalog import bundle as fixture_bundle
from fhir_fixtures.catalog import drafts as fixture_drafts
from fhir_fixtures.hook_requests import build_request
from fhir_fixtures.materialize import materialize
from tests.support.gathering_fhir_server import FhirTestServer, fhir_server, fixtures_loaded  # noqa: F401 (fixture)

TODAY = date(2026, 11, 21)
BASE = "http://testserver"
PV = "/cds-services/foot-calcification-patient-view"


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CDS_PUBLIC_BASE_URL", BASE)
    monkeypatch.delenv("CDS_PATHWAY_CONFIG", raising=False)
    monkeypatch.setenv("CDS_DATABASE_URL", f"sqlite:///{tmp_path}/never-used.db")


def write(tmp_path: Path, name: str, document: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document, encoding="utf-8")
    return path


def evaluate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["evaluate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def nodes(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["source"]["topic"]["code"], c["indicator"], c["summary"]) for c in body["cards"]]


def test_json_matches_http_byte_for_byte(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         make_client: Callable[..., TestClient]) -> None:
    today = date.today()  # the HTTP route evaluates on the real day
    request = build_request("fc-ckd-metastatic", "patient-view", today)
    path = write(tmp_path, "request.json", request)
    code, out, _ = evaluate(capsys, str(path), "--json")
    assert code == 0
    assert out.rstrip("\n") == make_client(public_base_url=BASE).post(PV, json=request).text


def test_a_bundle_gives_the_same_cards_as_the_fixture_request(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    request_path = write(tmp_path, "request.json", build_request("fc-diabetic-ulcer", "patient-view", TODAY))
    _, from_request, _ = evaluate(capsys, str(request_path), "--today", TODAY.isoformat(), "--json")
    # The Bundle still has its date tokens: --today renders them.
    bundle_path = write(tmp_path, "bundle.json", fixture_bundle("fc-diabetic-ulcer"))
    code, from_bundle, err = evaluate(capsys, str(bundle_path), "--today", TODAY.isoformat(), "--json")
    assert (code, err) == (0, "")
    assert nodes(json.loads(from_bundle)) == nodes(json.loads(from_request))
    # The osteomyelitis rule-out (carrying the class) and the repeat radiograph; no conservative care while
    # osteomyelitis is being ruled out (nodes.toml conservative-care rule).
    assert len(json.loads(from_bundle)["cards"]) == 2


@pytest.mark.parametrize("bundle_type", ["collection", "searchset"])
def test_collection_and_searchset_bundles(tmp_path: Path, capsys: pytest.CaptureFixture[str], bundle_type: str) -> None:
    source = materialize(fixture_bundle("fc-mass-undetermined"), TODAY)
    converted = {"resourceType": "Bundle", "type": bundle_type,
                 "entry": [{"resource": e["resource"]} for e in source["entry"]]}
    code, out, _ = evaluate(capsys, str(write(tmp_path, "b.json", converted)), "--today", TODAY.isoformat(), "--json")
    assert code == 0
    assert "advanced-imaging" in [n for n, _, _ in nodes(json.loads(out))]


def test_transaction_with_urn_uuid_references(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Synthea-style transaction: ids only in `urn:uuid:` fullUrls, references to those fullUrls."""
    source = materialize(fixture_bundle("fc-diabetic-ulcer"), TODAY)
    ids = {f"{e['resource']['resourceType']}/{e['resource']['id']}": f"urn:uuid:0000{n:04d}-0000-4000-8000-000000000000"
           for n, e in enumerate(source["entry"])}
    text = json.dumps(source)
    for reference, urn in ids.items():
        text = text.replace(f'"reference": "{reference}"', f'"reference": "{urn}"')
    converted = json.loads(text)
    for entry in converted["entry"]:
        resource = entry["resource"]
        entry["fullUrl"] = ids[f"{resource['resourceType']}/{resource.pop('id')}"]
        entry["request"] = {"method": "POST", "url": resource["resourceType"]}
    code, out, err = evaluate(capsys, str(write(tmp_path, "t.json", converted)), "--today", TODAY.isoformat())
    assert (code, err) == (0, "")
    assert "[WARNING] osteomyelitis-rule-out: Diabetic foot: rule out osteomyelitis" in out


def test_order_hook_from_a_bundle_with_drafts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    drafts = fixture_drafts("fc-diabetic-ulcer")["order-sign"]["draftOrders"]
    bundle_path = write(tmp_path, "bundle.json", fixture_bundle("fc-diabetic-ulcer"))
    drafts_path = write(tmp_path, "drafts.json", drafts)
    code, out, err = evaluate(capsys, str(bundle_path), "--hook", "order-sign", "--drafts", str(drafts_path),
                              "--today", TODAY.isoformat())
    assert (code, err) == (0, "")
    assert "repeat-radiograph: Radiograph drafted under 14 days after the last one" in out
    assert "update: Schedule" in out  # the action is printed


def test_person_output_lists_cards_suggestions_and_data_issues(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = materialize(fixture_bundle("fc-tendinitis-no-xr"), TODAY)
    broken = copy.deepcopy(next(e for e in source["entry"] if e["resource"]["resourceType"] == "Condition"))
    broken["resource"]["id"] = "broken-one"
    broken["resource"]["onsetDateTime"] = "not a date"
    source["entry"].append(broken)
    code, out, _ = evaluate(capsys, str(write(tmp_path, "b.json", source)), "--today", TODAY.isoformat())
    assert code == 0
    # initial-radiograph, and conservative care carrying the classification (folded)
    assert out.startswith("patient-view, evaluated on 2026-11-21: 2 card(s)")
    assert "  also carries: differential-diagnosis" in out
    assert "[WARNING] initial-radiograph: No foot radiograph in the last 90 days" in out
    assert "  suggestions (at-most-one):" in out and "(recommended)" in out
    assert "override reasons: done-elsewhere" in out
    assert "data issues (1)" in out and "Condition/broken-one" not in out.split("data issues")[0]


def test_outside_the_pathway_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = evaluate(capsys, str(write(tmp_path, "b.json", fixture_bundle("fc-outside"))))
    assert code == 0 and "0 card(s)" in out and "No cards" in out


def two_patients() -> dict[str, Any]:
    bundle = fixture_bundle("fc-outside")
    bundle["entry"] += fixture_bundle("fc-phlebolith")["entry"]
    return bundle


@pytest.mark.parametrize(
    ("name", "content", "args", "problem"),
    [
        ("missing.json", None, [], "no such file"),
        ("bad.json", "{not json", [], "is not valid JSON (line 1 column 2"),
        ("array.json", "[1, 2]", [], "is neither a CDS Hooks request nor a FHIR Bundle (not a JSON object)"),
        ("patient.json", {"resourceType": "Patient", "id": "x"}, [], "is a FHIR Patient, not a Bundle"),
        ("doc.json", {"resourceType": "Bundle", "type": "document", "entry": []}, [], "is a Bundle of type 'document'"),
        ("nopatient.json", {"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p"}}}]}, [],
         "has no Patient resource"),
        ("two.json", two_patients(), [], "has 2 Patient resources: choose one with --patient"),
        ("two.json", two_patients(), ["--patient", "someone-else"], "has no Patient with the id given by --patient"),
        ("noid.json", {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient"}}]},
         [], "Bundle.entry[0] (Patient) has no id and no urn:uuid fullUrl"),
        ("request.json", {"hook": "encounter-start", "context": {}}, [], "the request's hook 'encounter-start' is not one"),
        ("request.json", {"hook": "patient-view", "hookInstance": "not-a-uuid", "context": {"patientId": "p"}}, [],
         "the request is invalid: "),
        ("request.json", {"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
                          "context": {"userId": "Practitioner/1", "patientId": "p"}}, [],
         "required data could not be had: no fhirServer in the request"),
    ],
)
def test_input_problems_are_one_line_naming_the_file_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: Any, args: list[str], problem: str
) -> None:
    path = tmp_path / name if content is None else write(tmp_path, name, content)
    code, out, err = evaluate(capsys, str(path), *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(f"cds-service evaluate: {path}: ") and problem in err, err


def test_the_installed_command_exits_2_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cds_service", "evaluate", str(tmp_path / "absent.json")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr == f"cds-service evaluate: {tmp_path / 'absent.json'}: no such file\n"


@pytest.fixture(scope="module")
def loaded(fhir_server: FhirTestServer) -> Iterator[FhirTestServer]:  # noqa: F811
    with fixtures_loaded(fhir_server, TODAY):
        yield fhir_server


@pytest.mark.fhir_server
def test_from_a_fhir_server(loaded: FhirTestServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, from_server, err = evaluate(
        capsys, "--fhir-server", loaded.base_url, "--patient", "fc-ckd-metastatic", "--today", TODAY.isoformat(), "--json"
    )
    assert (code, err) == (0, "")
    request_path = write(tmp_path, "request.json", build_request("fc-ckd-metastatic", "patient-view", TODAY))
    _, from_prefetch, _ = evaluate(capsys, str(request_path), "--today", TODAY.isoformat(), "--json")
    assert nodes(json.loads(from_server)) == nodes(json.loads(from_prefetch))


def test_fhir_server_needs_a_patient_and_a_reachable_server(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = evaluate(capsys, "--fhir-server", "http://127.0.0.1:9/fhir")
    assert code == 2 and err == "cds-service evaluate: http://127.0.0.1:9/fhir: --fhir-server needs --patient\n"
    code, _, err = evaluate(capsys, "--fhir-server", "http://127.0.0.1:9/fhir", "--patient", "p1")
    assert code == 2 and err.startswith("cds-service evaluate: http://127.0.0.1:9/fhir: required data could not be had")
    assert "p1" not in err  # no patient identifier in messages
