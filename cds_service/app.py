"""The ASGI application: settings, middleware, routes. Everything else lives in its own module."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from cds_service import __version__
from cds_service.auth.authenticator import build_authenticator
from cds_service.body_limit import BodyLimitsMiddleware
from cds_service.errors import UnhandledErrorMiddleware, install_error_handlers
from cds_service.explain.links import ExplanationCache
from cds_service.gathering.fhir_client import FhirClient
from cds_service.guideline.config import load_pathway_config
from cds_service.ops import health, metrics
from cds_service.ops.access import AccessLogMiddleware
from cds_service.ops.openapi import install_openapi
from cds_service.ops.startup import load_card_templates
from cds_service.routes import discovery, explain, feedback, fhir, hooks, pages
from cds_service.sandbox import routes as sandbox
from cds_service.sandbox.samples import load_samples
from cds_service.settings import Settings, get_settings
from cds_service.snooze import SnoozeGate
from cds_service.store.migrate import current_revision, head_revision
from cds_service.store.snooze import SnoozeStore
from cds_service.store.store import Store, open_store
from cds_service.store.writer import IssuedCardWriter

__all__ = ["create_app"]

log = logging.getLogger("cds_service")


def _schema_revision(store: Store) -> Callable[[], str | None]:
    """What /readyz calls for the database's current schema revision (ops/health does not import the
    migration module: the probe reads only what start-up hands it)."""

    def current() -> str | None:
        with store.engine.connect() as connection:
            return current_revision(connection)

    return current


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
        app.state.snooze.store.close()  # its queued writes first, on the store's engine
        app.state.card_recorder.close()  # writes the issued cards still queued
        app.state.store.close()

    app = FastAPI(
        title="Foot soft tissue calcification CDS service",
        version=__version__,
        # /docs loads Swagger UI from a CDN, so it is off unless CDS_API_DOCS says otherwise.
        docs_url="/docs" if settings.api_docs else None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    install_openapi(app)
    app.state.settings = settings
    # Every card and page template compiled now: a worker that could not render a card does not start.
    app.state.card_templates = load_card_templates()
    app.state.store = open_store(settings)
    # /readyz: the schema revision the service needs (read once) and how to read the database's.
    app.state.schema_head = head_revision()
    app.state.schema_revision = _schema_revision(app.state.store)
    app.state.card_ids = app.state.store.card_ids  # signed card uuids, verified by feedback without the database
    app.state.card_recorder = IssuedCardWriter(app.state.store)  # issued cards written behind the response
    # The store is also the jti replay cache, shared by every worker through the database.
    app.state.authenticator = build_authenticator(settings, replay_cache=app.state.store)
    app.state.pathway = load_pathway_config(settings.pathway_config)
    # Issue 19's optional "Why this card?" links: explanations in this process's memory only, briefly.
    app.state.explain_links = ExplanationCache(settings.explain_links_ttl_seconds) if settings.explain_links else None
    app.state.snooze = SnoozeGate(SnoozeStore.beside(app.state.store), app.state.pathway)
    app.state.fhir_client = FhirClient(
        connect_timeout=settings.fhir_connect_timeout_seconds,
        read_timeout=settings.fhir_read_timeout_seconds,
        max_pages=settings.fhir_max_pages,
        max_parallel=settings.fhir_max_parallel,
        on_request=metrics.observe_fhir_request,  # /metrics: FHIR requests by outcome, with latency
    )

    install_error_handlers(app)
    app.include_router(discovery.router)
    app.include_router(hooks.router)
    app.include_router(explain.router)  # issue 19: why each node fired or not, same auth and body as the hook
    app.include_router(feedback.router)
    app.include_router(pages.router)
    app.include_router(fhir.router)  # the pathway as CPG-on-FHIR, and PlanDefinition/$apply
    app.include_router(health.router)
    if settings.metrics_enabled:
        app.include_router(metrics.router)
    if settings.sandbox_on:
        app.state.sandbox_samples = load_samples(settings.sandbox_patients)  # given from outside cds_service
        app.include_router(sandbox.router)
        if settings.auth_mode == "required":
            log.warning(
                "the sandbox page (/sandbox) is on while authentication is required: it runs hooks without a "
                "token and fetches from any FHIR server it is given. Keep it off (CDS_SANDBOX_ENABLED=false) "
                "where real patient data is reachable."
            )

    # Each add_middleware wraps the previous one. CORS ends outermost so that even a 413 carries its
    # headers (a browser would otherwise report a CORS failure instead of the size limit).
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(BodyLimitsMiddleware, max_bytes=settings.max_body_bytes)  # 413 and 415
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Accept"],
            max_age=600,
        )
    # Outermost: the access line and the request id cover every answer, 413s and CORS preflights included.
    app.add_middleware(AccessLogMiddleware)
    return app
