"""Run one CDS Hooks request through the hooks' own code path (`cds_service.invocation.invoke`) on a chosen
day, and answer what the service would answer over HTTP: (status, body).

The only place the tools call `invoke` (the sandbox route and `cds-service evaluate` go through here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from cds_service.card_ids import CardIds, default_card_ids
from cds_service.errors import ServiceError
from cds_service.gathering.fhir_client import FhirClient
from cds_service.guideline.config import PathwayConfig
from cds_service.invocation import CardRecorder, Invocation, invoke
from cds_service.services import SERVICES, CdsService
from cds_service.settings import DEFAULT_CALL_DEADLINE_SECONDS
from cds_service.snooze import SnoozeGate

__all__ = ["HookRun", "NoRecorder", "run_hook", "service_for_hook"]

JSON = dict[str, Any]


class NoRecorder:
    """Offline evaluation: cards are not recorded (no feedback can follow)."""

    def record_issued_cards(self, **_: Any) -> None:
        return None


@dataclass(frozen=True, slots=True)
class HookRun:
    status: int
    body: JSON


def service_for_hook(hook: str) -> CdsService | None:
    return next((service for service in SERVICES if service.hook == hook), None)


async def run_hook(
    body: JSON,
    *,
    service: CdsService,
    today: date | None,
    base_url: str,
    fhir_client: FhirClient,
    pathway: PathwayConfig,
    recorder: CardRecorder | None = None,
    card_ids: CardIds | None = None,
    snooze: SnoozeGate | None = None,
    deadline_seconds: float = DEFAULT_CALL_DEADLINE_SECONDS,
) -> HookRun:
    call = Invocation(
        service=service,
        public_base_url=base_url,
        fhir_client=fhir_client,
        pathway=pathway,
        recorder=recorder or NoRecorder(),
        card_ids=card_ids or default_card_ids(),
        snooze=snooze,
        deadline_seconds=deadline_seconds,
    )
    try:
        return HookRun(200, await invoke(call, body, today=today))
    except ServiceError as error:  # 400 / 412: the same body the HTTP route answers
        return HookRun(error.status_code, error.body())
