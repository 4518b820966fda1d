"""The real `cds-service` command line: version, clean start-up errors (one line, exit status 2), argument
checks, the derived public base URL, and JSON logs from a running server."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from datetime import date
from pathlib import Path

import httpx
import pytest

from cds_service import __version__
from fhir_fixtures.hook_requests import build_request
from tests.conftest import REPO
from tests.support.ops_server import AS_NOBODY, can_run_as_nobody, cli, free_port, serve, service_env

PATIENT = "fc-ckd-metastatic"


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def dev_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    defaults = {"CDS_AUTH_MODE": "disabled", "CDS_DATABASE_URL": f"sqlite:///{tmp_path}/cds.db"}
    return service_env(**{**defaults, **settings})


def test_version_matches_the_package_metadata() -> None:
    result = cli(["--version"], service_env())
    assert result.returncode == 0
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert result.stdout.strip() == f"cds-service {project['version']}" == f"cds-service {__version__}"


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("CDS_MAX_BODY_BYTES", "five megabytes"),
        ("CDS_AUTH_MODE", "sometimes"),
        ("CDS_PUBLIC_BASE_URL", "cds.example.org"),
        ("CDS_LOG_FORMAT", "xml"),
        ("CDS_METRICS_ENABLED", "perhaps"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(tmp_path: Path, setting: str, value: str) -> None:
    line = one_line(cli(["serve"], dev_env(tmp_path, **{setting: value})))
    assert f"cannot start: {setting}:" in line


def test_a_bad_setting_is_one_json_line_with_json_logs(tmp_path: Path) -> None:
    line = one_line(cli(["serve"], dev_env(tmp_path, CDS_LOG_FORMAT="json", CDS_FHIR_MAX_PAGES="0")))
    record = json.loads(line)
    assert record["level"] == "CRITICAL" and "CDS_FHIR_MAX_PAGES" in record["message"]


def test_a_secret_setting_value_is_not_repeated(tmp_path: Path) -> None:
    line = one_line(cli(["serve"], dev_env(tmp_path, CDS_JWT_CLOCK_SKEW_SECONDS="hunter2-secret")))
    assert "CDS_JWT_CLOCK_SKEW_SECONDS" in line and "hunter2" not in line


def test_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://cds:pa55word@127.0.0.1:{free_port()}/cds"
    line = one_line(cli(["serve"], dev_env(tmp_path, CDS_DATABASE_URL=url)))
    assert "CDS_DATABASE_URL" in line and "127.0.0.1" in line and "pa55word" not in line
    # The operators' database commands say it the same way.
    for command in (["db", "upgrade"], ["feedback", "report"]):
        line = one_line(cli(command, dev_env(tmp_path, CDS_DATABASE_URL=url)))
        assert "CDS_DATABASE_URL" in line and "pa55word" not in line


def test_sqlite_in_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    line = one_line(cli(["serve"], dev_env(tmp_path, CDS_DATABASE_URL=f"sqlite:///{tmp_path}/nope/cds.db")))
    assert f"{tmp_path}/nope" in line and "does not exist" in line


def test_sqlite_in_an_unwritable_directory_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)
    tmp_path.chmod(0o755)
    if os.geteuid() == 0:
        if not can_run_as_nobody():
            pytest.skip("needs setpriv to drop root for this check")
        result = cli(["serve"], dev_env(tmp_path, CDS_DATABASE_URL=f"sqlite:///{data}/cds.db"), prefix=AS_NOBODY, cwd=data)
    else:
        data.chmod(0o555)
        result = cli(["serve"], dev_env(tmp_path, CDS_DATABASE_URL=f"sqlite:///{data}/cds.db"))
    line = one_line(result)
    assert "CDS_DATABASE_URL" in line and str(data) in line and "not writable" in line


def test_sqlite_on_a_read_only_volume_is_one_line(tmp_path: Path) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    # A private mount namespace with a read-only tmpfs on `volume`, as a container's read-only mount.
    mount_ro = ["unshare", "-m", "--", "sh", "-c", 'mount -t tmpfs -o ro tmpfs "$0" && exec "$@"', str(volume)]
    if os.geteuid() != 0 or subprocess.run([*mount_ro, "true"], capture_output=True, check=False).returncode != 0:
        pytest.skip("needs root to mount a read-only file system in a private mount namespace")
    line = one_line(cli(["serve"], dev_env(tmp_path, CDS_DATABASE_URL=f"sqlite:///{volume}/cds.db"), prefix=mount_ro))
    assert str(volume) in line and "read-only file system" in line


def test_untrusted_configuration_is_one_line(tmp_path: Path) -> None:
    env = dev_env(tmp_path, CDS_AUTH_MODE="required", CDS_TRUSTED_CLIENTS=str(tmp_path / "missing.json"))
    line = one_line(cli(["serve"], env))
    assert "CDS_TRUSTED_CLIENTS" in line or "missing.json" in line
    bad_pathway = tmp_path / "pathway.toml"
    bad_pathway.write_text("[imaging_lookback_dayz]\nvalue = 1\n")
    line = one_line(cli(["serve"], dev_env(tmp_path, CDS_PATHWAY_CONFIG=str(bad_pathway))))
    assert "CDS_PATHWAY_CONFIG" in line and "imaging_lookback_dayz" in line


@pytest.mark.parametrize(("spec", "named"), [
    ("no_such_module:PATIENTS", "no_such_module"),
    ("fhir_fixtures.sandbox:NOBODY", "NOBODY"),
    ("fhir_fixtures.sandbox", "module:attribute"),
    ("fhir_fixtures.catalog:HOOKS", "has no ids, story, bundle, drafts"),
])
def test_sandbox_patients_that_cannot_be_loaded_stop_the_start(tmp_path: Path, spec: str, named: str) -> None:
    line = one_line(cli(["serve"], dev_env(tmp_path, CDS_SANDBOX_PATIENTS=spec)))
    assert "cannot start: CDS_SANDBOX_PATIENTS" in line and named in line, line


@pytest.mark.parametrize("workers", ["0", "-3", "two"])
def test_workers_below_one_are_refused(tmp_path: Path, workers: str) -> None:
    result = cli(["serve", "--workers", workers], dev_env(tmp_path))
    assert result.returncode == 2
    assert "--workers" in result.stderr


def test_feedback_report_names_an_unknown_service(tmp_path: Path) -> None:
    result = cli(["feedback", "report", "--service", "nope"], dev_env(tmp_path))
    assert result.returncode == 2
    assert "unknown service 'nope'" in result.stderr and "foot-calcification-patient-view" in result.stderr


def test_port_without_public_base_url_derives_it(tmp_path: Path) -> None:
    with serve(dev_env(tmp_path), tmp_path / "serve.log", cwd=tmp_path) as served:
        code_system = httpx.get(f"{served.base}/override-reason").json()
        assert code_system["url"] == f"{served.base}/override-reason"  # not :8080
    # An explicit setting wins.
    with serve(dev_env(tmp_path, CDS_PUBLIC_BASE_URL="https://cds.example.org"), tmp_path / "s2.log", cwd=tmp_path) as s:
        assert httpx.get(f"{s.base}/override-reason").json()["url"] == "https://cds.example.org/override-reason"


def test_json_logs_one_object_per_line_with_an_access_line(tmp_path: Path) -> None:
    token = "fhir-token-SECRET-0815"
    request = build_request(PATIENT, "patient-view", date.today(), fhir_server="http://127.0.0.1:1/fhir")
    request["fhirAuthorization"] = {"access_token": token, "token_type": "Bearer"}
    env = dev_env(tmp_path, CDS_LOG_FORMAT="json")
    with serve(env, tmp_path / "serve.log", cwd=tmp_path, workers=2) as served:
        response = httpx.post(
            f"{served.base}/cds-services/foot-calcification-patient-view?patient={PATIENT}",
            json=request, headers={"X-Request-ID": "trace-json-0001"}, timeout=30,
        )
        assert response.status_code == 200 and response.headers["x-request-id"] == "trace-json-0001"
        cards = len(response.json()["cards"])
        httpx.get(f"{served.base}/pathway/{PATIENT}")  # 404 for a path holding a patient id
    lines = served.log_lines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(record, dict) and "message" in record and "level" in record for record in records)
    starting = [r for r in records if r["message"].startswith("cds-service ")]
    assert starting and __version__ in starting[0]["message"]
    access = [r for r in records if r.get("logger") == "cds_service.access"]
    hook = next(r for r in access if r["request_id"] == "trace-json-0001")
    assert hook["method"] == "POST" and hook["route"] == "/cds-services/{service_id}"
    assert hook["status"] == 200 and hook["cards"] == cards and hook["duration_ms"] > 0
    assert any(r["route"] == "/pathway/{node_id}" and r["status"] == 404 for r in access)
    text = "\n".join(lines)
    assert PATIENT not in text and token not in text and "?patient" not in text
    assert not any(r["logger"].startswith("alembic") for r in records)  # demoted to debug
    assert any(r["logger"].startswith("uvicorn") for r in records)  # uvicorn's own lines are JSON too


def test_text_logs_at_debug_show_alembic(tmp_path: Path) -> None:
    with serve(dev_env(tmp_path), tmp_path / "serve.log", cwd=tmp_path, extra=["--log-level", "debug"]) as served:
        pass
    assert any(" DEBUG alembic" in line for line in served.log_lines())
