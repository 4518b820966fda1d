"""`POST /cds-services/{id}/explain`: the hook's body, answered with why each node fired or did not (issue 19).

Authenticated like the hook (the same `require_caller`, so the JWT's `aud` is this URL), the same body and
the same 4xx answers (errors.py); the evaluation is the hook's own (`explain.run.explain_call`). JSON by
default; `?format=fhir` or `Accept: application/fhir+json` answers a FHIR GuidanceResponse. Nothing is
recorded (no card is issued) and nothing of the explanation is logged or counted.
"""

from __future__ import annotations

from typing import Literal

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from cds_service.explain.fhir import guidance_response
from cds_service.explain.model import Explanation
from cds_service.explain.page import render_page
from cds_service.explain.run import explain_call
from cds_service.protocol.parse import parse_json
from cds_service.routes.hooks import served_invocation
from cds_service.routes.security import call_deadline, require_caller
from cds_service.services import SERVICES, service_by_id

__all__ = ["router"]

router = APIRouter()
FHIR_JSON = "application/fhir+json"
REF = "#/components/schemas/{model}"
_ERROR = {"content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}}}


def _camel(hook: str) -> str:
    return "".join(part.capitalize() for part in hook.split("-"))


# The body is read by the route itself (as the hook's, for the service's own 400s): documented here, with the
# hooks' request models that ops/openapi.py puts in the document.
_OPENAPI = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
        {"$ref": REF.format(model=f"{_camel(s.hook)}Request")} for s in SERVICES]}}}},
    "security": [{"ehrJwt": []}],
    "responses": {
        "200": {"content": {FHIR_JSON: {"schema": {"type": "object", "description": "a FHIR R4 GuidanceResponse"}}}},
        "400": {"description": "the body is not a valid request", **_ERROR},
        "401": {"description": "no valid JWT from a trusted EHR", **_ERROR},
        "404": {"description": "no CDS service with this id", **_ERROR},
        "412": {"description": "required data could not be had",
                "content": {"application/json": {"schema": {"$ref": REF.format(model="PrefetchUnavailableBody")}}}},
        "413": {"description": "the body is over CDS_MAX_BODY_BYTES", **_ERROR},
        "415": {"description": "the Content-Type is not a JSON type", **_ERROR},
    },
}


@router.post("/cds-services/{service_id}/explain", dependencies=[Depends(require_caller)],
             response_model=Explanation, tags=["CDS Hooks"], openapi_extra=_OPENAPI,
             summary="Why each pathway node fired, or did not, for this hook request (the hook's body)")
async def explain_service(service_id: str, request: Request,
                          format: Literal["json", "fhir"] | None = Query(None)) -> Response:  # noqa: A002
    service = service_by_id(service_id)
    if service is None:
        raise HTTPException(404, f"no CDS service with id '{service_id}'; GET /cds-services lists them")
    body = parse_json(await request.body())
    call = served_invocation(request.app.state, service)
    explained = await explain_call(call, body, deadline=call_deadline(request))
    if format == "fhir" or (format is None and FHIR_JSON in request.headers.get("accept", "")):
        resource = guidance_response(explained.explanation, request_id=explained.evaluation.hook_instance,
                                     patient_id=explained.evaluation.patient_id)
        return Response(orjson.dumps(resource), media_type=FHIR_JSON)
    return Response(orjson.dumps(explained.explanation.model_dump(mode="json")), media_type="application/json")


# Nothing loaded from elsewhere, no referrer (the URL is the capability), nothing cached by the browser.
_PAGE_HEADERS = {"Content-Security-Policy": "default-src 'none'; base-uri 'none'; frame-ancestors 'none'",
                 "Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@router.get("/explain/{token}", include_in_schema=False)
def explanation_page(token: str, request: Request) -> Response:
    """The "Why this card?" page (CDS_EXPLAIN_LINKS): the explanation kept in memory under this token."""
    cache = getattr(request.app.state, "explain_links", None)
    explanation = cache.get(token) if cache is not None else None
    if explanation is None:
        # Never says whether the token existed: expired, unknown, or kept by another worker look the same.
        raise HTTPException(404, "no explanation under this link: it has expired (CDS_EXPLAIN_LINKS_TTL_SECONDS)")
    return Response(render_page(explanation), media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)
