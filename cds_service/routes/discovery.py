"""`GET /cds-services`: generated from the service declarations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from cds_service.routes.security import require_caller
from cds_service.services import discovery_document

router = APIRouter()


@router.get("/cds-services", dependencies=[Depends(require_caller)])
def discovery() -> dict[str, Any]:
    return discovery_document()
