"""Run a fixture request through the evaluator path (`cds_service.invocation.invoke`) with a given day.

`invoke` is async; `run_invoke` runs it from synchronous code. Tests call `invoke` through this module only,
so a change of its signature touches one file.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from cds_service.gathering.fhir_client import FhirClient
from cds_service.guideline.config import load_pathway_config
from cds_service.invocation import Invocation, invoke
from cds_service.services import SERVICES
from fhir_fixtures.hook_requests import build_request

__all__ = ["BASE_URL", "CASES", "SERVICE_BY_HOOK", "RecordedCards", "TEST_SERVER_DEADLINE_SECONDS", "run_fixture", "run_invoke", "run_request"]

JSON = dict[str, Any]

BASE_URL = "http://cds.example.org"
SERVICE_BY_HOOK = {service.hook: service for service in SERVICES}


class RecordedCards:
    """Stands in for the store: keeps what `invoke` records, so a test can check it."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def record_issued_cards(self, *, service_id: str, hook_instance: str, patient_id: str, cards: list[Any]) -> None:
        self.calls.append({"service_id": service_id, "hook_instance": hook_instance, "cards": len(cards)})


def run_invoke(call: Invocation, body: Any, *, today: date | None = None) -> JSON:
    """`invoke(call, body)` from synchronous code: one event loop for the call."""
    return asyncio.run(invoke(call, body, today=today))


# The in-memory FHIR test server searches by scanning (seconds for a big chart paged at 5-20): its own
# slowness is not what these tests check, so their calls get this deadline instead of the production one.
# The deadline itself is tested against hostile servers (test_gathering_hostile.py, test_hooks_served.py).
TEST_SERVER_DEADLINE_SECONDS = 120.0


def run_request(request: JSON, today: date, fhir_client: FhirClient | None = None) -> JSON:
    """The response to any hook request (its `hook` names the service), evaluated on `today`, through the
    whole call path. Without `fhir_client` a fresh client is used: with full prefetch it is never called."""
    call = Invocation(
        service=SERVICE_BY_HOOK[request["hook"]],
        public_base_url=BASE_URL,
        fhir_client=fhir_client or FhirClient(),
        pathway=load_pathway_config(),
        recorder=RecordedCards(),
        deadline_seconds=TEST_SERVER_DEADLINE_SECONDS,
    )
    return run_invoke(call, request, today=today)


def run_fixture(patient: str, hook: str, today: date) -> tuple[JSON, JSON]:
    """(request, response) for a fixture patient and hook, evaluated on `today`; the request carries full
    prefetch and no fhirServer, so any FHIR call would fail the test."""
    request = build_request(patient, hook, today)
    return request, run_request(request, today)


def _cases() -> list[tuple[str, str]]:
    from tests.support.e2e_expectations import EXPECTED

    return [(patient, hook) for patient, hooks in EXPECTED.items() for hook in hooks]


CASES = _cases()
