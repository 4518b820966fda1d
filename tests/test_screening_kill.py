"""A worker killed with kill -9 loses no patient and duplicates none. Embedded: the run stops naming --resume,
and --resume finishes it with the same output as an uninterrupted run. (Dask: the scheduler reruns the dead
worker's task; tested in test_screening_equality.py, which has the worker processes.)"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from cds_service.screening.generate import generate_export
from tests.test_screening_support import TODAY, children, output_bytes, screen, screen_command, wait_for_results

PARTITIONS = "24"


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kill-export")
    generate_export(folder, patients=600, prevalence=0.1, today=TODAY, files_per_type=3)
    return folder


@pytest.fixture(scope="module")
def reference(export: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("kill-ref") / "out"
    assert screen(export, out, "--workers", "1", "--partitions", PARTITIONS) == 0
    return output_bytes(out)


def test_embedded_kill_then_resume_gives_the_same_output(export: Path, reference: dict[str, bytes],
                                                         tmp_path: Path) -> None:
    out, work = tmp_path / "out", tmp_path / "work"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(screen_command(export, out, "--workers", "2", "--work", str(work), "--partitions", PARTITIONS), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_results(work, 1, proc)
    victims = children(proc.pid)
    assert victims, "no pool worker to kill"
    os.kill(victims[-1], signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    done = len(list((work / "results").glob("part-*.json")))
    if proc.returncode == 0:  # the killed worker had nothing left to do: nothing can have been lost either
        assert output_bytes(out) == reference
        return
    assert proc.returncode == 3, err
    assert b"--resume" in err and b"Traceback" not in err
    assert done < int(PARTITIONS) and not out.exists()  # nothing half written in its place
    resumed = subprocess.run(screen_command(export, out, "--workers", "2", "--work", str(work), "--resume", "--partitions", PARTITIONS), env=env,
                             capture_output=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert output_bytes(out) == reference
