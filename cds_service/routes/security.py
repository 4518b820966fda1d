"""The one dependency every protected route takes: a verified caller, or a bare 401.

It also starts the call's deadline (`CDS_CALL_DEADLINE_SECONDS`): a hook call's time counts from here, so
the key-set download a token may need fits in the same deadline as the FHIR requests that follow.
"""

from __future__ import annotations

import logging

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from cds_service.auth.authenticator import AllowAll, Unauthorized
from cds_service.gathering.deadline import Deadline
from cds_service.ops.metrics import observe_auth_failure

__all__ = ["call_deadline", "require_caller"]

log = logging.getLogger("cds_service.auth")


async def require_caller(request: Request) -> None:
    state = request.app.state
    deadline = request.state.deadline = Deadline.after(state.settings.call_deadline_seconds)
    authenticator = state.authenticator
    if isinstance(authenticator, AllowAll):
        return  # development: nothing to check, and no thread to hop to
    # `aud` must be the exact URL called, as the client knows it: the public base URL plus the path.
    url = state.settings.public_base_url + request.url.path
    try:
        # Every Authorization header, not the first: two of them are refused, not resolved. A thread: the
        # check writes the jti to the database and may download a key set.
        await run_in_threadpool(
            authenticator.verify,
            url=url,
            authorization=request.headers.getlist("authorization"),
            budget_seconds=deadline.remaining(),
        )
    except Unauthorized as exc:
        log.warning("401 on %s %s: %s", request.method, request.url.path, exc.reason)
        observe_auth_failure(exc.reason)
        raise HTTPException(401, "unauthorized", headers={"WWW-Authenticate": "Bearer"}) from None


def call_deadline(request: Request) -> Deadline | None:
    """The deadline `require_caller` started for this request."""
    return getattr(request.state, "deadline", None)
