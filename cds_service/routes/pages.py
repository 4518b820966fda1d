"""Public documentation: a page per pathway node (the cards' `source.url`), an index, and the override-reason
CodeSystem the cards' `overrideReasons` point to."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse

from cds_service.publication.urls import plan_definition_url
from cds_service.render.pages import index_page, node_page, override_reason_code_system

router = APIRouter()


@router.get("/pathway", response_class=HTMLResponse)
def pathway_index(request: Request) -> HTMLResponse:
    return HTMLResponse(index_page(request.app.state.settings.public_base_url, request.app.state.pathway))


@router.get("/pathway/{node_id}", response_class=HTMLResponse)
def pathway_node(node_id: str, request: Request) -> HTMLResponse:
    base = request.app.state.settings.public_base_url
    page = node_page(node_id, base, request.app.state.pathway, fhir_url=plan_definition_url(base, node_id))
    if page is None:
        raise HTTPException(404, f"no pathway node '{node_id}'; /pathway lists them")
    return HTMLResponse(page)


@router.get("/override-reason")
def override_reasons(request: Request) -> JSONResponse:
    body = override_reason_code_system(request.app.state.settings.public_base_url, request.app.state.pathway)
    return JSONResponse(body, media_type="application/fhir+json")
