"""`POST /cds-services/{id}`: one hook call, awaited on the event loop and cancelled when its client leaves."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from starlette.requests import ClientDisconnect

from cds_service.explain.links import invoke_with_links
from cds_service.invocation import Invocation, invoke
from cds_service.ops.metrics import observe_cards
from cds_service.protocol.parse import parse_json
from cds_service.routes.security import call_deadline, require_caller
from cds_service.services import CdsService, service_by_id

__all__ = ["CLIENT_CLOSED_REQUEST", "router", "served_invocation"]

log = logging.getLogger("cds_service.hooks")
router = APIRouter()

# No one reads this answer: the status nginx logs for a request whose client closed the connection first.
CLIENT_CLOSED_REQUEST = 499


class _ClientGone(Exception):
    pass


def served_invocation(state: Any, service: CdsService) -> Invocation:
    """A call of `service` with what the app built at start-up (`app.state`): its FHIR client, pathway
    configuration, issued-card writer, card ids, snooze and deadline. The sandbox runs the same."""
    return Invocation(
        service=service,
        public_base_url=state.settings.public_base_url,
        fhir_client=state.fhir_client,
        pathway=state.pathway,
        recorder=state.card_recorder,
        card_ids=state.card_ids,
        snooze=state.snooze,
        deadline_seconds=state.settings.call_deadline_seconds,
    )


@router.post("/cds-services/{service_id}", dependencies=[Depends(require_caller)], response_model=None)
async def call_service(service_id: str, request: Request) -> Response:
    service = service_by_id(service_id)
    if service is None:
        raise HTTPException(404, f"no CDS service with id '{service_id}'; GET /cds-services lists them")
    try:
        body = parse_json(await request.body())
        call = served_invocation(request.app.state, service)
        links = getattr(request.app.state, "explain_links", None)  # None unless CDS_EXPLAIN_LINKS: then a "Why this card?" link
        work = (invoke(call, body, deadline=call_deadline(request)) if links is None
                else invoke_with_links(call, body, links, deadline=call_deadline(request)))
        result = await _while_connected(request, work)
        observe_cards(request.state, service.id, result["cards"])  # metrics and the access line
        # The answer is JSON already (render builds it; protocol/response.py is its tested contract):
        # serialised once, in C, without FastAPI's jsonable_encoder walk over every card.
        return Response(orjson.dumps(result), media_type="application/json")
    except (ClientDisconnect, _ClientGone):
        # An EHR that gave up (its own timeout, a closed tab) is not an error of this service.
        log.info("%s: the client closed the connection before the answer; the call was dropped", service_id)
        return Response(status_code=CLIENT_CLOSED_REQUEST)


async def _while_connected(request: Request, work: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """Runs `work`, cancelling it (its FHIR requests included) as soon as the client disconnects."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    for future in (task, watcher):
        future.add_done_callback(_retrieve)  # what no one awaits is not logged as "never retrieved"
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # this route was cancelled itself (server shutdown): so is the call
        task.cancel()
        raise
    finally:
        watcher.cancel()
    if task.done():
        return task.result()
    task.cancel()
    await asyncio.wait({task})  # let it unwind (close its FHIR connections); its outcome matters to no one
    raise _ClientGone


async def _disconnected(request: Request) -> None:
    """Returns when the server reports the client gone (the body was read already: nothing else arrives)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
