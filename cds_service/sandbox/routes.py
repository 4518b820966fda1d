"""`GET /sandbox`: a page for testers, served by the service itself (no CDN: it works on a closed network).

    GET  /sandbox                 the page (HTML; its script and style are served below)
    GET  /sandbox/static/{name}   sandbox.js, sandbox.css
    GET  /sandbox/api/fixtures    the ready-made patients (CDS_SANDBOX_PATIENTS), their stories and draft orders
    POST /sandbox/api/run         build the request, run it through the hooks' own code path on the chosen
                                  day (cards recorded, snooze applied, as a hook call), answer
                                  {serviceId, status, request, response, detailHtml, explanation}: the
                                  explanation (the "Why?" view) is of the same evaluation as the cards

Feedback goes from the page to the real `POST /cds-services/{id}/feedback`. Only mounted when the sandbox
is on (CDS_SANDBOX_ENABLED; by default on when auth is disabled, off when it is required).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from cds_service.explain.run import explain_recorded
from cds_service.protocol.parse import parse_json
from cds_service.routes.hooks import served_invocation
from cds_service.sandbox.api import build_request, parse_run_input, presentable
from cds_service.tools.run import service_for_hook

__all__ = ["CONTENT_SECURITY_POLICY", "router"]

# A testers' tool, not part of the integration API: left out of /openapi.json.
router = APIRouter(prefix="/sandbox", include_in_schema=False)

# Everything the page loads comes from this service; nothing inline, no frames.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
STATIC = {"sandbox.js": "text/javascript; charset=utf-8", "sandbox.css": "text/css; charset=utf-8"}
_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def _static(name: str) -> str:
    return resources.files("cds_service.sandbox").joinpath("static", name).read_text(encoding="utf-8")


@router.get("", response_class=HTMLResponse)
def page() -> HTMLResponse:
    return HTMLResponse(_static("sandbox.html"), headers=_HEADERS)


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC:
        raise HTTPException(404, f"no sandbox file '{name}'")
    return Response(_static(name), media_type=STATIC[name], headers=_HEADERS)


@router.get("/api/fixtures")
def fixtures(request: Request) -> dict[str, Any]:
    return {"fixtures": request.app.state.sandbox_samples.listing}


@router.post("/api/run")
async def run(request: Request) -> dict[str, Any]:
    run_input = parse_run_input(parse_json(await request.body()))
    body = build_request(run_input, request.app.state.sandbox_samples)
    service = service_for_hook(body["hook"])  # the request's own, or the one chosen: build_request set it
    assert service is not None  # build_request checked the hook
    # The hooks' own call, with the app's FHIR client, writer, card ids, snooze and deadline; only the day differs.
    result, explanation = await explain_recorded(served_invocation(request.app.state, service), body,
                                                 today=run_input.today)
    return {
        "serviceId": service.id,
        "status": result.status,
        "request": body,
        "response": result.body,
        "detailHtml": presentable(result.body) if result.status == 200 else {},
        "explanation": explanation.model_dump(mode="json") if explanation is not None else None,
    }
