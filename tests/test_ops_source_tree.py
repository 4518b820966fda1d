"""Issue 16: the service run from a source tree over a non-editable install (PYTHONPATH at the checkout, as
`benchmarks/load_bench.py` runs it), and start-up when the card templates cannot be loaded.

Real `cds-service serve` processes. `python -S` keeps the interpreter from reading the virtualenv's .pth
files (so this project's own editable-install finder cannot resolve `cds_service.cards` for it): the
dependencies come from site-packages on PYTHONPATH and `cds_service` from the tree, exactly what a
non-editable install under a checkout on PYTHONPATH gives.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tempfile
from datetime import date
from pathlib import Path

import httpx

from fhir_fixtures.hook_requests import build_request
from tests.support.serve_process import free_port, running, service_env

REPO = Path(__file__).resolve().parents[1]
SITE_PACKAGES = sysconfig.get_paths()["purelib"]
PATIENT_VIEW = "/cds-services/foot-calcification-patient-view"


def _source_tree_env(tree: Path, directory: str, base: str) -> dict[str, str]:
    return service_env(
        PYTHONPATH=f"{tree}:{SITE_PACKAGES}",
        CDS_AUTH_MODE="disabled",
        CDS_DATABASE_URL=f"sqlite:///{directory}/cds.db",
        CDS_PUBLIC_BASE_URL=base,
    )


def test_served_from_the_source_tree_answers_hook_calls_and_is_ready() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="cds-tree-") as directory:
        argv = [sys.executable, "-S", "-m", "cds_service", "serve", "--host", "127.0.0.1", "--port", str(port)]
        env = _source_tree_env(REPO, directory, base)
        with running(argv, base, env, Path(directory) / "server.log", cwd=Path(directory)) as server:
            ready = httpx.get(f"{base}/readyz", timeout=10)
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"]["card_templates"] == "ok"
            response = httpx.post(
                base + PATIENT_VIEW, json=build_request("fc-tendinitis-no-xr", "patient-view", date.today()), timeout=60
            )
            assert response.status_code == 200, server.log()[-2000:]
            assert response.json()["cards"], "the fixture patient gets cards"


def test_templates_that_cannot_be_loaded_stop_start_up_with_one_line() -> None:
    """A tree whose `cds_service/cards` is missing (the old layout): exit 2 and one line naming the package,
    not a service that is 'ready' and answers every hook call 500."""
    with tempfile.TemporaryDirectory(prefix="cds-tree-") as directory:
        tree = Path(directory) / "tree"
        shutil.copytree(REPO / "cds_service", tree / "cds_service", symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "cards"))
        shutil.copytree(REPO / "fhir_fixtures", tree / "fhir_fixtures", ignore=shutil.ignore_patterns("__pycache__"))
        port = free_port()
        env = _source_tree_env(tree, directory, f"http://127.0.0.1:{port}")
        done = subprocess.run(
            [sys.executable, "-S", "-m", "cds_service", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=directory, capture_output=True, text=True, timeout=120,
        )
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert "Traceback" not in done.stderr
    assert "cannot start: card templates (package cds_service.cards) cannot be loaded" in lines[-1]
    assert "cds_service.cards" in lines[-1]


def test_a_template_that_does_not_compile_stops_start_up(tmp_path: Path) -> None:
    """A broken template is found at start-up, not by the first patient whose card uses it."""
    tree = tmp_path / "tree"
    shutil.copytree(REPO / "cds_service", tree / "cds_service", symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "fhir_fixtures", tree / "fhir_fixtures", ignore=shutil.ignore_patterns("__pycache__"))
    template = tree / "cds_service" / "cards" / "repeat-radiograph.md.j2"
    template.write_text(template.read_text(encoding="utf-8") + "\n{% if %}\n", encoding="utf-8")
    port = free_port()
    env = _source_tree_env(tree, str(tmp_path), f"http://127.0.0.1:{port}")
    done = subprocess.run(
        [sys.executable, "-S", "-m", "cds_service", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    last = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()][-1]
    assert "card template repeat-radiograph.md.j2 cannot be loaded: TemplateSyntaxError" in last
