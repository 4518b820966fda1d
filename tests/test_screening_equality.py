"""The proof: for every patient of both fixture sets exported to NDJSON, the screen's findings are exactly the
nodes, indicators and suggestions (with their order codes) that patient-view returns for the same data, on
every engine: embedded (process pool), distributed.LocalCluster, and a `dask scheduler` with two `dask
worker` processes; and the three output folders are byte for byte the same."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cds_service.screening.generate import generate_export
from tests.test_screening_support import (
    TODAY,
    dask_processes,
    expected_findings,
    findings,
    fixture_records,
    judgement,
    output_bytes,
    screen,
    screen_command,
    wait_for_results,
    write_export,
)

KILL_PARTITIONS = "24"


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_export(tmp_path_factory.mktemp("export"), fixture_records())


@pytest.fixture(scope="module")
def expected() -> dict:
    return expected_findings()


@pytest.fixture(scope="module")
def embedded(export: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("embedded") / "out"
    assert screen(export, out, "--workers", "2", "--partitions", "5") == 0
    return out


def _check(out: Path, expected: dict) -> None:
    got = findings(out)
    assert len(expected) >= 30  # both fixture sets (19 + 11 patients)
    in_pathway = [p for p, judged in expected.items() if judged["nodes"]]
    assert len(in_pathway) >= 20  # a test that compares empty lists would prove nothing
    for patient, judged in expected.items():
        row = got.get(patient)
        screened = row["findings"] if row else []  # absent: outside the pathway, never parsed
        assert judgement(screened) == judged, patient
    assert set(got) <= set(expected)


def test_embedded_equals_patient_view(embedded: Path, expected: dict) -> None:
    _check(embedded, expected)
    import json

    summary = json.loads((embedded / "summary.json").read_text())
    assert summary["patients"]["screened"] == len(expected)
    assert summary["data_quality"]["issues"] == {}  # the fixtures are clean: any issue here is a reader bug


def test_local_cluster_equals_embedded(export: Path, embedded: Path, expected: dict, tmp_path: Path) -> None:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        out = tmp_path / "out"
        assert screen(export, out, "--scheduler", cluster.scheduler_address, "--partitions", "5") == 0
    _check(out, expected)
    assert output_bytes(out) == output_bytes(embedded)


@pytest.fixture(scope="module")
def processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[subprocess.Popen]]]:
    """One scheduler and two worker processes for this module (no nanny: a worker killed stays dead)."""
    with dask_processes(2, tmp_path_factory.mktemp("dask"), nanny=False) as cluster:
        yield cluster


def test_scheduler_and_two_worker_processes_equal_embedded(export: Path, embedded: Path, expected: dict,
                                                           processes: tuple, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert screen(export, out, "--scheduler", processes[0], "--partitions", "5") == 0
    _check(out, expected)
    assert output_bytes(out) == output_bytes(embedded)


def test_dask_worker_killed_mid_run_completes_with_the_same_output(processes: tuple, tmp_path: Path) -> None:
    """kill -9 of one of the two worker processes mid-run: the scheduler reruns its tasks on the other
    (every task is idempotent and writes by rename), and the output is the uninterrupted run's."""
    address, procs = processes
    export = tmp_path / "export"
    generate_export(export, patients=600, prevalence=0.1, today=TODAY, files_per_type=3)
    reference = tmp_path / "reference"
    assert screen(export, reference, "--workers", "1", "--partitions", KILL_PARTITIONS) == 0
    out, work = tmp_path / "out", tmp_path / "work"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(screen_command(export, out, "--scheduler", address, "--work", str(work),
                                           "--partitions", KILL_PARTITIONS),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_results(work, 2, proc)
    procs[2].send_signal(signal.SIGKILL)  # a worker, kill -9, mid-run
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert procs[2].wait(timeout=10) == -signal.SIGKILL
    assert output_bytes(out) == output_bytes(reference)
