"""`POST /cds-services/{id}`: one hook call."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from cds_service.invocation import Invocation, invoke
from cds_service.ops.metrics import observe_cards
from cds_service.protocol.parse import parse_json
from cds_service.routes.security import require_caller
from cds_service.services import service_by_id

router = APIRouter()


@router.post("/cds-services/{service_id}", dependencies=[Depends(require_caller)])
async def call_service(service_id: str, request: Request) -> dict[str, Any]:
    service = service_by_id(service_id)
    if service is None:
        raise HTTPException(404, f"no CDS service with id '{service_id}'; GET /cds-services lists them")
    body = parse_json(await request.body())
    state = request.app.state
    call = Invocation(
        service=service,
        public_base_url=state.settings.public_base_url,
        fhir_client=state.fhir_client,
        pathway=state.pathway,
        recorder=state.card_recorder,
        card_ids=state.card_ids,
        snooze=state.snooze,
    )
    # Gathering blocks on the FHIR server (requests): run it off the event loop.
    result = await run_in_threadpool(invoke, call, body)
    observe_cards(request.state, service.id, result["cards"])  # metrics and the access line
    return result
