"""The one dependency every protected route takes: a verified caller, or a bare 401."""

from __future__ import annotations

import logging

from fastapi import HTTPException, Request

from cds_service.auth.authenticator import Unauthorized
from cds_service.ops.metrics import observe_auth_failure

__all__ = ["require_caller"]

log = logging.getLogger("cds_service.auth")


def require_caller(request: Request) -> None:
    settings = request.app.state.settings
    # `aud` must be the exact URL called, as the client knows it: the public base URL plus the path.
    url = settings.public_base_url + request.url.path
    try:
        # Every Authorization header, not the first: two of them are refused, not resolved.
        request.app.state.authenticator.verify(url=url, authorization=request.headers.getlist("authorization"))
    except Unauthorized as exc:
        log.warning("401 on %s %s: %s", request.method, request.url.path, exc.reason)
        observe_auth_failure(exc.reason)
        raise HTTPException(401, "unauthorized", headers={"WWW-Authenticate": "Bearer"}) from None
