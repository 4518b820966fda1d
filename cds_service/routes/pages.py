"""Human pages: one per pathway node (the cards' `source.url`), and an index."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from cds_service.render.pages import index_page, node_page

router = APIRouter()


@router.get("/pathway", response_class=HTMLResponse)
def pathway_index(request: Request) -> HTMLResponse:
    return HTMLResponse(index_page(request.app.state.settings.public_base_url))


@router.get("/pathway/{node_id}", response_class=HTMLResponse)
def pathway_node(node_id: str, request: Request) -> HTMLResponse:
    page = node_page(node_id, request.app.state.settings.public_base_url)
    if page is None:
        raise HTTPException(404, f"no pathway node '{node_id}'; /pathway lists them")
    return HTMLResponse(page)
