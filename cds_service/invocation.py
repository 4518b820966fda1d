"""One hook call, step by step: protocol -> data gathering -> facts -> pathway rules -> cards -> response.

Each step is its own module and is called here, in order; no step calls back into an earlier one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from cds_service.facts.extract import build_facts
from cds_service.facts.parse import to_clinical_data
from cds_service.gathering.fhir_client import FhirClient
from cds_service.gathering.gather import gather
from cds_service.guideline.config import PathwayConfig
from cds_service.pathway.evaluate import evaluate
from cds_service.protocol.parse import parse_hook_request
from cds_service.protocol.response import Card, CdsResponse
from cds_service.render.cards import RenderContext, render_cards
from cds_service.services import CdsService

__all__ = ["DATA_ISSUES_EXTENSION", "CardRecorder", "Invocation", "invoke"]

log = logging.getLogger("cds_service.invocation")

# Globally unique extension key (spec §7) under which the response lists input it could not use.
DATA_ISSUES_EXTENSION = "org.foot-calcification-cds.data-issues"


class CardRecorder(Protocol):
    def record_issued_cards(
        self, *, service_id: str, hook_instance: str, patient_id: str, cards: list[Card]
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Invocation:
    service: CdsService
    public_base_url: str
    fhir_client: FhirClient
    pathway: PathwayConfig
    recorder: CardRecorder


def invoke(call: Invocation, body: Any, *, today: date | None = None) -> dict[str, Any]:
    request, context = parse_hook_request(body, call.service.hook)
    day = today or date.today()
    # The evaluation day and the lookbacks also bound what gathering fetches (its date windows).
    raw = gather(request, context, call.fhir_client, today=day, config=call.pathway)
    data = to_clinical_data(raw, context.patientId)
    facts = build_facts(data, hook=call.service.hook, today=day, config=call.pathway)
    results = evaluate(facts, call.pathway)
    cards = render_cards(
        results,
        facts,
        RenderContext(base_url=call.public_base_url, service_id=call.service.id, hook_instance=request.hookInstance),
    )
    extension = None
    if data.issues:
        # Resource ids and the problem only; the log line carries no patient identifier either.
        log.warning("%d input resource(s) left out of the evaluation: %s", len(data.issues),
                    "; ".join(f"{i.where}: {i.problem}" for i in data.issues[:10]))
        extension = {DATA_ISSUES_EXTENSION: [issue.to_json() for issue in data.issues]}
    response = CdsResponse(cards=tuple(cards), extension=extension)
    if cards:
        try:
            call.recorder.record_issued_cards(
                service_id=call.service.id, hook_instance=request.hookInstance, patient_id=context.patientId, cards=cards
            )
        except Exception as exc:  # noqa: BLE001 - the clinician gets the cards even when the store is down
            log.error("issued cards not recorded (%s); feedback on them will be refused", type(exc).__name__)
    return response.to_json()
