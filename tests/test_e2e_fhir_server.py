"""The fixtures loaded into the real in-memory FHIR server with `fhir_fixtures.load`, then every hook
called WITHOUT prefetch: the service gathers from the server and must reach the same cards."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import requests

from cds_service.gathering.fhir_client import FhirClient
from cds_service.guideline.config import load_pathway_config
from cds_service.invocation import Invocation
from fhir_fixtures.catalog import PATIENTS
from fhir_fixtures.hook_requests import build_request
from tests.support.e2e_checks import check_response
from tests.support.e2e_run import (
    BASE_URL,
    CASES,
    SERVICE_BY_HOOK,
    TEST_SERVER_DEADLINE_SECONDS,
    RecordedCards,
    run_invoke,
)
from tests.support.gathering_fhir_server import FhirTestServer, fhir_server, fixtures_loaded  # noqa: F401 (fixture)

pytestmark = pytest.mark.fhir_server

TODAY = date(2028, 3, 1)


# Small enough that the fixtures' searches answer over several pages (paging on), large enough that no key
# needs more than the client's 10.
PAGE_SIZE = 5


@pytest.fixture(scope="module")
def loaded(fhir_server: FhirTestServer) -> Iterator[FhirTestServer]:  # noqa: F811
    with fixtures_loaded(fhir_server, TODAY) as report:
        assert report.patients == len(PATIENTS)
        with fhir_server.page_size(PAGE_SIZE):
            yield fhir_server


@pytest.fixture(scope="module")
def client() -> Iterator[FhirClient]:
    fhir = FhirClient()
    yield fhir
    fhir.close()


@pytest.mark.parametrize("prefetch", ["none", "half"])
@pytest.mark.parametrize(("patient", "hook"), CASES, ids=[f"{p}-{h}" for p, h in CASES])
def test_cards_from_the_fhir_server_match_the_spec(
    loaded: FhirTestServer, client: FhirClient, patient: str, hook: str, prefetch: str
) -> None:
    """`none`: every key is fetched; `half`: every other key is sent, the rest fetched and merged."""
    body = build_request(patient, hook, TODAY, with_prefetch=prefetch == "half", fhir_server=loaded.base_url)
    if prefetch == "half":
        body["prefetch"] = {key: value for index, (key, value) in enumerate(body["prefetch"].items()) if index % 2}
    loaded.clear_requests()
    call = Invocation(SERVICE_BY_HOOK[hook], BASE_URL, client, load_pathway_config(), RecordedCards(),
                      deadline_seconds=TEST_SERVER_DEADLINE_SECONDS)
    response = run_invoke(call, body, today=TODAY)
    full = build_request(patient, hook, TODAY)["prefetch"]
    if prefetch == "none" and any(len((v or {}).get("entry", [])) > PAGE_SIZE for v in full.values()):
        assert any("_offset=" in r["query"] for r in loaded.requests()), "a key of this patient needs a 2nd page"
    # The same request with prefetch lists what the patient's data holds, for the reference checks.
    problems = check_response(patient, hook, build_request(patient, hook, TODAY), response, TODAY)
    assert not problems, "\n".join(problems)


def test_the_load_command_loads_every_patient(fhir_server: FhirTestServer, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    from fhir_fixtures.load import main

    # Leaves the server as `loaded` does (same patients, same day), so test order does not matter.
    fhir_server.reset()
    assert main(["--base", fhir_server.base_url, "--today", TODAY.isoformat()]) == 0
    assert f"loaded {len(PATIENTS)} patients" in capsys.readouterr().out
    ids: set[str] = set()
    url: str | None = f"{fhir_server.base_url}/Patient?_count=100"
    while url:  # the server pages (at most 20 a page, fewer inside the `loaded` block)
        page = requests.get(url, timeout=10).json()
        ids |= {e["resource"]["id"] for e in page.get("entry", [])}
        url = next((link["url"] for link in page.get("link", []) if link["relation"] == "next"), None)
    assert ids == set(PATIENTS)
