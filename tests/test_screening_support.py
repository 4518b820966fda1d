"""Helpers for the screening tests (no tests here): both fixture sets as a Bulk FHIR export, what
patient-view answers for each patient, the screen run in-process, and a Dask scheduler + workers started as
separate processes on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from cds_service.cli import main as cli_main
from cds_service.render.cards import NODES_EXTENSION
from cds_service.screening.partition import findings_of
from fhir_fixtures import catalog
from fhir_fixtures.ehr import catalog as ehr
from fhir_fixtures.hook_requests import build_request
from fhir_fixtures.materialize import materialize
from tests.support.e2e_run import run_request

JSON = dict[str, Any]
TODAY = date(2028, 3, 1)
BIN = Path(sys.executable).parent


def fixture_records() -> dict[str, list[JSON]]:
    """Every patient of both fixture sets: their resources with dates rendered for TODAY."""
    records = {p: materialize(catalog.resources(p), TODAY) for p in catalog.PATIENTS}
    records |= {p: materialize(ehr.resources(p), TODAY) for p in ehr.PATIENTS}
    return records


def judgement(findings: list[JSON]) -> JSON:
    """The decisions in findings, whatever cards they came on: every node (a hook card names the nodes it
    carries in its extension, folded ones too) and every suggestion with its order codes. The screen reports
    a finding per node; patient-view folds nodes into few cards (pathway/compose.py): the same judgement."""
    return {
        "nodes": sorted(node for f in findings for node in f.get("nodes", [f["node"]])),
        "suggestions": sorted((s["label"], tuple(s["codes"])) for f in findings for s in f["suggestions"]),
    }


def _hook_judgement(cards: list[JSON]) -> JSON:
    found = findings_of(cards)
    for finding, card in zip(found, cards, strict=True):
        finding["nodes"] = card.get("extension", {}).get(NODES_EXTENSION, [finding["node"]])
    return judgement(found)


def expected_findings() -> dict[str, JSON]:
    """What patient-view answers for each fixture patient (the hooks' own call path), as a judgement."""
    found = {}
    for patient in catalog.PATIENTS:
        found[patient] = _hook_judgement(run_request(build_request(patient, "patient-view", TODAY), TODAY)["cards"])
    for patient in ehr.PATIENTS:
        found[patient] = _hook_judgement(run_request(ehr.build_request(patient, "patient-view", TODAY), TODAY)["cards"])
    return found


def write_export(folder: Path, records: dict[str, list[JSON]], *, split: int = 2, gzip_types: tuple[str, ...] = ("Observation",),
                 manifest: bool = True) -> Path:
    """The records as a Bulk Data export: one file per type and part (round-robin over patients, so one
    patient's resources of a type can sit in two files), some gzipped, and a complete-status manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    lines: dict[tuple[str, int], list[bytes]] = {}
    for number, (_, resources) in enumerate(sorted(records.items())):
        for resource in resources:
            part = number % split if resource["resourceType"] != "Patient" else 0
            # Part 0 compact, as servers write it (the screen's fast path), part 1 with spaces (the line by line path).
            text = json.dumps(resource, separators=(",", ":")) if part == 0 else json.dumps(resource)
            lines.setdefault((resource["resourceType"], part), []).append(text.encode())
    output = []
    for (kind, part), items in sorted(lines.items()):
        name = f"{kind}.{part:03d}.ndjson" + (".gz" if kind in gzip_types else "")
        data = b"\n".join(items) + b"\n"
        (folder / name).write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
        output.append({"type": kind, "url": f"https://bulk.example.org/files/{name}", "count": len(items)})
    if manifest:
        (folder / "manifest.json").write_text(json.dumps({
            "transactionTime": "2028-03-01T00:00:00Z", "request": "https://bulk.example.org/$export",
            "requiresAccessToken": False, "output": output, "error": []}))
    return folder


def screen(export: Path, out: Path, *extra: str) -> int:
    return cli_main(["screen", str(export), "--out", str(out), "--today", TODAY.isoformat(), "--no-progress", *extra])


def findings(out: Path) -> dict[str, JSON]:
    return {row["patient"]: row for row in map(json.loads, (out / "findings.ndjson").read_text().splitlines())}


def output_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def dask_processes(workers: int = 2, tmp: Path | None = None, *, nanny: bool = True
                   ) -> Iterator[tuple[str, list[subprocess.Popen]]]:
    """`dask scheduler` and `dask worker`s as separate processes on 127.0.0.1; stopped (by pid) at the end.
    `nanny=False`: each worker process is the worker itself (a kill -9 of it kills the worker)."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    log = open(os.devnull, "wb")  # noqa: SIM115
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], env=env, stdout=log, stderr=log)]
    try:
        _wait_port(port)
        for _ in range(workers):
            procs.append(subprocess.Popen(
                [str(BIN / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                 "--host", "127.0.0.1", "--local-directory", str(tmp or "/tmp"), *([] if nanny else ["--no-nanny"])],
                env=env, stdout=log, stderr=log))
        _wait_workers(address, workers)
        yield address, procs
    finally:
        _shutdown(address)  # scheduler and workers close at once (SIGTERM makes a worker linger)
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        log.close()


def _shutdown(address: str) -> None:
    from distributed import Client

    try:
        with Client(address, timeout="5s") as client:
            client.shutdown()
    except Exception:  # noqa: BLE001 - the scheduler may be gone already; the pids are stopped below
        pass


def _wait_port(port: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"dask scheduler did not listen on {port}")


def _wait_workers(address: str, count: int, seconds: float = 60.0) -> None:
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(count, timeout=seconds)


def screen_command(export: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "cds_service", "screen", str(export), "--out", str(out), "--today",
            TODAY.isoformat(), "--no-progress", *extra]


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found += [int(c) for c in children]
    return found


def wait_for_results(work: Path, at_least: int, proc: subprocess.Popen, seconds: float = 60.0) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        done = len(list((work / "results").glob("part-*.json"))) if (work / "results").exists() else 0
        if done >= at_least:
            return done
        time.sleep(0.005)
    raise AssertionError("the run ended or stalled before the kill")
