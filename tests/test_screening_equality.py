"""The proof: for every patient of both fixture sets exported to NDJSON, the screen's findings are exactly the
nodes, indicators and suggestions (with their order codes) that patient-view returns for the same data, on
every engine: embedded (process pool), distributed.LocalCluster, and a `dask scheduler` with two `dask
worker` processes; and the three output folders are byte for byte the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_screening_support import (
    dask_processes,
    expected_findings,
    findings,
    fixture_records,
    output_bytes,
    screen,
    write_export,
)


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
    in_pathway = [p for p, cards in expected.items() if cards]
    assert len(in_pathway) >= 20  # a test that compares empty lists would prove nothing
    for patient, cards in expected.items():
        row = got.get(patient)
        screened = row["findings"] if row else []  # absent: outside the pathway, never parsed
        assert screened == cards, patient
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


def test_scheduler_and_two_worker_processes_equal_embedded(export: Path, embedded: Path, expected: dict,
                                                           tmp_path: Path) -> None:
    with dask_processes(2, tmp_path) as (address, _):
        out = tmp_path / "out"
        assert screen(export, out, "--scheduler", address, "--partitions", "5") == 0
    _check(out, expected)
    assert output_bytes(out) == output_bytes(embedded)
