"""The ASGI application: settings, middleware, routes. Everything else lives in its own module."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from cds_service.auth.authenticator import build_authenticator
from cds_service.body_limit import BodySizeLimitMiddleware
from cds_service.errors import UnhandledErrorMiddleware, install_error_handlers
from cds_service.gathering.fhir_client import FhirClient
from cds_service.guideline.config import load_pathway_config
from cds_service.routes import discovery, feedback, hooks, pages
from cds_service.settings import Settings, get_settings
from cds_service.store.store import open_store

__all__ = ["create_app"]

log = logging.getLogger("cds_service")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    if settings.auth_mode == "disabled":
        log.warning(
            "AUTHENTICATION IS DISABLED (CDS_AUTH_MODE=disabled): any caller can reach patient data through "
            "this service. Use this only for local development."
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.fhir_client.aclose()
        app.state.store.close()

    app = FastAPI(
        title="Foot soft tissue calcification CDS service",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = open_store(settings)
    # The store is also the jti replay cache, shared by every worker through the database.
    app.state.authenticator = build_authenticator(settings, replay_cache=app.state.store)
    app.state.pathway = load_pathway_config(settings.pathway_config)
    app.state.fhir_client = FhirClient(
        connect_timeout=settings.fhir_connect_timeout_seconds,
        read_timeout=settings.fhir_read_timeout_seconds,
        max_pages=settings.fhir_max_pages,
        max_parallel=settings.fhir_max_parallel,
    )

    install_error_handlers(app)
    app.include_router(discovery.router)
    app.include_router(hooks.router)
    app.include_router(feedback.router)
    app.include_router(pages.router)

    # Each add_middleware wraps the previous one. CORS ends outermost so that even a 413 carries its
    # headers (a browser would otherwise report a CORS failure instead of the size limit).
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Accept"],
            max_age=600,
        )
    return app
