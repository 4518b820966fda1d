"""End to end over HTTP: every fixture request, rendered for today's date, POSTed to the running app
(FastAPI TestClient, auth disabled, a fresh SQLite store); same expectations as the evaluator tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.settings import Settings
from fhir_fixtures.hook_requests import build_request
from tests.support.e2e_checks import check_response
from tests.support.e2e_run import CASES, SERVICE_BY_HOOK


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp: Path = tmp_path_factory.mktemp("e2e-http")
    app = create_app(Settings(auth_mode="disabled", database_url=f"sqlite:///{tmp}/t.db",
                              public_base_url="http://cds.example.org"))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(("patient", "hook"), CASES, ids=[f"{p}-{h}" for p, h in CASES])
def test_http_answer_matches_the_spec(http: TestClient, patient: str, hook: str) -> None:
    today = date.today()  # the route evaluates on the server's day; the fixtures are rendered for it
    request = build_request(patient, hook, today)
    reply = http.post(f"/cds-services/{SERVICE_BY_HOOK[hook].id}", json=request)
    assert reply.status_code == 200, reply.text[:500]
    assert reply.headers["content-type"].startswith("application/json")
    problems = check_response(patient, hook, request, reply.json(), today)
    assert not problems, "\n".join(problems)


def test_the_written_request_files_are_accepted_as_they_are(http: TestClient) -> None:
    """requests/*.json rendered by `materialize` (what a person would curl) give the same answer."""
    import json

    from fhir_fixtures.hook_requests import request_path
    from fhir_fixtures.materialize import materialize

    today = date.today()
    for patient, hook in (("fc-necrotizing", "patient-view"), ("fc-diabetic-ulcer", "order-sign")):
        body = materialize(json.loads(request_path(patient, hook).read_text()), today)
        reply = http.post(f"/cds-services/{SERVICE_BY_HOOK[hook].id}", json=body)
        assert reply.status_code == 200, reply.text[:500]
        problems = check_response(patient, hook, body, reply.json(), today)
        assert not problems, "\n".join(problems)
