"""`GET /healthz` (liveness) and `GET /readyz` (readiness), for load balancers and Kubernetes probes.

Liveness checks nothing but that the process answers: restarting a pod because its database is down would
not bring the database back. Readiness checks what a call needs: the database answers and its schema is at
the head migration, the trusted clients, the pathway configuration and the card templates are loaded.
Neither needs a token, and neither says anything about patients. What the checks read was put on the app's
state at start-up (`create_app`): this module imports neither the store nor its migrations.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from cds_service import __version__
from cds_service.auth.authenticator import AllowAll, JwtAuthenticator
from cds_service.guideline.config import PathwayConfig

__all__ = ["Health", "Readiness", "readiness_checks", "router"]

log = logging.getLogger("cds_service.health")

OK = "ok"


class Health(BaseModel):
    status: str
    version: str


class Readiness(BaseModel):
    status: str  # "ready" or "not ready"
    version: str
    # check name -> "ok" or what is wrong with it
    checks: dict[str, str]
    failing: list[str]


def _database(state: Any) -> str:
    schema_revision = getattr(state, "schema_revision", None)
    if schema_revision is None:
        return "not loaded"
    try:
        current = schema_revision()
    except SQLAlchemyError as exc:
        # The exception's text may hold the database URL; its type is enough to act on.
        log.warning("readiness: database check failed: %s", type(exc).__name__)
        return f"database does not answer ({type(exc).__name__})"
    head = getattr(state, "schema_head", None)
    if current != head:
        return f"schema at revision {current or '(none)'}, the service needs {head}: run `cds-service db upgrade`"
    return OK


def _trusted_clients(state: Any) -> str:
    authenticator = getattr(state, "authenticator", None)
    if isinstance(authenticator, AllowAll):
        return "ok (authentication disabled)"
    if isinstance(authenticator, JwtAuthenticator):
        return OK
    return "not loaded"


def _pathway(state: Any) -> str:
    return OK if isinstance(getattr(state, "pathway", None), PathwayConfig) else "not loaded"


def _card_templates(state: Any) -> str:
    loaded = getattr(state, "card_templates", 0)
    return OK if isinstance(loaded, int) and loaded > 0 else "not loaded"


def readiness_checks(state: Any) -> dict[str, str]:
    return {
        "database": _database(state),
        "trusted_clients": _trusted_clients(state),
        "pathway_config": _pathway(state),
        "card_templates": _card_templates(state),
    }


router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
def healthz() -> Health:
    return Health(status="ok", version=__version__)


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: database at the head migration, trusted clients, pathway configuration and card templates loaded",
    responses={503: {"model": Readiness, "description": "a check failed; `failing` names it"}},
)
def readyz(request: Request) -> Any:
    checks = readiness_checks(request.app.state)
    failing = [name for name, result in checks.items() if not result.startswith(OK)]
    body = Readiness(status="not ready" if failing else "ready", version=__version__, checks=checks, failing=failing)
    return JSONResponse(body.model_dump(), status_code=503 if failing else 200)
