"""`cds-service screen --fhir-server URL`: kick-off to report against the tests' Bulk Data server, and the
result is the file mode's on the same data (both fixture sets, 30 patients), in the server's quirk modes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from cds_service.cli import main as cli_main
from tests.support.gathering_fhir_server import FhirTestServer, fhir_server  # noqa: F401 - fixture
from tests.test_screening_support import TODAY, findings, fixture_records, screen, write_export

TOKEN = "bulk-screen-token-31337"
# Output files that say how many files the input had (the file mode's export has 2 a type, the server's
# one): summary.json is compared without that count; report.html and manifest.json (which hashes both) not.
INPUT_SHAPED = {"summary.json", "report.html", "manifest.json"}


@pytest.fixture(scope="module")
def loaded(fhir_server: FhirTestServer) -> Iterator[FhirTestServer]:  # noqa: F811
    fhir_server.reset()
    for resources in fixture_records().values():
        fhir_server.load(resources)
    yield fhir_server
    fhir_server.reset()


@pytest.fixture(scope="module")
def from_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("files") / "out"
    export = write_export(tmp_path_factory.mktemp("export"), fixture_records())
    assert screen(export, out, "--workers", "2", "--partitions", "5") == 0
    return out


def _config(server: FhirTestServer, **switches: object) -> None:
    body = {"polls": 1, "retryAfter": 0, "noProgress": False, "perFile": 0, "busy": False, "transient": 0,
            "requireToken": None, "requiresAccessToken": None, "fileOrigin": None, **switches}
    requests.put(f"{server.root_url}/_bulk/config", json=body, timeout=10).raise_for_status()


def _screen(server: FhirTestServer, out: Path, *extra: str) -> int:
    return cli_main(["screen", "--fhir-server", server.base_url, "--out", str(out), "--today", TODAY.isoformat(),
                     "--no-progress", "--workers", "2", "--partitions", "5", *extra])


def _same(out: Path, from_files: Path) -> None:
    got = findings(out)
    assert len([p for p, row in got.items() if row["findings"]]) >= 20  # not two empty lists
    assert got == findings(from_files)
    names = {p.name for p in out.iterdir()} - INPUT_SHAPED
    assert names == {p.name for p in from_files.iterdir()} - INPUT_SHAPED
    for name in sorted(names):
        assert (out / name).read_bytes() == (from_files / name).read_bytes(), name
    summaries = [json.loads((folder / "summary.json").read_text()) for folder in (out, from_files)]
    for summary in summaries:
        del summary["data_quality"]["files"]
    assert summaries[0] == summaries[1]


@pytest.mark.parametrize("quirks", [
    {},
    {"noProgress": True, "perFile": 7},  # Medplum's bare 202s; small files
    {"busy": True, "transient": 2, "perFile": 1000},  # HAPI's 1,000 a file, 429s, transient 503s
], ids=["plain", "medplum", "hapi"])
def test_screen_from_the_server_equals_the_file_mode(loaded: FhirTestServer, from_files: Path, tmp_path: Path,
                                                      quirks: dict, capsys: pytest.CaptureFixture) -> None:
    _config(loaded, **quirks)
    assert _screen(loaded, tmp_path / "out") == 0
    _same(tmp_path / "out", from_files)
    assert not (tmp_path / "out.export").exists()  # the download is work, removed after the run
    assert "--status-url http" in capsys.readouterr().err


def test_token_from_the_environment_is_used_and_never_printed(loaded: FhirTestServer, from_files: Path,
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture) -> None:
    _config(loaded, requireToken=TOKEN)
    assert _screen(loaded, tmp_path / "refused") == 3  # no token: 401, said, not a stack trace
    assert "HTTP 401" in capsys.readouterr().err
    monkeypatch.setenv("CDS_SCREEN_FHIR_TOKEN", TOKEN)
    assert _screen(loaded, tmp_path / "out") == 0
    _same(tmp_path / "out", from_files)
    printed = capsys.readouterr()
    assert TOKEN not in printed.out + printed.err
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    monkeypatch.delenv("CDS_SCREEN_FHIR_TOKEN")
    assert _screen(loaded, tmp_path / "again", "--token-file", str(token_file)) == 0


def test_resume_from_the_status_url(loaded: FhirTestServer, from_files: Path, tmp_path: Path) -> None:
    _config(loaded, polls=3)
    kick = requests.get(f"{loaded.base_url}/Patient/$export",
                        headers={"Accept": "application/fhir+json", "Prefer": "respond-async"}, timeout=10)
    status_url = kick.headers["Content-Location"]
    requests.get(status_url, timeout=10)  # the run that kicked it off polled once and died
    assert _screen(loaded, tmp_path / "out", "--status-url", status_url) == 0
    _same(tmp_path / "out", from_files)
    assert requests.get(status_url, timeout=10).status_code == 404  # deleted when done


def test_bad_options_are_exit_2(loaded: FhirTestServer, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as bad:
        _screen(loaded, tmp_path / "out", "--since", "2028-03-01")
    assert bad.value.code == 2 and "an instant needs a time and a time zone" in capsys.readouterr().err
    assert cli_main(["screen", "--out", str(tmp_path / "o"), "--since", "2028-03-01T00:00:00Z"]) == 2
    assert "need --fhir-server" in capsys.readouterr().err
    assert cli_main(["screen", "--out", str(tmp_path / "o")]) == 2
    assert cli_main(["screen", "--fhir-server", "ftp://x", "--out", str(tmp_path / "o")]) == 2
    assert _screen(loaded, tmp_path / "out", "--group", "no-such-group") == 3
    assert "Group/no-such-group not found" in capsys.readouterr().err


def test_incremental_run_asks_since_the_last_and_equals_a_full_run(fhir_server: FhirTestServer,  # noqa: F811
                                                                   tmp_path: Path) -> None:
    records = fixture_records()
    fhir_server.reset()
    for resources in records.values():
        fhir_server.load(resources)
    _config(fhir_server, polls=0)
    state = tmp_path / "state"
    assert _screen(fhir_server, tmp_path / "partial", "--state", str(state), "--since", "2000-01-01T00:00:00Z") == 2
    assert _screen(fhir_server, tmp_path / "first", "--state", str(state)) == 0
    first_time = json.loads((state / "state.json").read_text())["transactionTime"]
    # What changes between the runs: one in-pathway patient's Conditions are deleted, another's Patient is
    # updated (same content, a new lastUpdated: in the delta, nothing to judge differently).
    first = findings(tmp_path / "first")
    changed = next(p for p in sorted(records) if first.get(p, {}).get("findings")
                   and any(r["resourceType"] == "Condition" for r in records[p]))
    touched = next(p for p in sorted(records) if p != changed)
    for resource in [r for r in records[changed] if r["resourceType"] == "Condition"]:
        assert requests.delete(f"{fhir_server.base_url}/Condition/{resource['id']}", timeout=10).ok
    records[changed] = [r for r in records[changed] if r["resourceType"] != "Condition"]
    fhir_server.load([r for r in records[touched] if r["resourceType"] == "Patient"])
    log_start = len(requests.get(f"{fhir_server.root_url}/_bulk/requests", timeout=10).json())
    assert _screen(fhir_server, tmp_path / "second", "--state", str(state)) == 0
    second_log = requests.get(f"{fhir_server.root_url}/_bulk/requests", timeout=10).json()[log_start:]
    assert f"_since={first_time}" in second_log[0]["query"]
    delta = [r for r in second_log if "/bulk/file/" in r["path"]]
    assert len(delta) == 2  # the updated Patient, and the deleted[] Bundle: not the whole export again
    # The full run on the changed data, from files, is what the incremental run found.
    export = write_export(tmp_path / "export", records)
    assert screen(export, tmp_path / "full", "--workers", "2", "--partitions", "5") == 0
    assert findings(tmp_path / "second") == findings(tmp_path / "full")
    assert findings(tmp_path / "second").get(changed) != first.get(changed)  # the deletion mattered
    assert _screen(fhir_server, tmp_path / "other", "--state", str(state), "--group", "g1") == 3  # not its state
    fhir_server.reset()  # the module's other tests find the data as `loaded` left it
    for resources in fixture_records().values():
        fhir_server.load(resources)
