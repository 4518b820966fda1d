"""The real in-memory FHIR server (tests/fhir_server: @medplum/fhir-router) as a session-scoped fixture.

Import the fixture into a test module: `from tests.support.gathering_fhir_server import fhir_server`.
Tests that use it skip only when `node` is absent; a missing `node_modules` is installed with `npm ci`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests

from fhir_fixtures.load import LoadReport, load

__all__ = ["FhirTestServer", "fhir_server", "fixtures_loaded", "running_fhir_server", "transaction_bundles"]

SERVER_DIR = Path(__file__).resolve().parents[1] / "fhir_server"
START_TIMEOUT_SECONDS = 60.0
# The router handles bigger transactions in 4.5, but older releases refused more than ~20 entries.
TRANSACTION_CHUNK = 20
# Paging is on in every FHIR-server test: searches answer at most 20 entries a page whatever `_count` asks
# (HAPI's default page size), so the service's `_count=100` queries still follow `next` links.
DEFAULT_PAGE_SIZE = 20

JSON = dict[str, Any]


def transaction_bundles(resources: Iterable[JSON], chunk: int = TRANSACTION_CHUNK) -> Iterator[JSON]:
    """PUT-with-id transaction Bundles of at most `chunk` entries, so ids stay what the test chose."""
    batch: list[JSON] = []
    for resource in resources:
        if not resource.get("id"):
            raise ValueError(f"a {resource.get('resourceType')} without an id cannot be loaded with a stable id")
        url = f"{resource['resourceType']}/{resource['id']}"
        batch.append({"resource": resource, "request": {"method": "PUT", "url": url}})
        if len(batch) == chunk:
            yield {"resourceType": "Bundle", "type": "transaction", "entry": batch}
            batch = []
    if batch:
        yield {"resourceType": "Bundle", "type": "transaction", "entry": batch}


class FhirTestServer:
    def __init__(self, root_url: str) -> None:
        self.root_url = root_url
        self.base_url = f"{root_url}/fhir"
        self._http = requests.Session()

    def load(self, data: JSON | Iterable[JSON]) -> None:
        """Loads a Bundle's resources, one resource, or an iterable of resources (PUT by id, in chunks)."""
        if isinstance(data, dict) and data.get("resourceType") == "Bundle":
            resources = [entry["resource"] for entry in data.get("entry", [])]
        elif isinstance(data, dict):
            resources = [data]
        else:
            resources = list(data)
        for bundle in transaction_bundles(resources):
            response = self._http.post(self.base_url, json=bundle, headers={"Content-Type": "application/fhir+json"})
            response.raise_for_status()
            answer = response.json()
            failed = [e for e in answer.get("entry", []) if not str(e.get("response", {}).get("status", "")).startswith("2")]
            if answer.get("resourceType") != "Bundle" or failed:
                raise AssertionError(f"FHIR test server refused part of a transaction: {json.dumps(failed)[:2000]}")

    def requests(self) -> list[JSON]:
        """FHIR requests seen since the last clear: method, path, query, authorization, accept."""
        return self._http.get(f"{self.root_url}/_requests").json()

    def clear_requests(self) -> None:
        self._http.delete(f"{self.root_url}/_requests").raise_for_status()

    def reset(self) -> None:
        """Empties the repository and the request log."""
        self._http.post(f"{self.root_url}/_reset").raise_for_status()

    @contextmanager
    def page_size(self, size: int) -> Iterator[None]:
        """Searches answer at most `size` entries a page (with `next` links), whatever `_count` asks, inside
        the block."""
        self._configure(size)
        try:
            yield
        finally:
            self._configure(DEFAULT_PAGE_SIZE)

    def _configure(self, size: int) -> None:
        body = {"pageSize": size, "maxPageSize": size}
        self._http.put(f"{self.root_url}/_config", json=body).raise_for_status()

    def close(self) -> None:
        self._http.close()


def _ensure_node_modules(npm: str | None) -> None:
    if (SERVER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        return
    if npm is None:
        raise RuntimeError("tests/fhir_server/node_modules is missing and npm is not installed: run `make test-deps`")
    subprocess.run([npm, "ci", "--silent", "--prefix", str(SERVER_DIR)], check=True, timeout=600)


def _read_port(process: subprocess.Popen[str], stderr: Any) -> int:
    """The first stdout line is `{"listening": port}`; a thread reads it so a hung start cannot block."""
    found: dict[str, Any] = {}

    def read() -> None:
        assert process.stdout is not None
        found["line"] = process.stdout.readline()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(START_TIMEOUT_SECONDS)
    line = found.get("line", "")
    if not line:
        process.kill()
        process.wait(timeout=10)
        stderr.seek(0)
        raise RuntimeError(f"the FHIR test server did not start: {stderr.read()[-2000:]}")
    return int(json.loads(line)["listening"])


@contextmanager
def running_fhir_server(node: str, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[FhirTestServer]:
    """Starts tests/fhir_server on 127.0.0.1 (a free port), paging at `page_size`, waits until it answers, and
    stops it after."""
    _ensure_node_modules(shutil.which("npm"))
    # A file, not a pipe: a pipe nobody reads would block the server once full.
    stderr = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(
        [node, str(SERVER_DIR / "server.mjs"), "--host", "127.0.0.1", "--port", "0", "--page-size", str(page_size),
         "--max-page-size", str(page_size)],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    server: FhirTestServer | None = None
    try:
        port = _read_port(process, stderr)
        server = FhirTestServer(f"http://127.0.0.1:{port}")
        requests.get(f"{server.root_url}/_health", timeout=10).raise_for_status()
        yield server
    finally:
        if server is not None:
            server.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
        stderr.close()


@pytest.fixture(scope="session")
def fhir_server() -> Iterator[FhirTestServer]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the real FHIR server (tests/fhir_server) needs Node.js 20.19+")
    with running_fhir_server(node) as server:
        yield server


@contextmanager
def fixtures_loaded(server: FhirTestServer, today: date) -> Iterator[LoadReport]:
    """The fixture patients (fhir_fixtures, dates rendered for `today`) on an emptied `server`; emptied
    again after the block."""
    server.reset()
    with requests.Session() as session:
        report = load(server.base_url, today=today, session=session)
    yield report
    server.reset()


# The EHR set's big charts: on a server of their own (the test server scans the whole store per search).
EHR_BIG_CHARTS = ("ehr-big-dialysis", "ehr-big-history")


@contextmanager
def both_sets_served(server: FhirTestServer, today: date, page_size: int) -> Iterator[dict[str, FhirTestServer]]:
    """Both fixture sets for `today`: the fhir_fixtures set and the EHR set's small charts on `server`, paged at
    `page_size`, the big charts on a second server of their own. Yields patient id -> the server holding it."""
    from fhir_fixtures.ehr import catalog as ehr

    with fixtures_loaded(server, today):
        small = tuple(p for p in ehr.PATIENTS if p not in EHR_BIG_CHARTS)
        with requests.Session() as session:
            load(server.base_url, today=today, patients=small, bundle_of=ehr.bundle, session=session)
        node = shutil.which("node")
        assert node is not None  # the session server needed it too
        with running_fhir_server(node) as big, server.page_size(page_size):
            with requests.Session() as session:
                load(big.base_url, today=today, patients=EHR_BIG_CHARTS, bundle_of=ehr.bundle, session=session)
            yield {patient: big if patient in EHR_BIG_CHARTS else server
                   for patient in (*ehr.PATIENTS, *_fixture_patients())}


def _fixture_patients() -> tuple[str, ...]:
    from fhir_fixtures import catalog

    return tuple(catalog.PATIENTS)


@contextmanager
def scanning_server_client() -> Iterator[Any]:
    """The FhirClient of the fetch-mode fixture tests: the default page bound (10 pages at most per query), and a
    read timeout longer than the default, since the test server scans a big chart for each search and on a
    loaded machine one answer can take more than 10 s; its speed is not what these tests check."""
    from cds_service.gathering.fhir_client import FhirClient

    fhir = FhirClient(read_timeout=60.0)
    try:
        yield fhir
    finally:
        fhir.close()
