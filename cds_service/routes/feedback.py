"""`POST /cds-services/{id}/feedback`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from cds_service.guideline.nodes import pathway_spec
from cds_service.ops.metrics import observe_feedback
from cds_service.protocol.feedback import with_override_displays
from cds_service.protocol.parse import parse_feedback, parse_json
from cds_service.render.cards import override_reason_system
from cds_service.routes.security import require_caller
from cds_service.services import service_by_id

router = APIRouter()


@router.post("/cds-services/{service_id}/feedback", dependencies=[Depends(require_caller)])
async def feedback(service_id: str, request: Request) -> dict[str, Any]:
    if service_by_id(service_id) is None:
        raise HTTPException(404, f"no CDS service with id '{service_id}'; GET /cds-services lists them")
    entries = parse_feedback(parse_json(await request.body()))
    # An override reason from our own CodeSystem sent as system and code only gets its display from it.
    system = override_reason_system(request.app.state.settings.public_base_url)
    entries = with_override_displays(entries, system=system, displays=pathway_spec().override_reasons)
    # 200 only once the store has committed the whole batch (or found it already stored: repeats are kept once).
    new = await run_in_threadpool(request.app.state.store.record_feedback, service_id=service_id, feedback=entries)
    await run_in_threadpool(observe_feedback, request.app.state.store.engine, entries.feedback)  # /metrics
    # Overrides with a reason snooze their node for the patient (cds_service.snooze); after the commit above.
    # A snooze is found through the issued card's row, which this process may still hold in its writer's
    # queue (it lingers to batch: store/writer.py): written first.
    flush = getattr(request.app.state.card_recorder, "flush", None)
    if flush is not None and any(entry.outcome == "overridden" for entry in entries.feedback):
        await run_in_threadpool(flush, 10.0)
    await run_in_threadpool(request.app.state.snooze.store.record_overrides, service_id=service_id, feedback=entries)
    return {"stored": len(entries.feedback), "new": new}
