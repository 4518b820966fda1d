"""Bad input is counted with its file and line and the run goes on: a truncated line, a resource without a
patient reference, a reference to a patient not in the export, an empty file, a corrupt gzip, a resource
type that does not match its file, the same resource in two files; the summary says how many patients could
not be fully evaluated and why. Also: the reader itself (manifest or file names, fsspec URLs)."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from cds_service.screening.source import ExportError, FileExport
from tests.test_screening_support import (
    expected_findings,
    findings,
    fixture_records,
    judgement,
    screen,
    write_export,
)

PATIENTS = ("fc-tendinitis-no-xr", "fc-ckd-metastatic", "fc-diabetic-ulcer", "fc-outside", "ehr-statuses")


@pytest.fixture(scope="module")
def bad_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    records = {p: r for p, r in fixture_records().items() if p in PATIENTS}
    folder = write_export(tmp_path_factory.mktemp("bad"), records, manifest=False, gzip_types=())
    obs = folder / "Observation.000.ndjson"
    lines = obs.read_bytes().splitlines()
    lines[1] = lines[1][:-25]  # truncated: line 2 (its subject still readable)
    calc = next(json.loads(l) for l in (folder / "Condition.000.ndjson").read_bytes().splitlines()
                if b"fc-tendinitis-no-xr" in l and b"calcif" in l.lower())
    orphan = {**calc, "id": "orphan-1"}
    del orphan["subject"]
    ghost = {**calc, "id": "ghost-1", "subject": {"reference": "Patient/ghost"}}
    lines += [json.dumps(orphan).encode(), json.dumps(ghost).encode(), json.dumps({**calc, "id": "moved-1"}).encode()]
    obs.write_bytes(b"\n".join(lines) + b"\n")  # lines n-2..n: no subject, unknown patient, a Condition
    second = folder / "Condition.001.ndjson"
    second.write_bytes(second.read_bytes() + json.dumps(calc).encode() + b"\n")  # the same Condition again
    (folder / "Procedure.009.ndjson").write_bytes(b"")  # empty
    good = gzip.compress(b"\n".join(json.dumps({**calc, "id": f"gz-{i}"}).encode() for i in range(50)) + b"\n")
    (folder / "Condition.002.ndjson.gz").write_bytes(good[: len(good) - 30])  # cut short: corrupt gzip
    return folder


@pytest.fixture(scope="module")
def bad_run(bad_export: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bad-out") / "out"
    assert screen(bad_export, out, "--workers", "1", "--partitions", "3") == 0  # the run goes on
    return out


def _issues(out: Path) -> list[dict]:
    with open(out / "data-issues.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_each_problem_is_counted_with_file_and_line(bad_export: Path, bad_run: Path) -> None:
    issues = _issues(bad_run)
    where = {(i["kind"], i["file"], int(i["line"])) for i in issues}
    obs_lines = len((bad_export / "Observation.000.ndjson").read_bytes().splitlines())
    assert ("malformed-line", "Observation.000.ndjson", 2) in where
    assert ("no-patient-reference", "Observation.000.ndjson", obs_lines - 2) in where
    assert ("type-mismatch", "Observation.000.ndjson", obs_lines - 2) in where  # the orphan is a Condition too
    assert ("unknown-patient", "Observation.000.ndjson", obs_lines - 1) in where
    assert ("type-mismatch", "Observation.000.ndjson", obs_lines) in where
    assert ("empty-file", "Procedure.009.ndjson", 0) in where
    assert any(k == "corrupt-file" and f == "Condition.002.ndjson.gz" for k, f, _ in where)
    duplicate = [i for i in issues if i["kind"] == "duplicate-resource"]
    assert len(duplicate) == 1 and duplicate[0]["file"] == "Condition.001.ndjson"
    assert "Condition.000.ndjson line" in duplicate[0]["detail"]
    text = (bad_run / "data-issues.csv").read_text()
    assert "ghost" not in text and "fc-tendinitis" not in text  # no patient identifier in the issue list


def test_summary_says_who_could_not_be_fully_evaluated_and_why(bad_run: Path) -> None:
    summary = json.loads((bad_run / "summary.json").read_text())
    patients, quality = summary["patients"], summary["data_quality"]
    assert patients["unknown_patient_references"] == 1  # ghost
    assert patients["screened"] == len(PATIENTS)
    assert patients["not_fully_evaluable"] >= 2  # the truncated line's patient, the duplicated Condition's
    assert {"malformed-line", "duplicate-resource"} <= set(patients["why_not_fully_evaluable"])
    for kind in ("malformed-line", "no-patient-reference", "unknown-patient", "empty-file", "corrupt-file",
                 "type-mismatch", "duplicate-resource"):
        assert quality["issues"].get(kind, 0) >= 1, kind
        assert quality["examples"][kind][0]["file"]
    html = (bad_run / "report.html").read_text()
    assert "not fully evaluable" in html and "<svg" in html and "<script" not in html


def test_patients_untouched_by_the_damage_keep_the_hooks_judgement(bad_run: Path) -> None:
    expected = expected_findings()
    got = findings(bad_run)
    for patient in ("fc-ckd-metastatic", "fc-diabetic-ulcer"):
        if not got[patient]["why"]:
            assert judgement(got[patient]["findings"]) == expected[patient], patient


def test_manifest_types_win_over_file_names_and_missing_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "a.ndjson").write_text('{"resourceType":"Patient","id":"p1"}\n')
    (tmp_path / "manifest.json").write_text(json.dumps({"output": [{"type": "Patient", "url": "http://x/a.ndjson"}]}))
    files = FileExport([str(tmp_path)]).files()
    assert [(f.name, f.resource_type) for f in files] == [("a.ndjson", "Patient")]
    (tmp_path / "manifest.json").write_text(json.dumps({"output": [{"type": "Patient", "url": "http://x/b.ndjson"}]}))
    with pytest.raises(ExportError, match="b.ndjson"):
        FileExport([str(tmp_path)])
    with pytest.raises(ExportError, match="no such"):
        FileExport([str(tmp_path / "nothing")])


def test_fsspec_urls_are_read(tmp_path: Path) -> None:
    (tmp_path / "1.Patient.ndjson").write_text('{"resourceType":"Patient","id":"p1"}\n')
    files = FileExport([f"file://{tmp_path}/1.Patient.ndjson"]).files()
    assert files[0].resource_type == "Patient"
    with FileExport([f"file://{tmp_path}"]).open(files[0]) as handle:
        assert b"p1" in handle.read()


def test_bad_command_lines_are_one_line_and_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert screen(tmp_path / "missing", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "no such file or folder" in err and "Traceback" not in err
    (tmp_path / "empty").mkdir()
    assert screen(tmp_path / "empty", tmp_path / "out") == 2
    assert "no NDJSON" in capsys.readouterr().err
