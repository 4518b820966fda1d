"""The fixtures themselves: in sync with their stories, valid R4, codes only from terminology.md,
dates only as tokens, loadable in chunks, and requests that the service's own prefetch would return."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from fhir_fixtures import author
from fhir_fixtures.catalog import (
    FIXTURES_DIR,
    HOOKS,
    PATIENTS,
    bundle,
    drafts,
    resources,
)
from fhir_fixtures.hook_requests import build_request, request_path
from fhir_fixtures.load import MAX_ENTRIES, LoadError, chunks, load
from fhir_fixtures.materialize import materialize, render_date
from tests.support.facts_terminology import codings

JSON = dict[str, Any]
SHARED = Path(__file__).resolve().parents[2] / "shared"  # beside the checkout
TODAY = date(2028, 3, 1)
CLINICAL_SYSTEMS = {
    "http://snomed.info/sct",
    "http://loinc.org",
    "http://hl7.org/fhir/sid/icd-10-cm",
    "http://dicom.nema.org/resources/ontology/DCM",
    "http://www.ama-assn.org/go/cpt",
}
REGENERATE = "run `python -m fhir_fixtures.author && python -m fhir_fixtures.hook_requests`"


def _walk(obj: Any, path: str = "") -> Any:
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            yield from _walk(value, f"{path}[{index}]")
    else:
        yield path, obj


def _terminology_codes() -> set[str]:
    """Every code terminology.md lists, with its shorthand expanded (`M65.271 / .272 / .279`)."""
    text = (SHARED / "reference" / "terminology.md").read_text()
    codes: set[str] = set()
    for line in text.splitlines():
        # Rows marked NOT VERIFIED / NOT FOUND name codes only to say: do not use them.
        if not line.startswith("|") or "NOT VERIFIED" in line or "NOT FOUND" in line:
            continue
        cell = line.split("|")[1]
        stem = None
        for token in re.findall(r"[A-Z]?[0-9A-Z]*\.?[0-9A-Z]+(?:-[0-9])?", cell):
            if token.startswith(".") and stem:
                codes.add(stem + token)
            else:
                codes.add(token)
                stem = token.split(".")[0] if "." in token else None
        codes.update(re.findall(r"\b\d{6,18}\b", line))  # SNOMED ids listed in a display, e.g. CKD stages
    return codes


def test_files_are_what_the_stories_write() -> None:
    stories = author.authored()
    assert list(stories) == list(PATIENTS)
    for patient, (transaction, orders) in stories.items():
        assert bundle(patient) == transaction, f"bundles/{patient}.json is stale: {REGENERATE}"
        assert drafts(patient) == orders, f"drafts/{patient}.json is stale: {REGENERATE}"
    on_disk = {p.stem for p in (FIXTURES_DIR / "bundles").glob("*.json")}
    assert on_disk == set(PATIENTS)


def test_request_files_are_what_build_request_makes() -> None:
    """Prefetch follows the service's templates: when the value sets change, the files must be rewritten."""
    for patient in PATIENTS:
        for hook in HOOKS:
            on_disk = json.loads(request_path(patient, hook).read_text())
            assert on_disk == build_request(patient, hook), f"{request_path(patient, hook).name} is stale: {REGENERATE}"
    assert len(list((FIXTURES_DIR / "requests").glob("*.json"))) == len(PATIENTS) * len(HOOKS)


@pytest.mark.parametrize("patient", PATIENTS)
def test_every_resource_is_valid_r4_and_belongs_to_its_patient(patient: str) -> None:
    rendered = materialize(bundle(patient), TODAY)
    Bundle.model_validate(rendered)
    orders = materialize(drafts(patient), TODAY)
    pool = [e["resource"] for e in rendered["entry"]] + [r for h in orders.values() for r in h["draftOrders"]]
    for entry in rendered["entry"]:
        r = entry["resource"]
        assert entry["request"] == {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}
    for resource in pool:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert resource["id"].startswith(patient), resource["id"]
        if resource["resourceType"] != "Patient":
            assert resource["subject"] == {"reference": f"Patient/{patient}"}, resource["id"]
    for hook in ("order-select", "order-sign"):
        ids = {f"{r['resourceType']}/{r['id']}" for r in orders[hook]["draftOrders"]}
        assert set(orders[hook].get("selections", [])) <= ids
        assert all(r["status"] == "draft" for r in orders[hook]["draftOrders"])


def test_ids_are_unique_across_fixtures() -> None:
    """One patient's draft may appear at both order hooks; otherwise every `Type/id` is used once."""
    owners: dict[str, set[tuple[str, str]]] = {}
    for patient in PATIENTS:
        for resource in resources(patient):
            owners.setdefault(f"{resource['resourceType']}/{resource['id']}", set()).add((patient, "bundle"))
        for resource in {r["id"]: r for h in drafts(patient).values() for r in h["draftOrders"]}.values():
            owners.setdefault(f"{resource['resourceType']}/{resource['id']}", set()).add((patient, "drafts"))
    assert {key: o for key, o in owners.items() if len(o) > 1} == {}


def test_codes_come_only_from_terminology_md() -> None:
    allowed = _terminology_codes()
    unknown = set()
    for patient in PATIENTS:
        every = resources(patient) + [r for h in drafts(patient).values() for r in h["draftOrders"]]
        for coding in codings(every):
            if coding["system"] in CLINICAL_SYSTEMS and coding["code"] not in allowed:
                unknown.add((patient, coding["system"], coding["code"]))
    assert not unknown


def test_the_terminology_parser_reads_shorthand_and_lists() -> None:
    allowed = _terminology_codes()
    assert {"M65.272", "M86.172", "L03.116", "431857002", "36305-1", "DX", "442098006"} <= allowed
    assert not {"82650004", "128491006"} & allowed  # named in NOT VERIFIED rows only


def test_dates_are_tokens_only() -> None:
    """No absolute date except birthDate: the fixtures never age."""
    for directory in ("bundles", "drafts", "requests"):
        for path in (FIXTURES_DIR / directory).glob("*.json"):
            for where, value in _walk(json.loads(path.read_text())):
                if isinstance(value, str) and re.search(r"\b\d{4}-\d{2}-\d{2}\b", value):
                    assert where.endswith(".birthDate"), f"{path.name}{where} = {value}"


def test_materialize_renders_days_weeks_and_embedded_tokens() -> None:
    today = date(2028, 3, 1)
    assert render_date("{{today}}", today) == "2028-03-01"
    assert render_date("{{today-1d}}", today) == "2028-02-29"
    assert render_date("{{today+3d}}", today) == "2028-03-04"
    assert render_date("{{today-8w}}", today) == "2028-01-05"
    assert render_date("{{today-5d}}T08:15:00Z", today) == "2028-02-25T08:15:00Z"
    assert materialize({"a": ["{{ today - 2w }}", 3, None]}, today) == {"a": ["2028-02-16", 3, None]}
    with pytest.raises(ValueError, match="malformed date token"):
        render_date("{{today-3m}}", today)


def test_materialize_script_writes_every_file(tmp_path: Path) -> None:
    from fhir_fixtures.materialize import main

    assert main(["--today", "2028-03-01", "--out", str(tmp_path)]) == 0
    written = json.loads((tmp_path / "bundles" / "fc-necrotizing.json").read_text())
    assert written == materialize(bundle("fc-necrotizing"), TODAY)
    assert len(list((tmp_path / "requests").glob("*.json"))) == len(PATIENTS) * len(HOOKS)


class _FakeServer:
    def __init__(self, fail_at: int | None = None) -> None:
        self.posts: list[tuple[str, JSON, dict[str, str]]] = []
        self.fail_at = fail_at

    def post(self, url: str, *, json: JSON, headers: dict[str, str], timeout: Any) -> Any:
        self.posts.append((url, json, headers))
        status = 400 if self.fail_at == len(self.posts) else 200
        body = {"resourceType": "OperationOutcome", "issue": [{"code": "invalid", "diagnostics": "bad"}]}

        class Reply:
            status_code = status

            @staticmethod
            def json() -> JSON:
                return body

        return Reply()


def test_load_posts_chunks_of_at_most_20_in_order_with_the_token() -> None:
    server = _FakeServer()
    report = load("http://fhir.example.org/fhir/", token="s3cret", today=TODAY, session=server)
    total = sum(len(bundle(p)["entry"]) for p in PATIENTS)
    assert report.resources == total and report.patients == len(PATIENTS)
    assert report.transactions == len(server.posts)
    assert all(len(b["entry"]) <= MAX_ENTRIES and b["type"] == "transaction" for _, b, _ in server.posts)
    assert all(url == "http://fhir.example.org/fhir" for url, _, _ in server.posts)
    assert all(h["Authorization"] == "Bearer s3cret" for _, _, h in server.posts)
    sent = [e["resource"]["id"] for _, b, _ in server.posts for e in b["entry"]]
    assert sent == [r["id"] for p in PATIENTS for r in resources(p)]
    assert "{{" not in json.dumps([b for _, b, _ in server.posts])


def test_chunks_split_a_big_bundle_in_order() -> None:
    big = {"resourceType": "Bundle", "type": "transaction", "entry": [{"n": i} for i in range(45)]}
    parts = chunks(big)
    assert [len(p["entry"]) for p in parts] == [20, 20, 5]
    assert [e["n"] for p in parts for e in p["entry"]] == list(range(45))


def test_load_stops_at_a_refused_transaction_without_the_token_in_the_message() -> None:
    with pytest.raises(LoadError) as caught:
        load("http://fhir.example.org/fhir", token="s3cret", today=TODAY, session=_FakeServer(fail_at=2))
    assert "HTTP 400" in str(caught.value) and "s3cret" not in str(caught.value)


def test_prefetch_holds_what_the_templates_ask_for() -> None:
    from cds_service.services import prefetch_templates

    request = build_request("fc-ckd-metastatic", "patient-view", TODAY)
    assert set(request["prefetch"]) == {key for key, _ in prefetch_templates()}
    assert request["prefetch"]["patient"]["id"] == "fc-ckd-metastatic"
    labs = {
        e["resource"]["id"] for k, v in request["prefetch"].items() if k.startswith("lab-results") for e in v["entry"]
    }
    assert "fc-ckd-metastatic-calcium" in labs
    studies = request["prefetch"]["imaging-studies"]["entry"]
    assert [e["resource"]["id"] for e in studies] == ["fc-ckd-metastatic-xr-study"]
    select = build_request("fc-ckd-metastatic", "order-select", TODAY)
    assert select["context"]["selections"] == ["ServiceRequest/fc-ckd-metastatic-draft-calcium"]
    assert "{{" not in json.dumps(select)
