"""Run one CDS Hooks request through the hooks' own code path (`cds_service.invocation.invoke`) on a chosen
day, and answer what the service would answer over HTTP: (status, body).

The only place the tools call `invoke` (the sandbox route and `cds-service evaluate` go through here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from cds_service.errors import ServiceError
from cds_service.invocation import Invocation, invoke
from cds_service.services import SERVICES, CdsService

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


async def run_hook(call: Invocation, body: JSON, *, today: date | None) -> HookRun:
    """What the service would answer over HTTP: 200 and the cards, or the 400/412 body."""
    try:
        return HookRun(200, await invoke(call, body, today=today))
    except ServiceError as error:  # 400 / 412: the same body the HTTP route answers
        return HookRun(error.status_code, error.body())
