"""One access log line and the HTTP metrics per request, and the request id.

The line names the method, the route template (`/cds-services/{service_id}`, never the raw path, and no
query string), the status, the duration, the number of cards a hook call returned, and a request id: the
caller's `X-Request-ID` when it is a plain token, otherwise a new one. The id is sent back in the
`X-Request-ID` response header and is on every log line written while the request is handled.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cds_service.ops.logs import REQUEST_ID
from cds_service.ops.metrics import observe_http

__all__ = ["REQUEST_ID_HEADER", "AccessLogMiddleware"]

log = logging.getLogger("cds_service.access")

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is kept only if it is a short token (a UUID, a trace id): anything else could smuggle text
# (or a patient id) into the logs, so it is replaced.
ACCEPTED_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
NO_ROUTE = "(no route)"


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if ACCEPTED_REQUEST_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else NO_ROUTE


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = REQUEST_ID.set(request_id)
        # request.state is backed by scope["state"]: the hook route leaves the number of cards there.
        state = scope.setdefault("state", {})
        status = 500  # if the app fails before answering, the server answers 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = _route_template(scope)
            method = scope["method"]
            service_id = scope.get("path_params", {}).get("service_id")
            cards = state.get("cards_returned")
            observe_http(method=method, route=route, status=status, seconds=seconds, service_id=service_id)
            fields = {
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
                "request_id": request_id,
            }
            if cards is not None:
                fields["cards"] = cards
            log.info(
                "%s %s %d %.1f ms%s", method, route, status, seconds * 1000,
                f" cards={cards}" if cards is not None else "", extra=fields,
            )
            REQUEST_ID.reset(token)
