"""The output folder: FHIR R4 resources a downstream system can import (valid R4B models, DEQM CAREGAP
issues whose evidence is a GuidanceResponse naming the closing codes), the gap list as CSV and Parquet with
the same rows, a manifest that matches the files, nothing left beside it, and the README's two-line example."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.guidanceresponse import GuidanceResponse

from cds_service.screening.gaps import GAP_STATUS_EXTENSION, tracked_gaps
from cds_service.guideline.nodes import pathway_spec
from tests.test_screening_support import TODAY


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("readme")
    env_python = [sys.executable, "-m", "cds_service"]
    # The README's example, as a user types it (with a fixed date so the test does not age).
    made = subprocess.run([*env_python, "screen", "generate", "--patients", "400", "--prevalence", "0.2", "--out",
                           str(root / "export"), "--today", TODAY.isoformat()], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    done = subprocess.run([*env_python, "screen", str(root / "export"), "--out", str(root / "screen"), "--today",
                           TODAY.isoformat()], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "screened 400 patients" in done.stdout
    return root / "screen"


def _ndjson(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_detected_issues_and_guidance_responses_are_valid_r4_and_linked(run: Path) -> None:
    issues, guidance = _ndjson(run / "DetectedIssue.ndjson"), _ndjson(run / "GuidanceResponse.ndjson")
    assert issues and len(issues) == len(guidance)
    by_id = {g["id"]: g for g in guidance}
    statuses = set()
    for issue in issues:
        DetectedIssue.model_validate(issue)
        assert issue["code"]["coding"][0]["code"] == "CAREGAP"
        (gap,) = [e for e in issue["modifierExtension"] if e["url"] == GAP_STATUS_EXTENSION]
        statuses.add(gap["valueCodeableConcept"]["coding"][0]["code"])
        target = issue["evidence"][0]["detail"][0]["reference"].split("/", 1)[1]
        response = by_id[target]
        GuidanceResponse.model_validate(response)
        assert response["subject"] == issue["patient"]
        assert "|" in response["identifier"][0]["value"]  # node|pathway version
        if statuses and gap["valueCodeableConcept"]["coding"][0]["code"] == "open-gap":
            assert response["dataRequirement"], "an open gap names the codes that would close it"
            assert response["reasonCode"][0]["coding"][0]["code"] in {"NotFound", "InvalidAttribute", "DateOutOfRange"}
    assert statuses == {"open-gap", "closed-gap", "not-applicable"}


def test_csv_and_parquet_hold_the_same_gap_rows(run: Path) -> None:
    with open(run / "gaps.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    table = pq.read_table(run / "gaps.parquet").to_pylist()
    assert len(rows) == len(table) == len(_ndjson(run / "DetectedIssue.ndjson"))
    for row, record in zip(rows, table):
        assert row["patient"] == record["patient"] and row["node"] == record["node"]
        assert row["codes"] == record["codes"] and row["status"] == record["status"]
        assert (row["overdue_days"] or None) == (None if record["overdue_days"] is None else str(record["overdue_days"]))


def test_manifest_lists_every_file_with_its_digest_and_nothing_is_left_beside_the_folder(run: Path) -> None:
    manifest = json.loads((run / "manifest.json").read_text())
    listed = {f["name"]: f for f in manifest["files"]}
    assert set(listed) == {p.name for p in run.iterdir()} - {"manifest.json"}
    for name, entry in listed.items():
        assert hashlib.sha256((run / name).read_bytes()).hexdigest() == entry["sha256"], name
    assert {o["type"] for o in manifest["output"]} == {"DetectedIssue", "GuidanceResponse"}
    assert sorted(p.name for p in run.parent.iterdir()) == ["export", "screen"]  # no temp or work folder left


def test_gaps_toml_names_real_nodes_and_questions_of_their_rules() -> None:
    spec = pathway_spec()
    for gap in tracked_gaps():
        node = spec.node(gap.node)
        assert node is not None, gap.node
        (rule,) = node.rules_for("patient-view")
        assert set(gap.care) <= set(rule.all), gap.node
        assert set(gap.care) != set(rule.all)  # something must remain to say the care applies
